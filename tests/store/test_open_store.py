"""Opening the store from the settings (``open_store``): a SQLite path whose directory does not
exist is refused unless asked to create it (a typo must not start an empty store elsewhere), the
default store under the data directory is created, and a PostgreSQL URL without the ``postgres``
extra says which extra to install."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cimedic.bootstrap.store import open_store
from cimedic.settings import Settings
from cimedic.store.engine import POSTGRES_EXTRA_HINT, StoreError, make_engine, sqlite_url
from cimedic.store.repository import Store


def _settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(data_dir=tmp_path / "data", **values)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def no_user_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("CIMEDIC_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CIMEDIC_CONFIG", os.devnull)


@pytest.mark.parametrize("form", ["path", "url"])
def test_db_in_a_missing_directory_is_refused(tmp_path: Path, form: str) -> None:
    # regression: --db /nonexistent/dir/x.db created the directories and an empty store
    missing = tmp_path / "no" / "such" / "dir"
    db = str(missing / "x.db") if form == "path" else f"sqlite:///{missing}/x.db"
    with pytest.raises(StoreError) as info:
        open_store(_settings(tmp_path), db)
    assert str(info.value) == (
        f"cannot open store sqlite:///{missing}/x.db: directory {missing} does not exist "
        "(use --create to create it)"
    )
    assert not (tmp_path / "no").exists()


def test_database_url_in_a_missing_directory_is_refused(tmp_path: Path) -> None:
    settings = _settings(tmp_path, database_url=str(tmp_path / "typo" / "cimedic.db"))
    with pytest.raises(StoreError, match="does not exist"):
        open_store(settings)
    assert not (tmp_path / "typo").exists()


def test_create_makes_the_directory(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "x.db"
    store = open_store(_settings(tmp_path), str(path), create=True)
    try:
        assert store.counts()["workflow_runs"] == 0
    finally:
        store.close()
    assert path.is_file()


def test_new_file_in_an_existing_directory_is_fine(tmp_path: Path) -> None:
    store = open_store(_settings(tmp_path), str(tmp_path / "fresh.db"))
    store.close()
    assert (tmp_path / "fresh.db").is_file()


def test_default_store_is_created_under_the_data_directory(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert not settings.data_dir.exists()
    store = open_store(settings)
    store.close()
    assert (settings.data_dir / "cimedic.db").is_file()


def test_store_url_alone_still_creates_the_directory(tmp_path: Path) -> None:
    """``Store(url)`` (tests, benchmarks) keeps creating the directory; only ``open_store`` refuses."""
    store = Store(sqlite_url(tmp_path / "a" / "b" / "x.db"))
    store.close()
    assert (tmp_path / "a" / "b" / "x.db").is_file()
    with pytest.raises(StoreError, match="does not exist"):
        Store(sqlite_url(tmp_path / "c" / "x.db"), create=False)


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_in_memory_sqlite_needs_no_directory(url: str) -> None:
    from sqlalchemy import text

    engine = make_engine(url, create=False)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar_one() == 1
    engine.dispose()


@pytest.mark.parametrize("url", ["postgresql://u:secret@127.0.0.1:9/x", "postgres://u@127.0.0.1:9/x"])
def test_postgres_without_psycopg_names_the_extra(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    # regression: "import of psycopg halted" / "No module named 'psycopg'" instead of what to install
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if the postgres extra were not installed
    with pytest.raises(StoreError) as info:
        open_store(Settings(database_url=url))
    message = str(info.value)
    assert message.endswith(POSTGRES_EXTRA_HINT)
    assert POSTGRES_EXTRA_HINT == "a PostgreSQL store needs pip install 'cimedic[postgres]'"
    assert "secret" not in message


def test_cli_refuses_a_missing_directory_in_one_line(tmp_path: Path) -> None:
    from cimedic.interfaces.cli.app import app

    missing = tmp_path / "nope"
    result = CliRunner().invoke(app, ["stats", "--db", str(missing / "x.db")])
    assert result.exit_code == 2
    assert result.stderr == (
        f"cimedic: error: cannot open store sqlite:///{missing}/x.db: directory {missing} does not "
        "exist (use --create to create it)\n"
    )
    assert not missing.exists()


def test_cli_reports_a_settings_mistake_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cimedic.interfaces.cli.app import app

    config = tmp_path / "cimedic.yaml"
    config.write_text("notify_url: [json://localhost]\n", encoding="utf-8")
    monkeypatch.setenv("CIMEDIC_CONFIG", str(config))
    result = CliRunner().invoke(app, ["stats", "--db", str(tmp_path / "x.db")])
    assert result.exit_code == 2
    assert result.stderr == (
        f"cimedic: error: {config}: unknown setting notify_url (did you mean notify_urls?)\n"
    )
