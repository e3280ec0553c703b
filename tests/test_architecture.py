"""Architecture checks: the import-linter contracts hold, and the CLI starts without heavy imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(240)  # lint-imports and `cimedic` subprocesses (120 s each at most)

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

# Modules that only the commands that need them may import (see docs/architecture.md):
# loading the app module, or `cimedic --help`, must stay instant.
HEAVY = ("hyperscan", "re2", "pydantic_settings", "yaml")


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIMEDIC_")}
    return subprocess.run(
        args, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


def test_import_contracts_hold() -> None:
    lint_imports = BIN / "lint-imports"
    if not lint_imports.exists():
        pytest.fail(f"{lint_imports} not found: install the dev extra (pip install -e '.[dev]')")
    result = _run(str(lint_imports), "--no-cache", "--no-logo")
    assert result.returncode == 0, f"lint-imports failed:\n{result.stdout}\n{result.stderr}"


_LOADED = """
import json, sys
{body}
print(json.dumps(sorted(sys.modules)))
"""


def _modules_after(body: str) -> set[str]:
    result = _run(sys.executable, "-c", _LOADED.format(body=body))
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY)


def test_loading_the_app_module_imports_nothing_heavy() -> None:
    modules = _modules_after("from cimedic.interfaces.cli.app import app")
    assert "cimedic.interfaces.cli.app" in modules
    assert _heavy(modules) == []
    assert not any(m.startswith("cimedic.analysis") for m in modules), "the engine is imported by the command"


def test_cimedic_help_imports_nothing_heavy() -> None:
    body = """
import contextlib, io
from cimedic.interfaces.cli.app import main
sys.argv = ["cimedic", "--help"]
with contextlib.redirect_stdout(io.StringIO()):
    try:
        main()
    except SystemExit:
        pass
"""
    assert _heavy(_modules_after(body)) == []


def test_cimedic_help_runs() -> None:
    cli = BIN / "cimedic"
    assert cli.exists(), f"{cli} not found: install cimedic (pip install -e .)"
    result = _run(str(cli), "--help")
    assert result.returncode == 0, result.stderr
    assert "analyze" in result.stdout and "causes" in result.stdout
