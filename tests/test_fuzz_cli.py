"""Property-based fuzzing of the CLI's argument parsers (issue "step 2 of 10", section 7):
generated ``--since`` values, job ids and repository names, fed to the parsers and to a few
commands of the real app (:data:`cimedic.interfaces.cli.app.app`, through
``typer.testing.CliRunner``) over an empty SQLite store. Every answer is exit status 0, 1 or 2
(2 with one ``cimedic: error:`` line) and never a traceback."""

from __future__ import annotations

import os
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cimedic.interfaces.cli.app import app
from cimedic.model.providers import RepoRef
from cimedic.services.timewindow import EPOCH, parse_since, resolve_since
from cimedic.store.llm import MAX_JOB_ID, resolve_jobs
from cimedic.store.repository import Store

pytestmark = pytest.mark.timeout(300)

FUZZ = settings(
    max_examples=50,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# --------------------------------------------------------------- strategies

_numbers = st.one_of(
    st.integers(min_value=0, max_value=10**30),
    st.sampled_from([0, 1, 36500, 36501, 5214, 5215, 876000, 52560000, 10**6, 99999999999, 2**63, 10**22]),
)
durations = st.builds(
    lambda n, unit, pad: f"{n}{pad}{unit}", _numbers, st.sampled_from("mhdwMHDWy"), st.sampled_from(["", " "])
)
iso_moments = st.one_of(
    st.datetimes().map(lambda d: d.isoformat()),
    st.dates().map(lambda d: d.isoformat()),
    st.builds(
        lambda d, off: d.isoformat() + off,
        st.datetimes(),
        st.sampled_from(["Z", "+14:00", "-12:00", "+23:59", "-23:59", "+00:00"]),
    ),
)
junk = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30)
since_values = st.one_of(durations, iso_moments, junk)

job_ids = st.one_of(
    st.integers(min_value=-(10**25), max_value=10**25).map(str),
    st.sampled_from([str(MAX_JOB_ID), str(MAX_JOB_ID + 1), "1" * 23, "0", "-1", "00", "٣", "²"]),
    st.builds(lambda p, s: f"{p}:{s}", st.sampled_from(["run", "job", "RUN", "x"]), junk),
    junk,
)

_name = st.text(alphabet=string.ascii_letters + string.digits + "-_.", min_size=0, max_size=20)
repo_names = st.one_of(
    st.builds(lambda o, n: f"{o}/{n}", _name, _name),
    st.builds(
        lambda p, o, n: f"{p}:{o}/{n}",
        st.sampled_from(["github", "gitlab", "GITHUB", "", "a" * 17]),
        _name,
        _name,
    ),
    st.builds(lambda a, b, c: f"{a}/{b}/{c}", _name, _name, _name),
    junk,
)


# --------------------------------------------------------------- the parsers


@FUZZ
@given(text=since_values)
@example(text="1000000d")
@example(text="99999999999d")
@example(text="0001-01-01T00:00+01:00")
@example(text="9999-12-31T23:59:59-23:59")
def test_parse_since_accepts_or_raises_value_error(text: str) -> None:
    try:
        window = parse_since(text)
    except ValueError as exc:
        assert "--since" in str(exc)
        return
    start = resolve_since(window)
    assert start is not None and start >= EPOCH


@FUZZ
@given(text=repo_names)
def test_repo_ref_parse_accepts_or_raises_value_error(text: str) -> None:
    try:
        ref = RepoRef.parse(text, known={"github"})
    except ValueError as exc:
        assert str(exc)
        return
    assert ref.provider == "github" and "/" in ref.full_name


@pytest.fixture
def empty_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh SQLite store path; no settings file, no LLM, no database URL in the environment."""
    for var in ("CIMEDIC_DATABASE_URL", "CIMEDIC_LLM_BASE_URL", "CIMEDIC_NOTIFY_QUIET_HOURS", "GITHUB_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CIMEDIC_CONFIG", os.devnull)
    monkeypatch.setenv("CIMEDIC_DATA_DIR", str(tmp_path / "data"))
    path = tmp_path / "empty.db"
    Store(f"sqlite:///{path}", create=True).close()
    yield str(path)


@FUZZ
@given(target=job_ids)
def test_resolve_jobs_accepts_or_raises_value_error(empty_db: str, target: str) -> None:
    store = Store(f"sqlite:///{empty_db}")
    try:
        assert resolve_jobs(store, target) == []
    except ValueError as exc:
        assert "job id" in str(exc) or "expected a store job id" in str(exc)
    finally:
        store.close()


# --------------------------------------------------------------- commands of the real app


def _check(result: Any, args: list[str]) -> None:
    assert result.exit_code in (0, 1, 2), (args, result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, (args, result.output)
    if result.exception is not None:  # CliRunner keeps an escaped exception here instead of printing it
        assert isinstance(result.exception, SystemExit), (args, repr(result.exception))
    if result.exit_code == 2:
        assert result.stderr.startswith(("cimedic: error:", "Usage:")), (args, result.stderr)


def _invoke(args: list[str]) -> None:
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    _check(result, args)


@FUZZ
@given(
    command=st.sampled_from(["stats", "usage", "actions", "anomalies"]),
    since=since_values,
)
@example(command="stats", since="1000000d")
@example(command="usage", since="99999999999d")
@example(command="stats", since="36500d")
def test_since_options_never_trace_back(empty_db: str, command: str, since: str) -> None:
    _invoke([command, "--since", since, "--db", empty_db])


@FUZZ
@given(target=job_ids)
@example(target="1" * 23)
@example(target="run:" + "9" * 80)
def test_explain_never_traces_back(empty_db: str, target: str) -> None:
    _invoke(["explain", target, "--db", empty_db])


@FUZZ
@given(command=st.sampled_from(["stats", "health", "actions"]), repo=repo_names)
def test_repo_options_never_trace_back(empty_db: str, command: str, repo: str) -> None:
    _invoke([command, "--repo", repo, "--db", empty_db])


@FUZZ
@given(at=st.one_of(iso_moments, junk))
@example(at="0001-01-01T00:00+01:00")
@example(at="9999-12-31T23:59:59-23:59")
def test_health_at_never_traces_back(empty_db: str, at: str) -> None:
    _invoke(["health", "--at", at, "--db", empty_db])
