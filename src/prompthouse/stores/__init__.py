"""Storage backends. :func:`open_store` picks one from a store URI."""

from __future__ import annotations

from prompthouse.errors import InvalidArgumentError
from prompthouse.settings import Settings
from prompthouse.stores.base import Store

__all__ = ["Store", "open_store"]


def open_store(uri: str, settings: Settings | None = None) -> Store:
    """Open the store a URI names, applying pending migrations.

    ``sqlite:///path.db`` (the default is ``sqlite:///./prompthouse.db``) and
    ``postgresql://user@host:5432/db`` (``postgresql+psycopg://`` also accepted).
    """
    settings = settings or Settings()
    scheme = uri.split(":", 1)[0].lower() if ":" in uri else ""
    if scheme.startswith("sqlite") or scheme.startswith("postgres"):
        from prompthouse.stores.sql import SqlStore

        return SqlStore(uri, busy_timeout_seconds=settings.sqlite_busy_timeout_seconds)
    raise InvalidArgumentError(
        f"Unsupported store URI {uri.split('://')[0] + '://...' if '://' in uri else uri!r}: "
        "use sqlite:///path/to/file.db or postgresql://user@host:5432/dbname."
    )
