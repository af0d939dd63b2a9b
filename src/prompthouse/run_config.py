"""A Llama Stack ``run.yaml`` read as prompthouse settings.

``prompthouse serve --config run.yaml`` takes the ``prompts:`` provider list a Llama
Stack distribution uses (top level, or under ``providers:``)::

    prompts:
      - provider_id: reference-prompts
        provider_type: inline::reference
        config:
          run_config:
            storage:
              stores:
                prompts:
                  type: sqlite            # or postgres, with url: postgresql://...
                  db_path: ${env.SQLITE_STORE_DIR:=.}/prompts.db

and turns it into ``store_uri``. The file may also hold prompthouse's own settings keys
(``alias_cache_ttl_seconds: 5``); everything else in it is ignored. In what is read,
strings take Llama Stack's environment substitution: ``${env.VAR}`` (an error when
unset or empty), ``${env.VAR:=default}`` and ``${env.VAR:+value_if_set}``.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Collection, Mapping
from typing import Any

from prompthouse.errors import InvalidArgumentError

__all__ = ["is_run_config", "run_config_settings", "substitute_env"]

_ENV = re.compile(r"\$\{env\.([A-Z0-9_]+)(?::([=+])([^}]*))?\}")
_INLINE = "inline::reference"
_MLFLOW = "remote::mlflow"
_DISABLED = "__disabled__"
_STORE_PATH = "config.run_config.storage.stores.prompts"


def is_run_config(data: Mapping[str, Any]) -> bool:
    """True when ``data`` holds a Llama Stack ``prompts:`` provider list."""
    providers = data.get("providers")
    return "prompts" in data or (isinstance(providers, Mapping) and "prompts" in providers)


def substitute_env(value: Any, path: str = "") -> Any:
    """``value`` with ``${env.VAR...}`` replaced in every string, as Llama Stack does.

    A string that held a substitution is then typed like Llama Stack types it: ``""``
    is ``None``, ``true``/``false`` booleans, then int and float. ``~`` is expanded in
    substituted values.
    """
    if isinstance(value, Mapping):
        return {k: substitute_env(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute_env(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str) or "${env." not in value:
        return value

    def replace(match: re.Match[str]) -> str:
        name, operator, given = match.group(1), match.group(2), match.group(3)
        current = os.environ.get(name)
        if operator == "=":
            text = current or given
        elif operator == "+":
            text = given if current else ""
        elif not current:
            raise InvalidArgumentError(
                f"{path}: environment variable {name!r} is not set or empty; use "
                f"${{env.{name}:=default}} for a default or ${{env.{name}:+value}} for a "
                "value only when it is set."
            )
        else:
            text = current
        return os.path.expanduser(text)

    return _typed(_ENV.sub(replace, value))


def _typed(text: str) -> Any:
    if text == "":
        return None
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def run_config_settings(data: Mapping[str, Any], source: str,
                        known: Collection[str]) -> dict[str, Any]:
    """The settings a run.yaml asks for: its keys named in ``known`` plus ``store_uri``.

    Only the prompts provider list and those keys are read (and substituted); the rest
    of a Llama Stack run.yaml is ignored. Raises :class:`InvalidArgumentError` naming
    the key at fault and what is allowed.
    """
    providers_key = "prompts"
    providers = data.get("prompts")
    if providers is None and isinstance(data.get("providers"), Mapping):
        providers_key, providers = "providers.prompts", data["providers"].get("prompts")
    if not isinstance(providers, list):
        raise InvalidArgumentError(
            f"{source}: {providers_key} must be a list of providers, each with provider_id, "
            f"provider_type ({_INLINE}) and config."
        )
    try:
        providers = substitute_env(providers, providers_key)
        settings = {k: substitute_env(v, k) for k, v in data.items() if k in known}
    except InvalidArgumentError as exc:
        raise InvalidArgumentError(f"{source}: {exc.message}") from None
    active = [(i, p) for i, p in enumerate(providers)
              if not (isinstance(p, Mapping) and p.get("provider_id") == _DISABLED)]
    if len(active) != 1:
        raise InvalidArgumentError(
            f"{source}: {providers_key} must hold exactly one provider (prompthouse serves "
            f"one store), not {len(active)}."
        )
    index, provider = active[0]
    where = f"{providers_key}[{index}]"
    if not isinstance(provider, Mapping):
        raise InvalidArgumentError(f"{source}: {where} must be a mapping with provider_type.")
    if "store_uri" in data:
        raise InvalidArgumentError(
            f"{source}: give the store either as store_uri or as the {providers_key} "
            "provider, not both."
        )
    if provider.get("provider_type") == _MLFLOW:
        settings.update(_mlflow_settings(provider, where, source))
    else:
        settings["store_uri"] = _store_uri(provider, where, source)
    return settings


def _mlflow_settings(provider: Mapping[str, Any], where: str, source: str) -> dict[str, Any]:
    """``remote::mlflow``: the seed's config keys as a store URI and a token setting.

    ``mlflow_registry_uri`` (default: the tracking URI, default http://localhost:5000)
    names the server; ``experiment_name`` (default ``llama-stack-prompts``) rides in the
    URI; ``auth_credential`` becomes the token sent to MLflow (empty: MLFLOW_TRACKING_TOKEN).
    """
    config = provider.get("config") or {}
    if not isinstance(config, Mapping):
        raise InvalidArgumentError(f"{source}: {where}.config must be a mapping.")
    uri = config.get("mlflow_registry_uri") or config.get("mlflow_tracking_uri") or \
        "http://localhost:5000"
    if not isinstance(uri, str) or not uri.startswith(("http://", "https://")):
        raise InvalidArgumentError(
            f"{source}: {where}.config.mlflow_registry_uri (or mlflow_tracking_uri) must be "
            f"an http:// or https:// URL of an MLflow server, not {uri!r}."
        )
    experiment = config.get("experiment_name") or "llama-stack-prompts"
    out: dict[str, Any] = {
        "store_uri": f"mlflow+{uri.rstrip('/')}?"
        + urllib.parse.urlencode({"experiment_name": str(experiment)})
    }
    credential = config.get("auth_credential")
    if credential:
        out["mlflow_token"] = str(credential)
    return out


def _store_uri(provider: Mapping[str, Any], where: str, source: str) -> str:
    kind = provider.get("provider_type")
    if kind != _INLINE:
        raise InvalidArgumentError(
            f"{source}: {where}.provider_type must be {_INLINE!r} or {_MLFLOW!r}, not {kind!r}."
        )
    node: Any = provider
    walked = where
    for key in _STORE_PATH.split("."):
        node = node.get(key) if isinstance(node, Mapping) else None
        walked += "." + key
        if not isinstance(node, Mapping):
            raise InvalidArgumentError(
                f"{source}: {walked} is missing; it must be a mapping (the prompts store: "
                "type sqlite with db_path, or type postgres with url)."
            )
    return _uri_of(node, f"{where}.{_STORE_PATH}", source)


def _uri_of(store: Mapping[str, Any], where: str, source: str) -> str:
    kind = store.get("type")
    if kind == "sqlite":
        db_path = store.get("db_path")
        if not isinstance(db_path, str) or not db_path:
            raise InvalidArgumentError(
                f"{source}: {where}.db_path must be the SQLite file's path, not {db_path!r}."
            )
        return "sqlite:///" + os.path.expanduser(db_path)
    if kind == "postgres":
        return _postgres_uri(store, where, source)
    raise InvalidArgumentError(
        f"{source}: {where}.type must be 'sqlite' (with db_path) or 'postgres' (with url, "
        f"or host, port, db, user, password), not {kind!r}."
    )


def _postgres_uri(store: Mapping[str, Any], where: str, source: str) -> str:
    url = store.get("url")
    if url is not None:
        if not isinstance(url, str) or not url.startswith(
            ("postgresql://", "postgresql+psycopg://", "postgres://")
        ):
            raise InvalidArgumentError(
                f"{source}: {where}.url must be a postgresql://user:password@host:port/db URL."
            )
        return "postgresql://" + url.split("://", 1)[1] if url.startswith("postgres://") \
            else url
    import sqlalchemy as sa

    port = store.get("port", 5432)
    if isinstance(port, bool) or not isinstance(port, int):
        raise InvalidArgumentError(f"{source}: {where}.port must be an integer, not {port!r}.")
    return sa.engine.URL.create(
        "postgresql",
        username=store.get("user"),
        password=store.get("password"),
        host=store.get("host", "localhost"),
        port=port,
        database=store.get("db", "llamastack"),
    ).render_as_string(hide_password=False)
