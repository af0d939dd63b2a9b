"""The SQL store: SQLite (default) and PostgreSQL through SQLAlchemy 2 Core.

Version numbers come from ``prompts.next_version``, bumped by an ``UPDATE ... RETURNING``
in the same transaction as the insert, so concurrent writers never clash and a number is
never reused (deletes included). SQLite runs in WAL mode with foreign keys on, a busy
timeout, and every write in ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

from prompthouse.entities import Page, Prompt, PromptVersion
from prompthouse.errors import (
    ConflictError,
    InvalidArgumentError,
    NotFoundError,
    UnavailableError,
)
from prompthouse.stores.base import NewVersion, SearchCondition, SearchQuery
from prompthouse.templating import freeze_template

__all__ = ["SqlStore", "upgrade_schema"]

_MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
_PG_MIGRATION_LOCK = 0x70_68_6F_75_73_65  # "phouse": one advisory lock for migrations

metadata = sa.MetaData()
prompts_t = sa.Table(
    "prompts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(255)),
    sa.Column("description", sa.Text),
    sa.Column("created_at", sa.BigInteger),
    sa.Column("updated_at", sa.BigInteger),
    sa.Column("created_by", sa.String(255)),
    sa.Column("next_version", sa.Integer),
)
prompt_tags_t = sa.Table(
    "prompt_tags",
    metadata,
    sa.Column("prompt_id", sa.Integer),
    sa.Column("key", sa.String(250)),
    sa.Column("value", sa.Text),
)
versions_t = sa.Table(
    "prompt_versions",
    metadata,
    sa.Column("prompt_id", sa.Integer),
    sa.Column("version", sa.Integer),
    sa.Column("template_type", sa.String(8)),
    sa.Column("template", sa.Text),
    sa.Column("commit_message", sa.Text),
    sa.Column("model_config", sa.Text),
    sa.Column("response_format", sa.Text),
    sa.Column("created_at", sa.BigInteger),
    sa.Column("updated_at", sa.BigInteger),
    sa.Column("created_by", sa.String(255)),
    sa.Column("deleted_at", sa.BigInteger),
)
version_tags_t = sa.Table(
    "version_tags",
    metadata,
    sa.Column("prompt_id", sa.Integer),
    sa.Column("version", sa.Integer),
    sa.Column("key", sa.String(250)),
    sa.Column("value", sa.Text),
)
aliases_t = sa.Table(
    "aliases",
    metadata,
    sa.Column("prompt_id", sa.Integer),
    sa.Column("alias", sa.String(255)),
    sa.Column("version", sa.Integer),
    sa.Column("updated_at", sa.BigInteger),
    sa.Column("updated_by", sa.String(255)),
)

P, V, VT, PT, A = prompts_t, versions_t, version_tags_t, prompt_tags_t, aliases_t
_LIVE = V.c.deleted_at.is_(None)
# The hot reads (a version by number, alias or latest, and version pages) are one SQL
# statement each, with the version's tags and aliases aggregated as JSON in the same row,
# run in autocommit on the pooled DB-API connection: one round trip, no BEGIN/ROLLBACK.
_VERSION_SELECT = """
SELECT v.prompt_id, v.version, v.template_type, v.template, v.commit_message,
       v.model_config, v.response_format, v.created_at, v.updated_at, v.created_by,
       (SELECT {tags} FROM version_tags t
         WHERE t.prompt_id = v.prompt_id AND t.version = v.version) AS tags,
       (SELECT {aliases} FROM aliases x
         WHERE x.prompt_id = v.prompt_id AND x.version = v.version) AS aliases
"""
# Each lookup goes name -> id -> primary key, written so that the plan cannot be anything
# but index lookups, even on tables the planner has no statistics for yet.
_ID_OF_NAME = "(SELECT id FROM prompts WHERE name = :name)"
_HOT_SQL = {
    "by_version": _VERSION_SELECT + f"""
FROM prompt_versions v
WHERE v.prompt_id = {_ID_OF_NAME} AND v.version = :version AND v.deleted_at IS NULL""",
    "by_alias": _VERSION_SELECT + f"""
FROM prompt_versions v
WHERE (v.prompt_id, v.version) = (
    SELECT a.prompt_id, a.version FROM aliases a
    WHERE a.prompt_id = {_ID_OF_NAME} AND a.alias = :alias)
  AND v.deleted_at IS NULL""",
    "latest": _VERSION_SELECT + f"""
FROM prompt_versions v
WHERE v.prompt_id = {_ID_OF_NAME} AND v.deleted_at IS NULL
ORDER BY v.version DESC LIMIT 1""",
    "page": _VERSION_SELECT + """
FROM prompt_versions v
WHERE v.prompt_id = :pid AND v.version < :before AND v.deleted_at IS NULL
ORDER BY v.version DESC LIMIT :limit""",
}
# Registering a version, the hot write: plain SQL both dialects accept, in one transaction.
_HOT_SQL.update({
    "new_prompt": """
INSERT INTO prompts (name, description, created_at, updated_at, created_by, next_version)
VALUES (:name, :description, :ts, :ts, :user_id, 1)
ON CONFLICT (name) DO NOTHING""",
    "next_version": """
UPDATE prompts SET next_version = next_version + 1, updated_at = :ts
WHERE name = :name RETURNING id, next_version""",
    "claim_version": "UPDATE prompts SET next_version = :next WHERE id = :pid",
    "latest_number": """
SELECT max(version) FROM prompt_versions WHERE prompt_id = :pid AND deleted_at IS NULL""",
    "insert_version": """
INSERT INTO prompt_versions (prompt_id, version, template_type, template, commit_message,
                             model_config, response_format, created_at, updated_at,
                             created_by)
VALUES (:pid, :version, :template_type, :template, :commit_message, :model_config,
        :response_format, :ts, :ts, :user_id)""",
    "insert_version_tag": """
INSERT INTO version_tags (prompt_id, version, key, value)
VALUES (:pid, :version, :key, :value)""",
    "upsert_prompt_tag": """
INSERT INTO prompt_tags (prompt_id, key, value) VALUES (:pid, :key, :value)
ON CONFLICT (prompt_id, key) DO UPDATE SET value = excluded.value""",
})
_JSON_AGG = {
    "sqlite": {"tags": "json_group_array(json_array(t.key, t.value))",
               "aliases": "json_group_array(x.alias)"},
    "postgresql": {"tags": "coalesce(json_agg(json_build_array(t.key, t.value))::text, '[]')",
                   "aliases": "coalesce(json_agg(x.alias)::text, '[]')"},
}


def _hot_statements(dialect: str) -> dict[str, str]:
    """The hot SQL for one dialect, with its DB-API parameter style."""
    out = {}
    for key, sql in _HOT_SQL.items():
        sql = sql.format(**_JSON_AGG[dialect])
        if dialect == "postgresql":
            sql = re.sub(r"(?<!:):(\w+)", r"%(\1)s", sql)
        out[key] = sql
    return out


_PROMPT_ID = sa.select(P.c.id).where(P.c.name == sa.bindparam("name"))


class SqlStore:
    """A registry store in a SQL database (``sqlite:///...`` or ``postgresql://...``)."""

    def __init__(self, uri: str, *, busy_timeout_seconds: float = 30.0,
                 migrate: bool = True) -> None:
        url = _normalize_url(uri)
        self.dialect = url.get_backend_name()
        self.uri = url.render_as_string(hide_password=True)
        self._engine = _make_engine(url, busy_timeout_seconds)
        self._hot = _hot_statements(self.dialect)
        self._pg = self.dialect == "postgresql"
        if migrate:
            upgrade_schema(self._engine)

    # --- connections ------------------------------------------------------------------

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        try:
            with self._engine.connect() as conn:
                yield conn
        except sa.exc.OperationalError as exc:
            raise self._unavailable(exc) from None

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        try:
            with self._engine.connect() as conn:
                conn.execution_options(prompthouse_write=True)
                with conn.begin():
                    yield conn
        except sa.exc.OperationalError as exc:
            raise self._unavailable(exc) from None

    def _unavailable(self, exc: Exception) -> UnavailableError:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        return UnavailableError(f"The store {self.uri} is unavailable: {reason}")

    def ping(self) -> None:
        with self._read() as conn:
            conn.execute(sa.text("SELECT 1"))

    def close(self) -> None:
        self._engine.dispose()

    # --- helpers ----------------------------------------------------------------------

    def _prompt_id(self, conn: Connection, name: str) -> int:
        pid = conn.execute(_PROMPT_ID, {"name": name}).scalar()
        if pid is None:
            raise NotFoundError(f"Prompt {name!r} does not exist.")
        return pid

    def _version_row(self, conn: Connection, name: str, version: int) -> int:
        pid = self._prompt_id(conn, name)
        found = conn.execute(
            sa.select(V.c.version).where(V.c.prompt_id == pid, V.c.version == version, _LIVE)
        ).scalar()
        if found is None:
            raise NotFoundError(f"Prompt {name!r} has no version {version}.")
        return pid

    def _fetch(self, statement: str, params: dict[str, Any], many: bool = False) -> Any:
        """Run one hot read on a pooled DB-API connection in autocommit.

        A connection the server dropped (a database restart) is discarded and the read
        is tried once more on a fresh one.
        """
        sql = self._hot[statement]
        for attempt in (1, 2):
            try:
                fairy = self._engine.raw_connection()
            except (sa.exc.DBAPIError, self._engine.dialect.loaded_dbapi.Error) as exc:
                raise self._unavailable(exc) from None
            try:
                if self._pg:
                    fairy.driver_connection.autocommit = True
                cursor = fairy.cursor()
                try:
                    cursor.execute(sql, params)
                    return cursor.fetchall() if many else cursor.fetchone()
                finally:
                    cursor.close()
            except self._engine.dialect.loaded_dbapi.Error as exc:
                if self._engine.dialect.is_disconnect(exc, fairy, None) and attempt == 1:
                    fairy.invalidate(exc)
                    self._engine.dispose(close=False)  # every pooled connection is stale
                    continue
                if isinstance(exc, self._engine.dialect.loaded_dbapi.OperationalError):
                    raise self._unavailable(exc) from None
                raise
            finally:
                if self._pg and fairy.is_valid:
                    fairy.driver_connection.autocommit = False
                fairy.close()
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _to_version(name: str, row: Any) -> PromptVersion:
        template = row[3] if row[2] == "text" else freeze_template(json.loads(row[3]))
        aliases = json.loads(row[11])
        aliases.sort()
        return PromptVersion._trusted(
            name=name,
            version=row[1],
            template=template,
            commit_message=row[4],
            model_config=json.loads(row[5]) if row[5] is not None else None,
            response_format=json.loads(row[6]) if row[6] is not None else None,
            creation_timestamp=row[7],
            last_updated_timestamp=row[8],
            user_id=row[9],
            tags=dict(json.loads(row[10])),
            aliases=tuple(aliases),
        )

    # --- versions ---------------------------------------------------------------------

    @contextmanager
    def _raw_transaction(self) -> Iterator[Any]:
        """A cursor in one write transaction on a pooled DB-API connection (hot writes).

        SQLite takes the write lock up front (``BEGIN IMMEDIATE``); PostgreSQL begins
        implicitly. Committed on success, rolled back on any error.
        """
        try:
            fairy = self._engine.raw_connection()
        except (sa.exc.DBAPIError, self._engine.dialect.loaded_dbapi.Error) as exc:
            raise self._unavailable(exc) from None
        dbapi = self._engine.dialect.loaded_dbapi
        try:
            cursor = fairy.cursor()
            try:
                if not self._pg:
                    cursor.execute("BEGIN IMMEDIATE")
                yield cursor
                fairy.commit()
            except BaseException:
                fairy.rollback()
                raise
            finally:
                cursor.close()
        except dbapi.OperationalError as exc:
            if self._engine.dialect.is_disconnect(exc, fairy, None):
                fairy.invalidate(exc)
                self._engine.dispose(close=False)
            raise self._unavailable(exc) from None
        finally:
            fairy.close()

    def create_version(self, new: NewVersion) -> tuple[PromptVersion, bool]:
        ts = new.timestamp_ms
        sql = self._hot
        with self._raw_transaction() as cur:
            cur.execute(sql["new_prompt"], {"name": new.name, "description": new.commit_message,
                                            "ts": ts, "user_id": new.user_id})
            created = cur.rowcount == 1
            cur.execute(sql["next_version"], {"ts": ts, "name": new.name})
            pid, next_version = cur.fetchone()
            version = next_version - 1
            if new.expected_latest is not None:
                # The UPDATE above holds the prompt's row lock (the write lock on SQLite),
                # so no other writer can add a version between this check and the insert.
                if created:
                    raise NotFoundError(f"Prompt {new.name!r} does not exist.")
                cur.execute(sql["latest_number"], {"pid": pid})
                latest = cur.fetchone()[0]
                if latest != new.expected_latest:
                    raise ConflictError(
                        f"Version {new.expected_latest} is not the latest version of prompt "
                        f"{new.name!r}: the latest is {latest}. Read it and try again."
                    )
            if new.version is not None:
                if new.version < version:
                    raise InvalidArgumentError(
                        f"Version {new.version} of prompt {new.name!r} cannot be imported: "
                        f"numbers up to {version - 1} are already taken (numbers are never "
                        "reused)."
                    )
                version = new.version
                cur.execute(sql["claim_version"], {"next": version + 1, "pid": pid})
            cur.execute(sql["insert_version"], {
                "pid": pid, "version": version, "template_type": new.template_type,
                "template": new.template_json, "commit_message": new.commit_message,
                "model_config": _dump(new.model_config),
                "response_format": _dump(new.response_format), "ts": ts,
                "user_id": new.user_id,
            })
            if new.tags:
                cur.executemany(sql["insert_version_tag"], [
                    {"pid": pid, "version": version, "key": k, "value": v}
                    for k, v in new.tags.items()
                ])
            if new.prompt_tags:
                cur.executemany(sql["upsert_prompt_tag"], [
                    {"pid": pid, "key": k, "value": v} for k, v in new.prompt_tags.items()
                ])
        result = PromptVersion._trusted(
            name=new.name, version=version, template=new.template,
            commit_message=new.commit_message, model_config=new.model_config,
            response_format=new.response_format, creation_timestamp=ts,
            last_updated_timestamp=ts, user_id=new.user_id, tags=dict(new.tags), aliases=(),
        )
        return result, created

    def get_version(self, name: str, version: int) -> PromptVersion:
        row = self._fetch("by_version", {"name": name, "version": version})
        if row is None:
            self._missing(name, f"Prompt {name!r} has no version {version}.")
        return self._to_version(name, row)

    def get_version_by_alias(self, name: str, alias: str) -> PromptVersion:
        row = self._fetch("by_alias", {"name": name, "alias": alias})
        if row is None:
            self._missing(name, f"Prompt {name!r} has no alias {alias!r}.")
        return self._to_version(name, row)

    def get_latest_version(self, name: str) -> PromptVersion:
        row = self._fetch("latest", {"name": name})
        if row is None:
            self._missing(name, f"Prompt {name!r} has no versions.")
        return self._to_version(name, row)

    def _missing(self, name: str, message: str) -> None:
        """Raise NotFoundError: for the prompt if it is absent, else with ``message``."""
        with self._read() as conn:
            self._prompt_id(conn, name)
        raise NotFoundError(message)

    def list_versions(
        self, name: str, max_results: int, page_token: str | None
    ) -> Page[PromptVersion]:
        before = int(_decode_token(page_token, "v")) if page_token else 2**31 - 1
        with self._read() as conn:
            pid = self._prompt_id(conn, name)
        rows = self._fetch("page", {"pid": pid, "before": before, "limit": max_results + 1},
                           many=True)
        more = len(rows) > max_results
        rows = rows[:max_results]
        items = [self._to_version(name, row) for row in rows]
        token = _encode_token("v", rows[-1][1]) if more else None
        return Page(items, token)

    def delete_version(self, name: str, version: int, timestamp_ms: int) -> list[str]:
        with self._write() as conn:
            pid = self._version_row(conn, name, version)
            removed = list(
                conn.execute(
                    sa.delete(A)
                    .where(A.c.prompt_id == pid, A.c.version == version)
                    .returning(A.c.alias)
                ).scalars()
            )
            conn.execute(sa.delete(VT).where(VT.c.prompt_id == pid, VT.c.version == version))
            conn.execute(
                sa.update(V)
                .where(V.c.prompt_id == pid, V.c.version == version)
                .values(deleted_at=timestamp_ms, updated_at=timestamp_ms)
            )
            conn.execute(sa.update(P).where(P.c.id == pid).values(updated_at=timestamp_ms))
        return sorted(removed)

    def set_model_config(self, name: str, version: int, model_config: dict[str, Any] | None,
                         timestamp_ms: int) -> None:
        with self._write() as conn:
            pid = self._version_row(conn, name, version)
            conn.execute(
                sa.update(V)
                .where(V.c.prompt_id == pid, V.c.version == version)
                .values(model_config=_dump(model_config), updated_at=timestamp_ms)
            )

    def set_version_tag(self, name: str, version: int, key: str, value: str,
                        timestamp_ms: int) -> None:
        with self._write() as conn:
            pid = self._version_row(conn, name, version)
            stmt = _insert(self.dialect, VT).values(
                prompt_id=pid, version=version, key=key, value=value
            )
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["prompt_id", "version", "key"], set_={"value": value}
                )
            )
            self._touch_version(conn, pid, version, timestamp_ms)

    def delete_version_tag(self, name: str, version: int, key: str, timestamp_ms: int) -> None:
        with self._write() as conn:
            pid = self._version_row(conn, name, version)
            gone = conn.execute(
                sa.delete(VT).where(
                    VT.c.prompt_id == pid, VT.c.version == version, VT.c.key == key
                )
            ).rowcount
            if not gone:
                raise NotFoundError(f"Version {version} of prompt {name!r} has no tag {key!r}.")
            self._touch_version(conn, pid, version, timestamp_ms)

    @staticmethod
    def _touch_version(conn: Connection, pid: int, version: int, ts: int) -> None:
        conn.execute(
            sa.update(V)
            .where(V.c.prompt_id == pid, V.c.version == version)
            .values(updated_at=ts)
        )

    # --- prompts ----------------------------------------------------------------------

    def get_prompt(self, name: str) -> Prompt:
        with self._read() as conn:
            row = conn.execute(sa.select(P).where(P.c.name == name)).first()
            if row is None:
                raise NotFoundError(f"Prompt {name!r} does not exist.")
            return self._prompts(conn, [row])[0]

    def _among(self, column: Any, ids: list[int]) -> Any:
        """``column IN ids`` as one parameter: ``= ANY(array)`` on PostgreSQL, a JSON array
        on SQLite. An expanding ``IN`` renders a new statement for every page size, which
        neither psycopg nor SQLite caches (it cost a third of a PostgreSQL search)."""
        if self._pg:
            return column == sa.any_(sa.bindparam("ids", ids, type_=postgresql.ARRAY(sa.Integer)))
        return column.in_(sa.select(sa.column("value", sa.Integer))
                          .select_from(sa.func.json_each(sa.bindparam("ids", json.dumps(ids)))))

    def _prompts(self, conn: Connection, rows: list[Any]) -> list[Prompt]:
        """Prompts for rows of ``prompts``, with tags, aliases and latest version batched."""
        ids = [row.id for row in rows]
        if not ids:
            return []
        tags: dict[int, dict[str, str]] = {i: {} for i in ids}
        for pid, key, value in conn.execute(
            sa.select(PT.c.prompt_id, PT.c.key, PT.c.value).where(self._among(PT.c.prompt_id, ids))
        ):
            tags[pid][key] = value
        aliases: dict[int, dict[str, int]] = {i: {} for i in ids}
        for pid, alias, version in conn.execute(
            sa.select(A.c.prompt_id, A.c.alias, A.c.version)
            .where(self._among(A.c.prompt_id, ids))
            .order_by(A.c.alias)
        ):
            aliases[pid][alias] = version
        latest = dict(
            conn.execute(
                sa.select(V.c.prompt_id, sa.func.max(V.c.version))
                .where(self._among(V.c.prompt_id, ids), _LIVE)
                .group_by(V.c.prompt_id)
            ).all()
        )
        return [
            Prompt(
                name=row.name,
                description=row.description,
                tags=tags[row.id],
                aliases=aliases[row.id],
                latest_version=latest.get(row.id),
                creation_timestamp=row.created_at,
                last_updated_timestamp=row.updated_at,
                created_by=row.created_by,
            )
            for row in rows
        ]

    def search_prompts(self, query: SearchQuery) -> Page[Prompt]:
        descending = query.order_by.startswith("-")
        sort_col = P.c.name if query.order_by.lstrip("-") == "name" else P.c.updated_at
        stmt = sa.select(P)
        for cond in query.conditions:
            stmt = stmt.where(_condition(cond))
        if query.page_token:
            state = _decode_token(query.page_token, query.order_by)
            key, last_id = state
            cmp = (sort_col < key) | ((sort_col == key) & (P.c.id < last_id)) if descending \
                else (sort_col > key) | ((sort_col == key) & (P.c.id > last_id))
            stmt = stmt.where(cmp)
        order = (sort_col.desc(), P.c.id.desc()) if descending else (sort_col.asc(), P.c.id.asc())
        stmt = stmt.order_by(*order).limit(query.max_results + 1)
        with self._read() as conn:
            rows = conn.execute(stmt).all()
            more = len(rows) > query.max_results
            rows = rows[: query.max_results]
            items = self._prompts(conn, rows)
        token = None
        if more:
            last = rows[-1]
            token = _encode_token(
                query.order_by, [last.name if sort_col is P.c.name else last.updated_at, last.id]
            )
        return Page(items, token)

    def update_description(self, name: str, description: str | None, timestamp_ms: int) -> None:
        with self._write() as conn:
            done = conn.execute(
                sa.update(P).where(P.c.name == name)
                .values(description=description, updated_at=timestamp_ms)
            ).rowcount
            if not done:
                raise NotFoundError(f"Prompt {name!r} does not exist.")

    def set_prompt_tag(self, name: str, key: str, value: str, timestamp_ms: int) -> None:
        with self._write() as conn:
            pid = self._prompt_id(conn, name)
            self._upsert_prompt_tag(conn, pid, key, value)
            conn.execute(sa.update(P).where(P.c.id == pid).values(updated_at=timestamp_ms))

    def _upsert_prompt_tag(self, conn: Connection, pid: int, key: str, value: str) -> None:
        stmt = _insert(self.dialect, PT).values(prompt_id=pid, key=key, value=value)
        conn.execute(
            stmt.on_conflict_do_update(index_elements=["prompt_id", "key"], set_={"value": value})
        )

    def delete_prompt_tag(self, name: str, key: str, timestamp_ms: int) -> None:
        with self._write() as conn:
            pid = self._prompt_id(conn, name)
            gone = conn.execute(
                sa.delete(PT).where(PT.c.prompt_id == pid, PT.c.key == key)
            ).rowcount
            if not gone:
                raise NotFoundError(f"Prompt {name!r} has no tag {key!r}.")
            conn.execute(sa.update(P).where(P.c.id == pid).values(updated_at=timestamp_ms))

    def set_alias(self, name: str, alias: str, version: int, user_id: str | None,
                  timestamp_ms: int) -> None:
        with self._write() as conn:
            pid = self._version_row(conn, name, version)
            values = {"version": version, "updated_at": timestamp_ms, "updated_by": user_id}
            stmt = _insert(self.dialect, A).values(prompt_id=pid, alias=alias, **values)
            conn.execute(
                stmt.on_conflict_do_update(index_elements=["prompt_id", "alias"], set_=values)
            )
            conn.execute(sa.update(P).where(P.c.id == pid).values(updated_at=timestamp_ms))

    def delete_alias(self, name: str, alias: str, timestamp_ms: int) -> None:
        with self._write() as conn:
            pid = self._prompt_id(conn, name)
            gone = conn.execute(
                sa.delete(A).where(A.c.prompt_id == pid, A.c.alias == alias)
            ).rowcount
            if not gone:
                raise NotFoundError(f"Prompt {name!r} has no alias {alias!r}.")
            conn.execute(sa.update(P).where(P.c.id == pid).values(updated_at=timestamp_ms))

    def delete_prompt(self, name: str) -> None:
        with self._write() as conn:
            pid = self._prompt_id(conn, name)
            # Children first: foreign keys cascade too, but explicit deletes keep this
            # correct on a database where cascades were turned off.
            for table in (A, VT, PT, V):
                conn.execute(sa.delete(table).where(table.c.prompt_id == pid))
            conn.execute(sa.delete(P).where(P.c.id == pid))


# --- module helpers -------------------------------------------------------------------


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"))


def _insert(dialect: str, table: sa.Table) -> Any:
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _condition(cond: SearchCondition) -> Any:
    if cond.field == "name":
        return _compare(P.c.name, cond.op, cond.value)
    if cond.field == "alias":
        sub = sa.select(A.c.prompt_id).where(_compare(A.c.alias, cond.op, cond.value))
        return P.c.id.in_(sub)
    match = sa.select(PT.c.prompt_id).where(PT.c.key == cond.key)
    if cond.op == "!=":
        # MLflow semantics: a prompt without the tag does not match "!=" either.
        return P.c.id.in_(match.where(PT.c.value != cond.value))
    return P.c.id.in_(match.where(_compare(PT.c.value, cond.op, cond.value)))


def _compare(column: Any, op: str, value: Any) -> Any:
    if op == "=":
        return column == value
    if op == "!=":
        return column != value
    if op == "LIKE":
        return column.like(value, escape="\\")
    if op == "ILIKE":
        return column.ilike(value, escape="\\")
    if op == "IN":
        return column.in_(list(value))
    if op == "NOT IN":
        return column.not_in(list(value))
    raise InvalidArgumentError(f"Unsupported comparison {op!r}.")  # pragma: no cover


def _encode_token(kind: str, state: Any) -> str:
    raw = json.dumps({"k": kind, "s": state}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str, kind: str) -> Any:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if data["k"] != kind:
            raise ValueError
        return data["s"]
    except (ValueError, KeyError, TypeError):
        raise InvalidArgumentError(
            "Invalid page token: pass the next_page_token of the previous page of the "
            "same query unchanged."
        ) from None


def _normalize_url(uri: str) -> sa.URL:
    try:
        url = sa.make_url(uri)
    except sa.exc.ArgumentError:
        raise InvalidArgumentError(
            f"Invalid store URI {uri!r}: use sqlite:///path/to/file.db or "
            "postgresql://user@host:5432/dbname."
        ) from None
    backend = url.get_backend_name()
    if backend == "postgresql":
        return url.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        return url.set(drivername="sqlite")
    raise InvalidArgumentError(
        f"Unsupported store URI scheme {url.drivername!r}: use sqlite:///path/to/file.db or "
        "postgresql://user@host:5432/dbname."
    )


def _make_engine(url: sa.URL, busy_timeout_seconds: float) -> Engine:
    if url.get_backend_name() == "postgresql":
        return sa.create_engine(url, pool_size=8, max_overflow=24)
    database = url.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
    if not in_memory:
        Path(database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        url,
        connect_args={"timeout": busy_timeout_seconds, "check_same_thread": False},
        poolclass=StaticPool if in_memory else None,
    )
    busy_ms = int(busy_timeout_seconds * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        if not in_memory:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={busy_ms}")
        cur.execute("PRAGMA case_sensitive_like=ON")  # LIKE as in PostgreSQL and MLflow
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get("prompthouse_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")

    return engine


def upgrade_schema(engine: Engine) -> str | None:
    """Bring the schema to the newest migration; safe when several processes race.

    Returns the revision it upgraded from when it did anything, else ``None``.
    """
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    try:
        with engine.connect() as conn:
            if MigrationContext.configure(conn).get_current_revision() == head:
                conn.rollback()
                return None
            conn.rollback()
            conn.execution_options(prompthouse_write=True)
            with conn.begin():
                if engine.dialect.name == "postgresql":
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"),
                                 {"k": _PG_MIGRATION_LOCK})
                current = MigrationContext.configure(conn).get_current_revision()
                if current == head:
                    return None
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
                return current or "empty"
    except sa.exc.OperationalError as exc:
        url = engine.url.render_as_string(hide_password=True)
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise UnavailableError(f"The store {url} is unavailable: {reason}") from None
