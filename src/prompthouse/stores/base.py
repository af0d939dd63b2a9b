"""The store protocol: what a storage backend does. Stores persist; the registry rules.

A store receives arguments the :class:`~prompthouse.registry.Registry` has already
validated, and raises :class:`~prompthouse.errors.NotFoundError` (and, for an unreachable
backend, :class:`~prompthouse.errors.UnavailableError`) with messages a user can act on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from prompthouse.entities import Page, Prompt, PromptVersion
from prompthouse.templating import Messages

__all__ = ["NewVersion", "SearchCondition", "SearchQuery", "Store"]

OrderBy = Literal["name", "-name", "last_updated", "-last_updated"]


@dataclass(frozen=True, slots=True)
class SearchCondition:
    """One condition of a prompt search.

    ``field`` is ``name``, ``tag`` (``key`` names the tag) or ``alias`` (a prompt that has
    an alias equal to ``value``). ``op`` is one of ``=``, ``!=``, ``LIKE``, ``ILIKE``,
    ``IN``, ``NOT IN``; for ``IN`` and ``NOT IN`` the value is a tuple of strings.
    """

    field: Literal["name", "tag", "alias"]
    op: str
    value: str | tuple[str, ...]
    key: str | None = None


@dataclass(frozen=True, slots=True)
class SearchQuery:
    conditions: tuple[SearchCondition, ...] = ()
    order_by: OrderBy = "name"
    max_results: int = 100
    page_token: str | None = None


@dataclass(frozen=True, slots=True)
class NewVersion:
    """Everything a store writes for a new version (already validated)."""

    name: str
    template: str | Messages
    template_type: Literal["text", "chat"]
    template_json: str
    commit_message: str | None
    model_config: dict[str, Any] | None
    response_format: dict[str, Any] | None
    tags: dict[str, str] = field(default_factory=dict)
    prompt_tags: dict[str, str] = field(default_factory=dict)
    user_id: str | None = None
    timestamp_ms: int = 0
    version: int | None = None  # only for imports and migrations into an empty prompt
    # Optimistic concurrency: write only if the newest live version is still this one
    # (else ConflictError; a prompt that does not exist yet is NotFoundError).
    expected_latest: int | None = None


@runtime_checkable
class Store(Protocol):
    """A storage backend. Every method is one atomic operation."""

    uri: str
    """The store's URI with any password hidden (safe to log and show)."""

    def create_version(self, new: NewVersion) -> tuple[PromptVersion, bool]:
        """Write the next version of ``new.name``, creating the prompt if it is new.

        Returns the version and whether the prompt was created.
        """

    def get_version(self, name: str, version: int) -> PromptVersion: ...

    def get_version_by_alias(self, name: str, alias: str) -> PromptVersion: ...

    def get_latest_version(self, name: str) -> PromptVersion: ...

    def get_prompt(self, name: str) -> Prompt: ...

    def search_prompts(self, query: SearchQuery) -> Page[Prompt]: ...

    def list_versions(
        self, name: str, max_results: int, page_token: str | None
    ) -> Page[PromptVersion]: ...

    def set_alias(self, name: str, alias: str, version: int, user_id: str | None,
                  timestamp_ms: int) -> None: ...

    def delete_alias(self, name: str, alias: str, timestamp_ms: int) -> None: ...

    def set_prompt_tag(self, name: str, key: str, value: str, timestamp_ms: int) -> None: ...

    def delete_prompt_tag(self, name: str, key: str, timestamp_ms: int) -> None: ...

    def set_version_tag(self, name: str, version: int, key: str, value: str,
                        timestamp_ms: int) -> None: ...

    def delete_version_tag(self, name: str, version: int, key: str,
                           timestamp_ms: int) -> None: ...

    def set_model_config(self, name: str, version: int, model_config: dict[str, Any] | None,
                         timestamp_ms: int) -> None: ...

    def update_description(self, name: str, description: str | None,
                           timestamp_ms: int) -> None: ...

    def delete_version(self, name: str, version: int, timestamp_ms: int) -> list[str]:
        """Delete one version and the aliases that pointed at it; return those aliases."""

    def delete_prompt(self, name: str) -> None: ...

    def ping(self) -> None:
        """Raise :class:`~prompthouse.errors.UnavailableError` if the store is unreachable."""

    def close(self) -> None: ...
