"""Shared fixtures: real stores (a SQLite file, the PostgreSQL server) behind a Registry.

PostgreSQL comes from ``PROMPTHOUSE_TEST_POSTGRES_URL`` (default: the server on
127.0.0.1:5432, database ``test``). Each test session works in a schema of its own,
dropped at the end. Without the server, tests that need it skip with a reason, except
under ``CI=true``, where a missing service fails the run.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from prompthouse.registry import Registry
from prompthouse.settings import Settings
from prompthouse.stores.sql import SqlStore

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
POSTGRES_URL = os.environ.get(
    "PROMPTHOUSE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
STORE_KINDS = ["sqlite", "postgres"]
_TABLES = "aliases, version_tags, prompt_tags, prompt_versions, prompts"


def service_missing(what: str, why: str) -> None:
    """Skip on a laptop without the service; fail under CI=true."""
    message = f"{what} is not reachable ({why})"
    if IN_CI:
        pytest.fail(f"{message}; CI=true requires it", pytrace=False)
    pytest.skip(message)


def _with_search_path(url: str, schema: str) -> str:
    parsed = sa.make_url(url)
    return parsed.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A URL to a fresh schema on the real PostgreSQL server, dropped after the session."""
    yield from _postgres_schema()


@pytest.fixture
def fresh_postgres_url() -> Iterator[str]:
    """A URL to a new, unmigrated schema of its own, dropped after the test."""
    yield from _postgres_schema()


def _postgres_schema() -> Iterator[str]:
    admin_url = sa.make_url(POSTGRES_URL).set(drivername="postgresql+psycopg")
    try:
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        service_missing("PostgreSQL at " + admin_url.render_as_string(), str(exc.orig)[:200])
    schema = f"ph_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _with_search_path(POSTGRES_URL, schema)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_store(postgres_url: str) -> Iterator[SqlStore]:
    store = SqlStore(postgres_url)
    yield store
    store.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty SQLite file; tests copy it instead of migrating each time."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    SqlStore(f"sqlite:///{path}").close()
    return path


@pytest.fixture
def sqlite_uri(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "prompthouse.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


def _clean_postgres(store: SqlStore) -> None:
    with store._engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {_TABLES} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def store_uri(store_kind: str, request: pytest.FixtureRequest) -> str:
    """The URI of an empty store of each kind."""
    if store_kind == "sqlite":
        return request.getfixturevalue("sqlite_uri")
    store = request.getfixturevalue("postgres_store")
    _clean_postgres(store)
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def registry(store_kind: str, request: pytest.FixtureRequest) -> Iterator[Registry]:
    """A registry on an empty store of each kind (the contract suite runs on both)."""
    if store_kind == "sqlite":
        store = SqlStore(request.getfixturevalue("sqlite_uri"))
        reg = Registry(store, Settings())
        yield reg
        store.close()
    else:
        store = request.getfixturevalue("postgres_store")
        _clean_postgres(store)
        yield Registry(store, Settings())


@pytest.fixture
def sqlite_registry(sqlite_uri: str) -> Iterator[Registry]:
    store = SqlStore(sqlite_uri)
    yield Registry(store, Settings())
    store.close()
