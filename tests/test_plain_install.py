"""A plain ``pip install cimedic`` (no extra) in a fresh venv: every command's ``--help`` works,
the HTML report renders its chart, and a feature whose extra is missing exits 2 with one
``cimedic: error: ... pip install 'cimedic[EXTRA]'`` line.

The wheel is built from this checkout (``uv build --wheel``, so the test sees the working
tree, not a cached build) and installed with ``uv pip install`` into a venv made by ``uv venv``
from the interpreter running the tests (``UV_PYTHON_DOWNLOADS=never``). Commands run with an
empty HOME, an empty working directory and no ``CIMEDIC_*`` variables.

Regressions: ``cimedic report --format html`` died with ``ModuleNotFoundError: matplotlib``
(matplotlib was only in the ``dev`` extra); ``python -m cimedic.testing.llm_server`` printed a
traceback without the ``llm-test`` extra.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.slow]
if importlib.util.find_spec("pytest_timeout") is not None:
    pytestmark.append(pytest.mark.timeout(600))


def _uv() -> list[str]:
    """uv from the test interpreter (``python -m uv``), else from PATH."""
    if importlib.util.find_spec("uv") is not None:
        return [sys.executable, "-m", "uv"]
    found = shutil.which("uv")
    if found:
        return [found]
    if os.environ.get("CI"):
        pytest.fail("uv is needed to build the plain-install venv (pip install uv)")
    pytest.skip("uv is not installed (pip install uv)")


def _commands() -> list[tuple[str, ...]]:
    """Every command and subcommand path of the ``cimedic`` CLI, read from the Typer app."""
    from cimedic.interfaces.cli.app import app

    out: list[tuple[str, ...]] = []

    def walk(cmd: object, path: tuple[str, ...]) -> None:
        out.append(path)
        for name, sub in sorted((getattr(cmd, "commands", None) or {}).items()):
            walk(sub, (*path, name))

    walk(typer.main.get_command(app), ())
    return out


COMMANDS = _commands()


@dataclass(frozen=True)
class PlainVenv:
    wheel: Path
    python: Path
    cimedic: Path
    home: Path
    env: dict[str, str]
    seconds: float
    """Time to build the wheel, create the venv and install into it."""

    def run(self, *argv: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(a) for a in argv],
            cwd=self.home,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlainVenv]:
    uv = _uv()
    base = tmp_path_factory.mktemp("plain-install")
    uv_env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    uv_env |= {"UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"}
    t0 = time.monotonic()

    def uv_run(*args: str | Path) -> None:
        proc = subprocess.run(
            [*uv, *(str(a) for a in args)],
            env=uv_env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert proc.returncode == 0, f"uv {args[0]} failed:\n{proc.stdout}\n{proc.stderr}"

    uv_run("build", "--wheel", "--out-dir", base / "dist", ROOT)
    (wheel,) = (base / "dist").glob("cimedic-*.whl")
    venv = base / "venv"
    uv_run("venv", "--python", sys.executable, venv)
    uv_run("pip", "install", "--python", venv / "bin" / "python", wheel)
    seconds = time.monotonic() - t0
    print(f"plain-install venv ready in {seconds:.1f} s")

    home = base / "home"
    home.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CIMEDIC_", "XDG_", "PYTHON", "UV_")) and k not in {"VIRTUAL_ENV", "HOME"}
    }
    env |= {"HOME": str(home), "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
    yield PlainVenv(wheel, venv / "bin" / "python", venv / "bin" / "cimedic", home, env, seconds)


def _one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("cimedic: error: "), stderr
    return lines[0]


def test_the_venv_is_plain(plain: PlainVenv) -> None:
    """No extra, no dev tool: what ``pip install cimedic`` gives."""
    probe = "import importlib.util as u; print([m for m in ('psycopg', 're2', 'xllamacpp', 'pytest') if u.find_spec(m)])"
    proc = plain.run(plain.python, "-c", probe)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
    assert plain.seconds < 600


def test_the_wheel_ships_the_api_docs_assets(plain: PlainVenv) -> None:
    names = set(zipfile.ZipFile(plain.wheel).namelist())
    static = "cimedic/interfaces/api/static/"
    for asset in (
        "swagger-ui/swagger-ui-bundle.js",
        "swagger-ui/swagger-ui.css",
        "swagger-ui/LICENSE",
        "swagger-ui/NOTICE",
        "redoc/redoc.standalone.js",
        "redoc/LICENSE",
    ):
        assert static + asset in names


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda p: " ".join(p) or "cimedic")
def test_every_command_help_works(plain: PlainVenv, argv: tuple[str, ...]) -> None:
    proc = plain.run(plain.cimedic, *argv, "--help")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"Usage: {' '.join(('cimedic', *argv))} " in proc.stdout, proc.stdout


def test_html_report_has_its_chart(plain: PlainVenv) -> None:
    """``cimedic demo`` then ``cimedic report daily --format html`` (needs matplotlib)."""
    db = plain.home / "demo.db"
    demo = plain.run(plain.cimedic, "demo", "--db", db)
    assert demo.returncode == 0, demo.stderr
    report = plain.run(plain.cimedic, "report", "daily", "--format", "html", "--db", db)
    assert report.returncode == 0, report.stderr
    assert "<img" in report.stdout and "data:image/png;base64," in report.stdout


def test_postgres_store_without_psycopg_names_the_extra(plain: PlainVenv) -> None:
    """No server is contacted: the driver import fails first, and the one error line names the
    extra to install (exit 2)."""
    proc = plain.run(plain.cimedic, "stats", "--db", "postgresql://postgres@127.0.0.1:5432/test")
    assert proc.returncode == 2, proc.stderr
    line = _one_error_line(proc.stderr)
    assert line.startswith("cimedic: error: cannot open store postgresql")
    assert line.endswith("a PostgreSQL store needs pip install 'cimedic[postgres]'")


def test_local_llm_server_without_its_extra_names_it(plain: PlainVenv) -> None:
    proc = plain.run(plain.python, "-m", "cimedic.testing.llm_server")
    assert proc.returncode == 2, proc.stderr
    assert "pip install 'cimedic[llm-test]'" in _one_error_line(proc.stderr)
    assert proc.stdout == ""
    helped = plain.run(plain.python, "-m", "cimedic.testing.llm_server", "--help")
    assert helped.returncode == 0, helped.stderr
    assert "usage: python -m cimedic.testing.llm_server" in helped.stdout
