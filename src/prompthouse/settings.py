"""Configuration: ``PROMPTHOUSE_*`` environment variables and an optional YAML file.

Precedence, highest first: arguments passed in code, environment variables, the YAML
file named by ``PROMPTHOUSE_CONFIG`` (or passed as ``config_file``), the defaults. The
file may be a Llama Stack run.yaml (see :mod:`prompthouse.run_config`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from prompthouse import run_config
from prompthouse.errors import InvalidArgumentError

__all__ = ["DEFAULT_STORE_URI", "Settings", "load_settings"]

DEFAULT_STORE_URI = "sqlite:///./prompthouse.db"


class Settings(BaseSettings):
    """Every setting prompthouse reads, with its environment variable in the docs."""

    model_config = SettingsConfigDict(env_prefix="PROMPTHOUSE_", extra="ignore")

    store_uri: str = Field(
        DEFAULT_STORE_URI,
        description="Where prompts live: sqlite:///path.db or postgresql+psycopg://...",
    )
    alias_cache_ttl_seconds: float = Field(
        60.0, ge=0, description="How long load_prompt serves an alias from its cache."
    )
    version_cache_ttl_seconds: float | None = Field(
        None, ge=0, description="How long load_prompt caches a version; unset: no expiry."
    )
    cache_max_entries: int = Field(
        4096, ge=0, description="Most prompt versions load_prompt keeps cached (LRU)."
    )
    max_template_chars: int = Field(
        100_000, gt=0, description="Longest template accepted, in characters."
    )
    mlflow_token: SecretStr | None = Field(
        None, description="MLflow store: the token sent to MLflow (else MLFLOW_TRACKING_TOKEN)."
    )
    max_request_bytes: int = Field(
        1_048_576, gt=0, description="Largest request body the server accepts (413 above)."
    )
    sqlite_busy_timeout_seconds: float = Field(
        30.0, gt=0, description="How long a SQLite writer waits for the write lock."
    )
    url: str | None = Field(
        None,
        description="A prompthouse server (http://host:8000): connect() and the module-level "
                    "functions then use the remote SDK instead of store_uri.",
    )
    api_key: SecretStr | None = Field(
        None, description="Sent to the server as 'Authorization: Bearer <key>'; never shown."
    )
    request_timeout_seconds: float = Field(
        5.0, gt=0, description="Remote SDK: connect and read timeout of each HTTP request."
    )
    request_retries: int = Field(
        2, ge=0, le=10,
        description="Remote SDK: retries of an idempotent request (GET, PUT, PATCH, DELETE) "
                    "after a connection error, timeout or 502/503/504.",
    )


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Read the settings; a bad value raises :class:`InvalidArgumentError` naming it."""
    import os

    file_values: dict[str, Any] = {}
    path = config_file or os.environ.get("PROMPTHOUSE_CONFIG")
    if path:
        try:
            loaded = yaml.safe_load(Path(path).read_text()) or {}
        except OSError as exc:
            raise InvalidArgumentError(f"Cannot read the config file {path}: {exc.strerror}")
        except yaml.YAMLError as exc:
            raise InvalidArgumentError(f"The config file {path} is not valid YAML: {exc}")
        if not isinstance(loaded, dict):
            raise InvalidArgumentError(f"The config file {path} must hold a mapping of settings.")
        known = set(Settings.model_fields)
        if run_config.is_run_config(loaded):  # a Llama Stack run.yaml
            loaded = run_config.run_config_settings(loaded, str(path), known)
        file_values = {k: v for k, v in loaded.items() if k in known}
    env_set = {
        name
        for name in Settings.model_fields
        if f"PROMPTHOUSE_{name.upper()}" in os.environ
    }
    init = {k: v for k, v in file_values.items() if k not in env_set}
    init.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(**init)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidArgumentError(f"Invalid settings: {problems}") from None
