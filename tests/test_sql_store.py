"""What the SQL store promises beyond the contract: SQLite settings, reconnects."""

from __future__ import annotations

import sqlalchemy as sa

import prompthouse
from prompthouse.stores.sql import SqlStore


def test_sqlite_runs_in_wal_with_foreign_keys(sqlite_uri: str) -> None:
    store = SqlStore(sqlite_uri)
    try:
        with store._engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
    finally:
        store.close()


def test_a_reader_is_not_blocked_by_an_open_write(sqlite_uri: str) -> None:
    reg = prompthouse.connect(sqlite_uri)
    try:
        reg.register_prompt("qa", "x")
        with reg.store._engine.connect() as writer:
            writer.execution_options(prompthouse_write=True)
            with writer.begin():
                writer.exec_driver_sql("UPDATE prompts SET description = 'held'")
                # WAL: the read goes through while the write lock is held.
                assert reg.load_prompt("qa", version=1, cache_ttl_seconds=0).template == "x"
    finally:
        reg.close()


def test_reads_survive_the_database_dropping_connections(postgres_url: str,
                                                         postgres_store: SqlStore) -> None:
    tagged = sa.make_url(postgres_url).update_query_dict({"application_name": "ph_reconnect"})
    reg = prompthouse.connect(tagged.render_as_string(hide_password=False))
    try:
        reg.register_prompt("reconnect", "x")
        assert reg.load_prompt("reconnect", version=1, cache_ttl_seconds=0)
        killer = sa.create_engine(
            sa.make_url(postgres_url).set(drivername="postgresql+psycopg"),
            isolation_level="AUTOCOMMIT",
        )
        with killer.connect() as conn:
            killed = conn.execute(sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND application_name = 'ph_reconnect'"
            )).scalar()
        killer.dispose()
        assert killed >= 1
        # The pooled connection is dead; the read retries once on a fresh one.
        assert reg.load_prompt("reconnect", version=1, cache_ttl_seconds=0).template == "x"
    finally:
        reg.close()
