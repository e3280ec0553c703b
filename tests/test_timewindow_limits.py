"""Input limits at the boundary (issue "step 2 of 10", section 7): window starts, job ids,
provider run ids and quiet hours are refused with exit 2 / 422, never a 500 or a traceback."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cimedic.bootstrap import build
from cimedic.interfaces.api.app import create_app
from cimedic.interfaces.cli.app import app as cli_app
from cimedic.services.timewindow import EPOCH, MAX_WINDOW, parse_moment, parse_since, resolve_since
from cimedic.settings import ConfigError, Settings, load_settings
from cimedic.store.engine import sqlite_url
from cimedic.store.llm import MAX_JOB_ID, job_repository, resolve_jobs
from cimedic.store.repository import Store

pytestmark = pytest.mark.timeout(300)

TOO_LONG = ["36501d", "1000000d", "99999999999d", "5215w", "876001h", "52560001m", "9" * 40 + "w"]
TOO_EARLY = ["1969-12-31", "1969-12-31T23:59:59Z", "1970-01-01T00:30+01:00", "0001-01-01"]
OVERFLOWING = ["0001-01-01T00:00+01:00", "9999-12-31T23:00-05:00"]


# ---------------------------------------------------------------- services.timewindow


@pytest.mark.parametrize(
    "text", ["36500d", "5214w", "876000h", "52560000m", "1970-01-01", "1970-01-01T00:00Z"]
)
def test_windows_up_to_the_limit_are_accepted(text: str) -> None:
    now = datetime(2026, 12, 7, tzinfo=UTC)
    start = resolve_since(parse_since(text), now)
    assert start is not None and start >= EPOCH


def test_a_window_reaching_before_the_epoch_starts_at_the_epoch() -> None:
    assert resolve_since(parse_since("36500d"), datetime(2026, 12, 7, tzinfo=UTC)) == EPOCH
    assert resolve_since(timedelta(days=10), datetime(2000, 1, 1, tzinfo=UTC)) == datetime(
        1999, 12, 22, tzinfo=UTC
    )


@pytest.mark.parametrize("text", TOO_LONG)
def test_windows_longer_than_the_limit_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"--since .*at most 36500d"):
        parse_since(text)


@pytest.mark.parametrize("text", TOO_EARLY + OVERFLOWING)
def test_starts_before_the_epoch_or_overflowing_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"--since .*(1970-01-01T00:00Z|out of range)"):
        parse_since(text)
    with pytest.raises(ValueError):
        parse_moment(text)


def test_resolve_since_refuses_what_it_cannot_represent() -> None:
    with pytest.raises(ValueError, match="at most 36500d"):
        resolve_since(MAX_WINDOW + timedelta(seconds=1))
    with pytest.raises(ValueError, match="1970-01-01T00:00Z"):
        resolve_since(datetime(1969, 12, 31, tzinfo=UTC))
    with pytest.raises(ValueError, match="1970-01-01T00:00Z"):
        resolve_since(datetime(1, 1, 1, tzinfo=UTC))


# ---------------------------------------------------------------- store ids


def test_resolve_jobs_refuses_ids_out_of_range_and_malformed_run_ids(demo_sqlite: Any) -> None:
    store = Store(sqlite_url(demo_sqlite.path))
    try:
        for target in ("0", str(MAX_JOB_ID + 1), "1" * 23):
            with pytest.raises(ValueError, match="between 1 and 9223372036854775807"):
                resolve_jobs(store, target)
        for target in ("run:", "run:" + "1" * 65, "run:a b", "job:é", "run:1;drop", "", "²"):
            with pytest.raises(ValueError, match="expected a store job id"):
                resolve_jobs(store, target)
        assert resolve_jobs(store, str(MAX_JOB_ID)) == []
        assert resolve_jobs(store, "run:" + "1" * 64) == []
        for job_id in (0, -1, MAX_JOB_ID + 1, 10**22):
            assert job_repository(store, job_id) is None
    finally:
        store.close()


# ---------------------------------------------------------------- the CLI


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for var in ("CIMEDIC_DATABASE_URL", "CIMEDIC_LLM_BASE_URL", "CIMEDIC_NOTIFY_QUIET_HOURS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CIMEDIC_CONFIG", os.devnull)
    monkeypatch.setenv("CIMEDIC_DATA_DIR", str(tmp_path / "data"))
    yield str(tmp_path / "empty.db")


def _cli(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(cli_app, list(args), env={"COLUMNS": "200", **(env or {})})


@pytest.mark.parametrize("command", ["stats", "failures", "anomalies", "usage", "actions"])
@pytest.mark.parametrize("since", ["1000000d", "99999999999d", "1969-12-31", "0001-01-01T00:00+01:00"])
def test_cli_since_out_of_range_exits_2_without_traceback(cli_env: str, command: str, since: str) -> None:
    result = _cli(command, "--since", since, "--db", cli_env, "--create")
    assert result.exit_code == 2, (result.output, result.exception)
    assert "Traceback" not in result.output and not isinstance(result.exception, (OverflowError, ValueError))
    assert result.stderr.startswith("cimedic: error:") and "--since" in result.stderr


def test_cli_since_36500d_works(cli_env: str) -> None:
    result = _cli("stats", "--since", "36500d", "--db", cli_env, "--create")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("target", ["1" * 23, "0", str(MAX_JOB_ID + 1), "run:" + "x" * 65, "run:a b"])
def test_cli_explain_refuses_ids_out_of_range(cli_env: str, target: str) -> None:
    result = _cli("explain", target, "--db", cli_env, "--create")
    assert result.exit_code == 2, (result.output, result.exception)
    assert result.stderr.startswith("cimedic: error: invalid") and "Traceback" not in result.output


def test_quiet_hours_out_of_range_fail_in_every_command_that_reads_settings(
    cli_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CIMEDIC_NOTIFY_QUIET_HOURS", "25:00-99:00")
    with pytest.raises(ConfigError, match=r"notify_quiet_hours .*25:00-99:00"):
        load_settings()
    for args in (["stats"], ["failures"], ["explain", "1"], ["usage"]):
        result = _cli(*args, "--db", cli_env, "--create")
        assert result.exit_code == 2, (args, result.output)
        assert "notify_quiet_hours" in result.stderr and "Traceback" not in result.output


def test_valid_quiet_hours_still_load(monkeypatch: pytest.MonkeyPatch) -> None:
    from cimedic.bootstrap.wiring import quiet_hours_from

    monkeypatch.setenv("CIMEDIC_CONFIG", os.devnull)
    monkeypatch.setenv("CIMEDIC_NOTIFY_QUIET_HOURS", "22:00-07:00")
    hours = quiet_hours_from(load_settings().notify_quiet_hours)
    assert hours is not None and hours.start.hour == 22 and hours.end.hour == 7
    assert load_settings(notify_quiet_hours="").notify_quiet_hours == ""


# ---------------------------------------------------------------- the API


@pytest.fixture
def api(demo_sqlite: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("CIMEDIC_CONFIG", os.devnull)
    store = Store(sqlite_url(demo_sqlite.path))
    ctx = build(Settings(), store=store, llm=None)
    try:
        yield TestClient(create_app(ctx), base_url="http://127.0.0.1")
    finally:
        ctx.close()


@pytest.mark.parametrize("route", ["/api/v1/stats", "/api/v1/actions"])
@pytest.mark.parametrize("since", ["1000000d", "99999999999d", "1969-12-31", "9999-12-31T23:00-05:00"])
def test_api_since_out_of_range_is_422(api: TestClient, route: str, since: str) -> None:
    answer = api.get(route, params={"since": since})
    assert answer.status_code == 422, answer.text
    assert "since" in answer.json()["detail"]


@pytest.mark.parametrize("route", ["/api/v1/stats", "/api/v1/actions"])
def test_api_since_36500d_works(api: TestClient, route: str) -> None:
    assert api.get(route, params={"since": "36500d"}).status_code == 200


@pytest.mark.parametrize("job_id", ["1" * 23, "0", "-1", str(MAX_JOB_ID + 1)])
def test_api_job_id_out_of_range_is_422(api: TestClient, job_id: str) -> None:
    answer = api.get(f"/api/v1/jobs/{job_id}/explanation")
    assert answer.status_code == 422, answer.text
    assert api.get(f"/api/v1/jobs/{MAX_JOB_ID}/explanation").status_code == 404
