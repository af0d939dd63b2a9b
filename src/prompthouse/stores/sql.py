"""The SQL store: SQLite (default) and PostgreSQL through SQLAlchemy 2 Core.

Version numbers come from ``prompts.next_version``, bumped by an ``UPDATE ... RETURNING``
in the same transaction as the insert, so concurrent writers never clash and a number is
never reused (deletes included). SQLite runs in WAL mode with foreign keys on, a busy
timeout, and every write in ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import base64
import json
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
from prompthouse.errors import InvalidArgumentError, NotFoundError, UnavailableError
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
_VERSION_COLS = (
    V.c.prompt_id, V.c.version, V.c.template_type, V.c.template, V.c.commit_message,
    V.c.model_config, V.c.response_format, V.c.created_at, V.c.updated_at, V.c.created_by,
)

# The hot-path statements, built once so SQLAlchemy's compiled cache always hits.
_BY_VERSION = (
    sa.select(*_VERSION_COLS)
    .select_from(P.join(V, V.c.prompt_id == P.c.id))
    .where(P.c.name == sa.bindparam("name"), V.c.version == sa.bindparam("version"), _LIVE)
)
_BY_ALIAS = (
    sa.select(*_VERSION_COLS)
    .select_from(
        P.join(A, A.c.prompt_id == P.c.id).join(
            V, sa.and_(V.c.prompt_id == A.c.prompt_id, V.c.version == A.c.version)
        )
    )
    .where(P.c.name == sa.bindparam("name"), A.c.alias == sa.bindparam("alias"), _LIVE)
)
_LATEST = (
    sa.select(*_VERSION_COLS)
    .select_from(P.join(V, V.c.prompt_id == P.c.id))
    .where(P.c.name == sa.bindparam("name"), _LIVE)
    .order_by(V.c.version.desc())
    .limit(1)
)
# Version tags and the aliases on a version, in one round trip.
_DECORATIONS = sa.union_all(
    sa.select(sa.literal("t").label("kind"), VT.c.key, VT.c.value).where(
        VT.c.prompt_id == sa.bindparam("pid"), VT.c.version == sa.bindparam("ver")
    ),
    sa.select(sa.literal("a").label("kind"), A.c.alias, sa.null()).where(
        A.c.prompt_id == sa.bindparam("pid"), A.c.version == sa.bindparam("ver")
    ),
)
_PROMPT_ID = sa.select(P.c.id).where(P.c.name == sa.bindparam("name"))


class SqlStore:
    """A registry store in a SQL database (``sqlite:///...`` or ``postgresql://...``)."""

    def __init__(self, uri: str, *, busy_timeout_seconds: float = 30.0,
                 migrate: bool = True) -> None:
        url = _normalize_url(uri)
        self.dialect = url.get_backend_name()
        self.uri = url.render_as_string(hide_password=True)
        self._engine = _make_engine(url, busy_timeout_seconds)
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

    def _unavailable(self, exc: sa.exc.OperationalError) -> UnavailableError:
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

    def _to_version(self, conn: Connection, name: str, row: Any) -> PromptVersion:
        tags: dict[str, str] = {}
        aliases: list[str] = []
        for kind, key, value in conn.execute(_DECORATIONS, {"pid": row[0], "ver": row[1]}):
            if kind == "t":
                tags[key] = value
            else:
                aliases.append(key)
        aliases.sort()
        template = row[3] if row[2] == "text" else freeze_template(json.loads(row[3]))
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
            tags=tags,
            aliases=tuple(aliases),
        )

    # --- versions ---------------------------------------------------------------------

    def create_version(self, new: NewVersion) -> tuple[PromptVersion, bool]:
        ts = new.timestamp_ms
        with self._write() as conn:
            insert = _insert(self.dialect, P).values(
                name=new.name, description=new.commit_message, created_at=ts, updated_at=ts,
                created_by=new.user_id, next_version=1,
            ).on_conflict_do_nothing(index_elements=["name"])
            created = conn.execute(insert).rowcount == 1
            bumped = conn.execute(
                sa.update(P)
                .where(P.c.name == new.name)
                .values(next_version=P.c.next_version + 1, updated_at=ts)
                .returning(P.c.id, P.c.next_version)
            ).one()
            pid, version = bumped[0], bumped[1] - 1
            if new.version is not None:
                version = self._claim_version(conn, pid, new.name, new.version, version)
            conn.execute(
                sa.insert(V).values(
                    prompt_id=pid, version=version, template_type=new.template_type,
                    template=new.template_json, commit_message=new.commit_message,
                    model_config=_dump(new.model_config),
                    response_format=_dump(new.response_format),
                    created_at=ts, updated_at=ts, created_by=new.user_id,
                )
            )
            if new.tags:
                conn.execute(
                    sa.insert(VT),
                    [{"prompt_id": pid, "version": version, "key": k, "value": v}
                     for k, v in new.tags.items()],
                )
            for key, value in new.prompt_tags.items():
                self._upsert_prompt_tag(conn, pid, key, value)
            result = PromptVersion._trusted(
                name=new.name, version=version, template=new.template,
                commit_message=new.commit_message, model_config=new.model_config,
                response_format=new.response_format, creation_timestamp=ts,
                last_updated_timestamp=ts, user_id=new.user_id, tags=dict(new.tags),
                aliases=(),
            )
        return result, created

    def _claim_version(self, conn: Connection, pid: int, name: str, wanted: int,
                       allocated: int) -> int:
        """Use an explicit version number (imports): it must not have been used yet."""
        if wanted < allocated:
            raise InvalidArgumentError(
                f"Version {wanted} of prompt {name!r} cannot be imported: numbers up to "
                f"{allocated - 1} are already taken (numbers are never reused)."
            )
        conn.execute(sa.update(P).where(P.c.id == pid).values(next_version=wanted + 1))
        return wanted

    def get_version(self, name: str, version: int) -> PromptVersion:
        with self._read() as conn:
            row = conn.execute(_BY_VERSION, {"name": name, "version": version}).first()
            if row is None:
                self._prompt_id(conn, name)
                raise NotFoundError(f"Prompt {name!r} has no version {version}.")
            return self._to_version(conn, name, row)

    def get_version_by_alias(self, name: str, alias: str) -> PromptVersion:
        with self._read() as conn:
            row = conn.execute(_BY_ALIAS, {"name": name, "alias": alias}).first()
            if row is None:
                self._prompt_id(conn, name)
                raise NotFoundError(f"Prompt {name!r} has no alias {alias!r}.")
            return self._to_version(conn, name, row)

    def get_latest_version(self, name: str) -> PromptVersion:
        with self._read() as conn:
            row = conn.execute(_LATEST, {"name": name}).first()
            if row is None:
                self._prompt_id(conn, name)
                raise NotFoundError(f"Prompt {name!r} has no versions.")
            return self._to_version(conn, name, row)

    def list_versions(
        self, name: str, max_results: int, page_token: str | None
    ) -> Page[PromptVersion]:
        after = _decode_token(page_token, "v") if page_token else None
        with self._read() as conn:
            pid = self._prompt_id(conn, name)
            stmt = sa.select(*_VERSION_COLS).where(V.c.prompt_id == pid, _LIVE)
            if after is not None:
                stmt = stmt.where(V.c.version < int(after))
            rows = conn.execute(
                stmt.order_by(V.c.version.desc()).limit(max_results + 1)
            ).all()
            more = len(rows) > max_results
            rows = rows[:max_results]
            items = [self._to_version(conn, name, row) for row in rows]
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

    def _prompts(self, conn: Connection, rows: list[Any]) -> list[Prompt]:
        """Prompts for rows of ``prompts``, with tags, aliases and latest version batched."""
        ids = [row.id for row in rows]
        if not ids:
            return []
        tags: dict[int, dict[str, str]] = {i: {} for i in ids}
        for pid, key, value in conn.execute(
            sa.select(PT.c.prompt_id, PT.c.key, PT.c.value).where(PT.c.prompt_id.in_(ids))
        ):
            tags[pid][key] = value
        aliases: dict[int, dict[str, int]] = {i: {} for i in ids}
        for pid, alias, version in conn.execute(
            sa.select(A.c.prompt_id, A.c.alias, A.c.version)
            .where(A.c.prompt_id.in_(ids))
            .order_by(A.c.alias)
        ):
            aliases[pid][alias] = version
        latest = dict(
            conn.execute(
                sa.select(V.c.prompt_id, sa.func.max(V.c.version))
                .where(V.c.prompt_id.in_(ids), _LIVE)
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
        return sa.create_engine(url, pool_pre_ping=True, pool_size=8, max_overflow=24)
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
