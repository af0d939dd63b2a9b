"""The command line, run as a real subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

import prompthouse


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "prompthouse", *args],
        capture_output=True, text=True, timeout=60, env=env,
    )


def test_version() -> None:
    result = _run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"prompthouse {prompthouse.__version__}"


def test_db_upgrade_creates_then_reports_up_to_date(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/cli.db"
    first = _run("db", "upgrade", "--store", uri)
    assert first.returncode == 0, first.stderr
    assert "upgraded the schema" in first.stdout
    engine = sa.create_engine(uri)
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
    engine.dispose()
    assert {"prompts", "prompt_versions", "aliases", "prompt_tags", "version_tags"} <= tables
    second = _run("db", "upgrade", "--store", uri)
    assert second.returncode == 0
    assert "up to date" in second.stdout


def test_db_upgrade_on_postgres(fresh_postgres_url: str) -> None:
    result = _run("db", "upgrade", "--store", fresh_postgres_url)
    assert result.returncode == 0, result.stderr
    assert "upgraded the schema" in result.stdout


def test_db_upgrade_reports_a_bad_store_clearly() -> None:
    result = _run("db", "upgrade", "--store", "postgresql://u:topsecret@127.0.0.1:1/x")
    assert result.returncode == 1
    assert "unavailable" in result.stderr
    assert "topsecret" not in result.stderr + result.stdout
