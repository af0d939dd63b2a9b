"""The module-level API (``prompthouse.load_prompt`` and friends) and :func:`connect`.

The module-level functions act on a default registry, opened on first use: the server
named by ``PROMPTHOUSE_URL`` when it is set (the remote SDK), else the store named by
``PROMPTHOUSE_STORE_URI`` (default ``sqlite:///./prompthouse.db``). Use :func:`connect`
for an explicit registry object with the same methods, or :func:`set_default_registry`
to choose the default.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from prompthouse.entities import Page, Prompt, PromptModelConfig, PromptVersion
from prompthouse.registry import Registry
from prompthouse.settings import load_settings
from prompthouse.stores import open_store
from prompthouse.templating import Template

if TYPE_CHECKING:
    from prompthouse.remote import RemoteRegistry

_default: Registry | RemoteRegistry | None = None
_default_lock = threading.Lock()


def _is_server_url(value: str | None) -> bool:
    return isinstance(value, str) and value.lower().startswith(("http://", "https://"))


def connect(store_uri: str | None = None, *, config_file: str | Path | None = None,
            **settings: Any) -> Registry | RemoteRegistry:
    """Open a registry: a store URI, or a prompthouse server's ``http(s)://`` URL.

    With ``http://host:8000`` (or, without an argument, when ``PROMPTHOUSE_URL`` is set)
    the answer is a :class:`~prompthouse.remote.RemoteRegistry`: the same methods over
    HTTP (``api_key=``, ``request_timeout_seconds=``, ``request_retries=`` apply).
    Otherwise ``store_uri`` (default: ``PROMPTHOUSE_STORE_URI`` or SQLite) is opened
    and pending migrations are applied. Extra keyword arguments override settings
    (``alias_cache_ttl_seconds=5``, ...).
    """
    if _is_server_url(store_uri):
        resolved = load_settings(config_file, url=store_uri, **settings)
    else:
        resolved = load_settings(config_file, store_uri=store_uri, **settings)
    if (store_uri is None and resolved.url) or _is_server_url(store_uri):
        from prompthouse.remote import RemoteRegistry

        return RemoteRegistry(resolved.url or "", settings=resolved)
    return Registry(open_store(resolved.store_uri, resolved), resolved)


def get_default_registry() -> Registry | RemoteRegistry:
    """The registry the module-level functions use, opened on first call."""
    global _default
    registry = _default
    if registry is None:
        with _default_lock:
            if _default is None:
                _default = connect()
            registry = _default
    return registry


def set_default_registry(registry: Registry | RemoteRegistry | None) -> None:
    """Make ``registry`` the one module-level functions use (``None``: reopen from settings)."""
    global _default
    with _default_lock:
        _default = registry


def register_prompt(
    name: str,
    template: Template,
    commit_message: str | None = None,
    tags: Mapping[str, str] | None = None,
    response_format: type[BaseModel] | Mapping[str, Any] | None = None,
    model_config: PromptModelConfig | Mapping[str, Any] | None = None,
) -> PromptVersion:
    """Register the next version of ``name``; see :meth:`Registry.register_prompt`."""
    return get_default_registry().register_prompt(
        name, template, commit_message, tags, response_format, model_config
    )


def load_prompt(
    name_or_uri: str,
    version: int | str | None = None,
    allow_missing: bool = False,
    cache_ttl_seconds: float | None = None,
    *,
    fallback: Template | None = None,
) -> PromptVersion | None:
    """Load a version by URI or name, cached; see :meth:`Registry.load_prompt`.

    ``fallback`` (a template) is answered, marked ``is_fallback``, when the store or
    server is unavailable and nothing is cached.
    """
    return get_default_registry().load_prompt(name_or_uri, version, allow_missing,
                                              cache_ttl_seconds, fallback=fallback)


def get_prompt(name: str, allow_missing: bool = False) -> Prompt | None:
    return get_default_registry().get_prompt(name, allow_missing)


def search_prompts(filter_string: str | None = None, max_results: int = 100,
                   page_token: str | None = None, **criteria: Any) -> Page[Prompt]:
    """Find prompts; see :meth:`Registry.search_prompts` for the filters."""
    return get_default_registry().search_prompts(filter_string, max_results, page_token,
                                                 **criteria)


def list_prompt_versions(name: str, max_results: int = 100,
                         page_token: str | None = None) -> Page[PromptVersion]:
    return get_default_registry().list_prompt_versions(name, max_results, page_token)


def set_prompt_alias(name: str, alias: str, version: int) -> None:
    get_default_registry().set_prompt_alias(name, alias, version)


def delete_prompt_alias(name: str, alias: str) -> None:
    get_default_registry().delete_prompt_alias(name, alias)


def set_prompt_tag(name: str, key: str, value: str) -> None:
    get_default_registry().set_prompt_tag(name, key, value)


def delete_prompt_tag(name: str, key: str) -> None:
    get_default_registry().delete_prompt_tag(name, key)


def set_prompt_version_tag(name: str, version: int, key: str, value: str) -> None:
    get_default_registry().set_prompt_version_tag(name, version, key, value)


def delete_prompt_version_tag(name: str, version: int, key: str) -> None:
    get_default_registry().delete_prompt_version_tag(name, version, key)


def set_prompt_model_config(name: str, version: int,
                            model_config: PromptModelConfig | Mapping[str, Any]) -> None:
    get_default_registry().set_prompt_model_config(name, version, model_config)


def delete_prompt_model_config(name: str, version: int) -> None:
    get_default_registry().delete_prompt_model_config(name, version)


def set_prompt_description(name: str, description: str | None) -> None:
    get_default_registry().set_prompt_description(name, description)


def delete_prompt_version(name: str, version: int) -> list[str]:
    return get_default_registry().delete_prompt_version(name, version)


def delete_prompt(name: str) -> None:
    get_default_registry().delete_prompt(name)
