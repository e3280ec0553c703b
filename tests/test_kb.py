"""The bundled knowledge base of failure causes: schema, coverage, examples, loader and CLI.

Every bundled cause has realistic positive and near-miss negative examples in
``tests/fixtures/kb_examples.yaml``; they are matched with the real engine
(:class:`~cimedic.analysis.diagnosis.kb.CompiledKB`, Hyperscan when installed) and with
plain Python ``re``, which must agree.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from cimedic.analysis.diagnosis.kb import CompiledKB
from cimedic.inputs.kb import bundled_dir, load_kb
from cimedic.model import Category, FailureCause

EXAMPLES_PATH = Path(__file__).parent / "fixtures" / "kb_examples.yaml"
MIN_CAUSES = 60
EXCLUDED_CATEGORIES = {Category.UNKNOWN, Category.NONE}
TELUS_URL = "https://github.com/devopsirc/telus-flaky-job-failures-prioritization"
CODE_FAULTS = {
    Category.COMPILATION,
    Category.TEST,
    Category.LINT,
    Category.TYPE_CHECK,
    Category.SECURITY_SCAN,
}
FLAKY_TEST_CAUSES = {
    "karma-browser-disconnected",
    "flaky-json-decode-in-tests",
}  # tests failed, re-run passes

# Lines seen in almost every passing log: no bundled cause may match them.
BENIGN_LINES = [
    "##[group]Run actions/checkout@v4",
    "Run actions/setup-python@v5",
    "Successfully installed requests-2.31.0 urllib3-2.1.0",
    "npm WARN deprecated inflight@1.0.6: This module is not supported, and leaks memory.",
    "added 1287 packages, and audited 1288 packages in 32s",
    "found 0 vulnerabilities",
    "==================== 120 passed, 3 skipped in 12.34s ====================",
    "[INFO] BUILD SUCCESS",
    "BUILD SUCCESSFUL in 42s",
    "ok  \tgithub.com/acme/app/pkg\t0.123s",
    "Tests:       42 passed, 42 total",
    "test result: ok. 12 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out",
    "Post job cleanup.",
    "Cleaning up orphan processes",
    "##[endgroup]",
    "Downloading https://files.pythonhosted.org/packages/ab/cd/numpy-1.26.2.tar.gz (15.7 MB)",
    "Receiving objects: 100% (1234/1234), 2.31 MiB | 12.00 MiB/s, done.",
    "Job succeeded",
    "Finished: SUCCESS",
    "warning: unused variable: `x`",
    "DeprecationWarning: pkg_resources is deprecated as an API",
    "+ echo 'error: this is only an echo'",
    "$ make test",
    "All checks passed!",
    "Success: no issues found in 42 source files",
]


# --- helpers -----------------------------------------------------------------------------


@cache
def _bundled() -> tuple[FailureCause, ...]:
    loaded = load_kb()
    assert not loaded.problems, loaded.problems
    return tuple(loaded.causes)


@cache
def _kb() -> CompiledKB:
    return CompiledKB(list(_bundled()))


@cache
def _examples() -> dict[str, dict[str, list[str]]]:
    data = yaml.safe_load(EXAMPLES_PATH.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _is_multiline(pattern: str) -> bool:
    return "\\n" in pattern or "\n" in pattern or pattern.startswith(("(?m)", "(?s)"))


def _window(text: str) -> list[tuple[int, str]]:
    return [(i + 1, line) for i, line in enumerate(text.split("\n"))]


def _engine_matches(text: str) -> set[str]:
    """Cause ids the engine finds in ``text``: per line (single-line) plus the window."""
    kb = _kb()
    found: set[str] = set()
    for line in text.split("\n"):
        found.update(kb.match_line(line.encode("utf-8")))
    if "\n" in text:
        found.update(hit.cause_id for hit in kb.match_window(_window(text)))
    return found


@cache
def _re_patterns() -> tuple[list[tuple[str, re.Pattern[bytes]]], list[tuple[str, re.Pattern[str]]]]:
    single: list[tuple[str, re.Pattern[bytes]]] = []
    multi: list[tuple[str, re.Pattern[str]]] = []
    for cause in _bundled():
        for pattern in cause.patterns:
            if _is_multiline(pattern):
                multi.append((cause.id, re.compile(pattern, re.M)))
            else:
                flags = re.I if pattern.startswith("(?i)") else 0
                body = pattern[4:] if flags else pattern
                single.append((cause.id, re.compile(body.encode(), flags)))
    return single, multi


def _re_matches(text: str) -> set[str]:
    """The same with plain Python ``re`` (the reference semantics)."""
    single, multi = _re_patterns()
    lines = [line.encode("utf-8") for line in text.split("\n")]
    found = {cid for cid, rx in single if any(rx.search(line) for line in lines)}
    if "\n" in text:
        found.update(cid for cid, rx in multi if rx.search(text))
    return found


def _example_cases(kind: str) -> list[Any]:
    cases = []
    for cid, entry in sorted(_examples().items()):
        for i, text in enumerate(entry.get(kind) or []):
            cases.append(pytest.param(cid, text, id=f"{cid}-{kind[:3]}{i}"))
    return cases


# --- schema and coverage ------------------------------------------------------------------


def test_bundled_kb_loads_without_problems() -> None:
    assert len(_bundled()) >= MIN_CAUSES


def test_ids_are_unique_across_bundled_files() -> None:
    ids: Counter[str] = Counter()
    for path in sorted(bundled_dir().glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert isinstance(doc, dict) and isinstance(doc.get("causes"), list), (
            f"{path.name}: needs a causes: list"
        )
        ids.update(entry["id"] for entry in doc["causes"])
    assert [cid for cid, n in ids.items() if n > 1] == []
    assert len(ids) == len(_bundled())


def test_every_category_has_a_cause() -> None:
    counts = Counter(c.category for c in _bundled())
    missing = [c.value for c in Category if c not in EXCLUDED_CATEGORIES and counts[c] == 0]
    assert missing == []
    assert not any(c.category in EXCLUDED_CATEGORIES for c in _bundled())


@pytest.mark.parametrize("cause", _bundled(), ids=lambda c: c.id)
def test_cause_is_complete(cause: FailureCause) -> None:
    assert re.fullmatch(r"[a-z0-9][a-z0-9_.-]*", cause.id)
    assert cause.name.strip() and cause.description.strip() and cause.fix.strip()
    assert cause.references, "a cause names the vendor docs or paper its messages come from"
    assert all(ref.startswith("https://") for ref in cause.references)
    if cause.transient and cause.id not in FLAKY_TEST_CAUSES:
        assert cause.category not in CODE_FAULTS, "code faults are not fixed by a re-run"


@pytest.mark.parametrize("cause", _bundled(), ids=lambda c: c.id)
def test_patterns_use_the_common_re_hyperscan_subset(cause: FailureCause) -> None:
    for pattern in cause.patterns:
        body = pattern[4:] if pattern.startswith("(?i)") else pattern
        assert "(?" not in body.replace("(?:", ""), f"{pattern!r}: inline flags, look-arounds or named groups"
        assert not re.search(r"\\[1-9]", body), f"{pattern!r}: back-reference"
        assert not re.search(pattern, ""), f"{pattern!r} matches the empty line"
        if not _is_multiline(pattern):
            assert not re.search(pattern, "error"), f"{pattern!r} is too generic"


def test_few_multiline_causes() -> None:
    multi = [c.id for c in _bundled() if any(_is_multiline(p) for p in c.patterns)]
    assert 2 <= len(multi) <= 4, multi


def test_telus_categories_are_credited() -> None:
    credited = [c.id for c in _bundled() if TELUS_URL in c.references]
    assert len(credited) >= 40


# --- examples --------------------------------------------------------------------------------


def test_examples_cover_exactly_the_bundled_causes() -> None:
    bundled = {c.id for c in _bundled()}
    examples = set(_examples())
    assert sorted(bundled - examples) == [], "causes without examples"
    assert sorted(examples - bundled) == [], "examples for unknown cause ids"
    for cid, entry in _examples().items():
        assert set(entry) <= {"positive", "negative"}, cid
        assert entry.get("positive"), f"{cid}: no positive example"
        assert entry.get("negative"), f"{cid}: no negative example"


@pytest.mark.parametrize(("cid", "text"), _example_cases("positive"))
def test_positive_example_matches(cid: str, text: str) -> None:
    assert cid in _engine_matches(text), f"{cid} does not match {text!r}"
    if "\n" not in text:
        ranked = _kb().match_line(text.encode("utf-8"))
        assert ranked[0] == cid, f"{ranked[0]} outranks {cid} on {text!r}: {ranked}"
        top = [c for c in ranked if _kb().causes[c].priority == _kb().causes[cid].priority]
        assert top == [cid], f"same priority, ambiguous: {top} on {text!r}"


@pytest.mark.parametrize(("cid", "text"), _example_cases("negative"))
def test_negative_example_does_not_match(cid: str, text: str) -> None:
    assert cid not in _engine_matches(text), f"{cid} matches the near miss {text!r}"


@pytest.mark.parametrize(("cid", "text"), [*_example_cases("positive"), *_example_cases("negative")])
def test_engine_agrees_with_python_re(cid: str, text: str) -> None:
    assert _engine_matches(text) == _re_matches(text)


@pytest.mark.parametrize("line", BENIGN_LINES)
def test_benign_lines_match_no_cause(line: str) -> None:
    assert _engine_matches(line) == set()


# --- Hyperscan ---------------------------------------------------------------------------------


def _single_line_patterns() -> list[tuple[str, str, bool]]:
    out = []
    for cause in _bundled():
        for pattern in cause.patterns:
            if not _is_multiline(pattern):
                caseless = pattern.startswith("(?i)")
                out.append((cause.id, pattern[4:] if caseless else pattern, caseless))
    return out


def test_every_single_line_pattern_compiles_with_hyperscan() -> None:
    hyperscan = pytest.importorskip("hyperscan", reason="hyperscan is not installed on this platform")
    failed = []
    for cid, body, caseless in _single_line_patterns():
        for multiline in (False, True):  # line matching, and the engine's raw-bytes prefilter
            flags = hyperscan.HS_FLAG_ALLOWEMPTY | (hyperscan.HS_FLAG_CASELESS if caseless else 0)
            if multiline:
                flags |= hyperscan.HS_FLAG_MULTILINE
            db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
            try:
                db.compile(expressions=[body.encode()], ids=[0], elements=1, flags=[flags])
            except Exception as exc:  # hyperscan.error
                failed.append(f"{cid}: {body!r}: {exc}")
    assert failed == []


def test_engine_uses_one_hyperscan_database() -> None:
    pytest.importorskip("hyperscan", reason="hyperscan is not installed on this platform")
    from cimedic.analysis.diagnosis import matcher

    fallbacks = tuple(getattr(matcher, n) for n in ("ReMatcher", "HybridMatcher") if hasattr(matcher, n))
    assert not isinstance(_kb()._matcher, fallbacks), "some pattern fell back to Python re"


# --- loader ---------------------------------------------------------------------------------------

_VALID = {"name": "Custom", "category": "test", "patterns": ["custom marker"], "fix": "Fix it."}


def _write(path: Path, doc: Any) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def test_user_cause_overrides_bundled_id(tmp_path: Path) -> None:
    bundled = {c.id: c for c in _bundled()}
    _write(tmp_path / "override.yaml", {"causes": [{"id": "pytest-failures", **_VALID}]})
    loaded = load_kb([tmp_path])
    assert loaded.problems == []
    causes = {c.id: c for c in loaded.causes}
    assert len(causes) == len(bundled)
    assert causes["pytest-failures"].name == "Custom"
    assert causes["pytest-failures"].source == str(tmp_path)
    assert causes["pytest-failures"].patterns == ("custom marker",)
    assert causes["npm-eresolve"] == bundled["npm-eresolve"]


def test_user_cause_adds_to_bundled(tmp_path: Path) -> None:
    _write(tmp_path / "one.yml", {"id": "team-marker", **_VALID})
    loaded = load_kb([tmp_path])
    assert loaded.problems == []
    assert len(loaded.causes) == len(_bundled()) + 1
    assert CompiledKB(loaded.causes).match_line(b"x custom marker y") == ("team-marker",)


def test_malformed_yaml_is_reported_and_other_files_load(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("causes: [unclosed\n  - id: x\n", encoding="utf-8")
    _write(tmp_path / "good.yaml", [{"id": "good-one", **_VALID}])
    loaded = load_kb([tmp_path])
    assert len(loaded.problems) == 1
    assert "bad.yaml" in loaded.problems[0]
    assert "good-one" in {c.id for c in loaded.causes}


def test_invalid_entries_are_reported_and_valid_ones_load(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "mixed.yaml",
        {
            "causes": [
                {"id": "valid-one", **_VALID},
                {**_VALID, "id": "bad-category", "category": "flakiness"},
                {**_VALID, "id": "bad-pattern", "patterns": ["unclosed (group"]},
                {**_VALID, "id": "Bad Id"},
                "not a mapping",
            ]
        },
    )
    loaded = load_kb([tmp_path], include_bundled=False)
    assert [c.id for c in loaded.causes] == ["valid-one"]
    assert len(loaded.problems) == 4
    assert all(str(path) in p for p in loaded.problems)
    text = "\n".join(loaded.problems)
    for ident in ("bad-category", "bad-pattern", "Bad Id"):
        assert f"cause {ident}:" in text
    assert "category" in next(p for p in loaded.problems if "bad-category" in p)
    assert "does not compile" in next(p for p in loaded.problems if "bad-pattern" in p)
    assert "entry 4: not a mapping" in text


def test_missing_directory_is_reported(tmp_path: Path) -> None:
    loaded = load_kb([tmp_path / "nope"])
    assert len(loaded.causes) == len(_bundled())
    assert loaded.problems == [f"{tmp_path / 'nope'}: knowledge-base directory not found"]


# --- CLI -------------------------------------------------------------------------------------------


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A runner isolated from the developer's config file and CIMEDIC_* variables."""
    monkeypatch.setenv("CIMEDIC_CONFIG", os.devnull)
    monkeypatch.delenv("CIMEDIC_KB_DIRS", raising=False)
    return CliRunner()


def test_cli_causes_list_json(cli: CliRunner) -> None:
    from cimedic.interfaces.cli.app import app

    result = cli.invoke(app, ["causes", "list", "--format", "json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert len(listed) >= MIN_CAUSES
    assert {c["id"] for c in listed} == {c.id for c in _bundled()}
    assert {"id", "name", "category", "patterns", "transient", "fix", "references"} <= set(listed[0])


def test_cli_causes_list_one_category(cli: CliRunner) -> None:
    from cimedic.interfaces.cli.app import app

    result = cli.invoke(app, ["causes", "list", "--format", "json", "--category", "disk"])
    assert result.exit_code == 0, result.output
    assert {c["category"] for c in json.loads(result.stdout)} == {"disk"}


def test_cli_causes_show(cli: CliRunner) -> None:
    from cimedic.interfaces.cli.app import app

    result = cli.invoke(app, ["causes", "show", "npm-ci-lockfile-mismatch"])
    assert result.exit_code == 0, result.output
    shown = yaml.safe_load(result.stdout)
    assert shown["id"] == "npm-ci-lockfile-mismatch"
    assert shown["category"] == "dependency"
    assert shown["fix"]

    missing = cli.invoke(app, ["causes", "show", "no-such-cause"])
    assert missing.exit_code == 2


def test_cli_causes_test_finds_the_cause(cli: CliRunner, tmp_path: Path) -> None:
    from cimedic.interfaces.cli.app import app

    line = _examples()["docker-pull-rate-limit"]["positive"][0]
    log = tmp_path / "job.log"
    log.write_text(f"2024-01-01T12:00:00.0000000Z Pulling node:20\n2024-01-01T12:00:01.0000000Z {line}\n")
    result = cli.invoke(app, ["causes", "test", str(log), "--format", "json"])
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert {"id": "docker-pull-rate-limit", "line": 2, "text": line} in hits

    text = cli.invoke(app, ["causes", "test", str(log)])
    assert text.exit_code == 0
    assert "docker-pull-rate-limit" in text.stdout


def test_cli_causes_test_multiline_cause(cli: CliRunner, tmp_path: Path) -> None:
    from cimedic.interfaces.cli.app import app

    log = tmp_path / "job.log"
    log.write_text(_examples()["python-keyerror-environ"]["positive"][0] + "\n")
    result = cli.invoke(app, ["causes", "test", str(log), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert "python-keyerror-environ" in {h["id"] for h in json.loads(result.stdout)}


def test_cli_user_kb_overrides(cli: CliRunner, tmp_path: Path) -> None:
    from cimedic.interfaces.cli.app import app

    kb_dir = tmp_path / "kb"
    kb_dir.mkdir()
    _write(kb_dir / "mine.yaml", {"causes": [{"id": "npm-eresolve", **_VALID}]})
    result = cli.invoke(app, ["causes", "show", "npm-eresolve", "--kb", str(kb_dir)])
    assert result.exit_code == 0, result.output
    shown = yaml.safe_load(result.stdout)
    assert shown["name"] == "Custom" and shown["source"] == str(kb_dir)
