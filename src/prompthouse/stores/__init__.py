"""Storage backends. :func:`open_store` picks one from a store URI."""

from __future__ import annotations

from prompthouse.errors import InvalidArgumentError
from prompthouse.settings import Settings
from prompthouse.stores.base import Store

__all__ = ["Store", "open_store"]


def open_store(uri: str, settings: Settings | None = None) -> Store:
    """Open the store a URI names, applying pending migrations.

    ``sqlite:///path.db`` (the default is ``sqlite:///./prompthouse.db``),
    ``postgresql://user@host:5432/db`` (``postgresql+psycopg://`` also accepted) and
    ``mlflow+http://host:5000`` or ``mlflow+https://...`` (an MLflow server; its token
    from ``MLFLOW_TRACKING_TOKEN``, see :class:`~prompthouse.stores.mlflow.MlflowStore`).
    """
    settings = settings or Settings()
    scheme = uri.split(":", 1)[0].lower() if ":" in uri else ""
    if scheme.startswith("sqlite") or scheme.startswith("postgres"):
        from prompthouse.stores.sql import SqlStore

        return SqlStore(uri, busy_timeout_seconds=settings.sqlite_busy_timeout_seconds)
    if scheme in ("mlflow+http", "mlflow+https"):
        from prompthouse.stores.mlflow import MlflowStore

        # A token from the settings (a run.yaml's auth_credential), when they carry one;
        # else the store reads MLFLOW_TRACKING_TOKEN.
        token = getattr(settings, "mlflow_token", None)
        if token is not None and hasattr(token, "get_secret_value"):
            token = token.get_secret_value()
        return MlflowStore(uri, token=token or None, timeout=settings.request_timeout_seconds)
    raise InvalidArgumentError(
        f"Unsupported store URI {uri.split('://')[0] + '://...' if '://' in uri else uri!r}: "
        "use sqlite:///path/to/file.db, postgresql://user@host:5432/dbname or "
        "mlflow+http://host:5000 (an MLflow server)."
    )
