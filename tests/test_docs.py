"""Docs as tests: every CLI command and option, every setting and every JSON key is documented.

Fails when someone adds a command, an option, a setting, a category or a key of the
``analyze --format json`` contract without writing it down in README.md or docs/*.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from cimedic.interfaces.cli import render
from cimedic.interfaces.cli.app import app
from cimedic.model import (
    Category,
    CauseMatch,
    Diagnosis,
    ErrorLine,
    Excerpt,
    FailedStep,
    LogFormat,
    LogInfo,
)
from cimedic.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _sections(text: str) -> list[str]:
    """Markdown text cut at headings (``#`` lines outside code fences)."""
    out: list[str] = []
    current: list[str] = []
    fenced = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if not fenced and re.match(r"#{1,6} ", line):
            out.append("\n".join(current))
            current = []
        current.append(line)
    out.append("\n".join(current))
    return out


ALL_DOCS = "\n".join(_read(p) for p in DOC_FILES)
ALL_SECTIONS = [s for p in DOC_FILES for s in _sections(_read(p))]


def _walk(cmd: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    if getattr(cmd, "hidden", False):
        return
    yield path, cmd
    for name, sub in sorted((getattr(cmd, "commands", None) or {}).items()):
        yield from _walk(sub, (*path, name))


COMMANDS = list(_walk(typer.main.get_command(app), ("cimedic",)))
OPTIONS = [
    (path, opt)
    for path, cmd in COMMANDS
    for param in cmd.params
    if getattr(param, "param_type_name", "") == "option" and not getattr(param, "hidden", False)
    for opt in [*param.opts, *param.secondary_opts]
    if opt.startswith("--") and opt != "--help"
]


def test_the_walk_finds_the_known_commands() -> None:
    names = {" ".join(p) for p, _ in COMMANDS}
    assert {"cimedic analyze", "cimedic causes list", "cimedic causes show", "cimedic causes test"} <= names
    assert (("cimedic", "analyze"), "--log-format") in OPTIONS


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=lambda p: " ".join(p))
def test_command_is_documented(path: tuple[str, ...]) -> None:
    name = " ".join(path)
    assert name in ALL_DOCS, f"command `{name}` is not mentioned in README.md or docs/*.md"


@pytest.mark.parametrize(
    ("path", "option"), OPTIONS, ids=lambda v: " ".join(v) if isinstance(v, tuple) else v
)
def test_option_is_documented(path: tuple[str, ...], option: str) -> None:
    name = " ".join(path)
    assert re.search(rf"{re.escape(option)}(?![\w-])", ALL_DOCS), (
        f"option {option} of `{name}` is undocumented"
    )
    near = [s for s in ALL_SECTIONS if name in s and re.search(rf"{re.escape(option)}(?![\w-])", s)]
    assert near, f"option {option} is not documented in a section that mentions `{name}`"


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_setting_is_documented(field: str) -> None:
    text = _read(ROOT / "docs" / "configuration.md")
    assert f"`{field}`" in text, f"setting {field} is not in docs/configuration.md"
    env = f"CIMEDIC_{field.upper()}"
    assert env in text, f"environment variable {env} is not in docs/configuration.md"


def _leaf_keys(value: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(value, dict):
        for key, sub in value.items():
            dotted = f"{prefix}.{key}" if prefix else key
            yield dotted
            yield from _leaf_keys(sub, dotted)
    elif isinstance(value, list):
        for item in value[:1]:
            yield from _leaf_keys(item, f"{prefix}[]")


def _full_diagnosis() -> Diagnosis:
    return Diagnosis(
        log=LogInfo(path="x.log", format=LogFormat.PLAIN, lines=3, bytes=10),
        failed_step=FailedStep(name="test", start_line=1, end_line=3),
        error_lines=(ErrorLine(line=2, text="boom", score=9.0),),
        excerpt=Excerpt(start_line=2, end_line=2),
        category=Category.TEST,
        transient=False,
        confidence=0.9,
        signature="0" * 32,
        cause=CauseMatch(id="c", name="C", fix="f", category=Category.TEST, transient=False, line=2),
        summary="test failure",
    )


@pytest.mark.parametrize("key", sorted(set(_leaf_keys(render.contract(_full_diagnosis())))))
def test_json_key_is_documented(key: str) -> None:
    text = _read(ROOT / "docs" / "analyze-json.md")
    assert f"`{key}`" in text, f"JSON key {key} of `analyze --format json` is not in docs/analyze-json.md"


@pytest.mark.parametrize("category", [c.value for c in Category])
def test_category_is_documented(category: str) -> None:
    assert f"`{category}`" in _read(ROOT / "docs" / "analyze-json.md")


@pytest.mark.parametrize("fmt", [f.value for f in LogFormat])
def test_log_format_is_documented(fmt: str) -> None:
    assert f"`{fmt}`" in _read(ROOT / "README.md")


def test_doc_links_resolve() -> None:
    """Relative links in README.md and docs/*.md point at files that exist (or are being written)."""
    missing = []
    for doc in DOC_FILES:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", _read(doc)):
            if re.match(r"[a-z]+:", target):
                continue
            if not (doc.parent / target).exists():
                missing.append(f"{doc.relative_to(ROOT)} -> {target}")
    assert not missing, f"broken links: {missing}"


def test_files_named_in_the_readme_exist() -> None:
    """The quick start's example log and the other repository paths the README names exist."""
    readme = _read(ROOT / "README.md")
    named = set(re.findall(r"(?<![\w/.-])((?:examples|docs|bench|src|tests|\.ci)/[\w./-]*\w)", readme))
    assert any(n.startswith("examples/") for n in named), "the quick start should analyse a bundled example"
    missing = sorted(n for n in named if "*" not in n and not (ROOT / n).exists())
    assert not missing, f"README.md names paths that do not exist: {missing}"
