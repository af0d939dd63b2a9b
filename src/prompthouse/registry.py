"""The registry: every rule of prompthouse in one place, over a store.

The embedded SDK, the CLI and the server all call a :class:`Registry`; a store only
persists what the registry has validated. ``load_prompt`` answers from an in-process
cache (see :mod:`prompthouse.cache`) that the registry's own writes keep exact.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel

from prompthouse.cache import PromptCache
from prompthouse.entities import (
    Page,
    Prompt,
    PromptModelConfig,
    PromptVersion,
    normalize_model_config,
    normalize_response_format,
)
from prompthouse.errors import InvalidArgumentError, NotFoundError, UnavailableError
from prompthouse.search import parse_filter
from prompthouse.settings import Settings
from prompthouse.stores.base import NewVersion, SearchCondition, SearchQuery, Store
from prompthouse.templating import Template, validate_template
from prompthouse.uris import PromptRef, parse_prompt_ref

__all__ = ["Registry", "validate_alias", "validate_name"]

NAME_MAX = 255
ALIAS_MAX = 255
TAG_KEY_MAX = 250
TAG_VALUE_MAX = 8_000
TEXT_FIELD_MAX = 10_000  # commit messages and descriptions
JSON_FIELD_MAX = 100_000  # model config and response format, serialized
USER_MAX = 255
MAX_PAGE = 1000

_NAME_SEGMENT = re.compile(r"^[A-Za-z0-9_.\-]+$")
# Words that follow a prompt name in HTTP paths (/prompts/{name}/versions/3): a folder
# after the first may not be one, so every path has one reading.
RESERVED_SEGMENTS = frozenset(
    {"versions", "aliases", "tags", "diff", "render", "model-config", "set-default-version"}
)
_ALIAS = re.compile(r"^[A-Za-z0-9_\-]+$")
_RESERVED_ALIAS = re.compile(r"^(latest|v\d+)$", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ORDERS = ("name", "-name", "last_updated", "-last_updated")


def validate_name(name: object) -> str:
    """A prompt name: letters, digits, ``_ . -``; ``/`` separates folders; at most 255."""
    if not isinstance(name, str) or not name:
        raise InvalidArgumentError("A prompt name must be a non-empty string.")
    if len(name) > NAME_MAX:
        raise InvalidArgumentError(
            f"Prompt name is {len(name)} characters long; the limit is {NAME_MAX}."
        )
    segments = name.split("/")
    for segment in segments:
        if not _NAME_SEGMENT.match(segment) or segment in (".", ".."):
            raise InvalidArgumentError(
                f"Invalid prompt name {name!r}: use letters, digits, '_', '.' and '-', with "
                "'/' between folder names (no empty, '.' or '..' folder)."
            )
    for segment in segments[1:]:
        if segment in RESERVED_SEGMENTS:
            raise InvalidArgumentError(
                f"Invalid prompt name {name!r}: after the first folder, a part of the name "
                f"cannot be {segment!r} (reserved for HTTP paths: "
                f"{', '.join(sorted(RESERVED_SEGMENTS))})."
            )
    return name


def validate_alias(alias: object) -> str:
    """An alias: letters, digits, ``_`` and ``-``; at most 255; not ``latest`` or ``v<n>``."""
    if not isinstance(alias, str) or not _ALIAS.match(alias):
        raise InvalidArgumentError(
            f"Invalid alias {alias!r}: use letters, digits, '_' and '-' only."
        )
    if len(alias) > ALIAS_MAX:
        raise InvalidArgumentError(
            f"Alias is {len(alias)} characters long; the limit is {ALIAS_MAX}."
        )
    if _RESERVED_ALIAS.match(alias):
        raise InvalidArgumentError(
            f"The alias {alias!r} is reserved: 'latest' always means the newest version and "
            "'v<number>' would read as a version. Pick another name."
        )
    return alias


def _validate_version(version: object) -> int:
    if isinstance(version, bool) or not isinstance(version, (int, str)):
        raise InvalidArgumentError(f"A version is a positive integer, not {version!r}.")
    try:
        number = int(version)
    except ValueError:
        raise InvalidArgumentError(f"A version is a positive integer, not {version!r}.") from None
    if number < 1:
        raise InvalidArgumentError(f"A version is a positive integer, not {version!r}.")
    return number


def _validate_text(value: object, what: str, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidArgumentError(f"The {what} must be a string, not {type(value).__name__}.")
    if len(value) > limit:
        raise InvalidArgumentError(
            f"The {what} is {len(value)} characters long; the limit is {limit}."
        )
    return value


def _validate_tag(key: object, value: object) -> tuple[str, str]:
    if not isinstance(key, str) or not key.strip():
        raise InvalidArgumentError(f"A tag key must be a non-empty string, not {key!r}.")
    if len(key) > TAG_KEY_MAX or _CONTROL.search(key):
        raise InvalidArgumentError(
            f"Invalid tag key {key[:40]!r}: at most {TAG_KEY_MAX} characters, no control "
            "characters."
        )
    if value is None or isinstance(value, (dict, list, tuple, set)):
        raise InvalidArgumentError(
            f"The value of tag {key!r} must be a string (or a number or boolean, stored as "
            "text)."
        )
    text = value if isinstance(value, str) else json.dumps(value) if isinstance(value, bool) \
        else str(value)
    if len(text) > TAG_VALUE_MAX:
        raise InvalidArgumentError(
            f"The value of tag {key!r} is {len(text)} characters long; the limit is "
            f"{TAG_VALUE_MAX}."
        )
    return key, text


def _validate_tags(tags: object) -> dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise InvalidArgumentError(f"Tags must be a dict of strings, not {type(tags).__name__}.")
    return dict(_validate_tag(k, v) for k, v in tags.items())


def _check_json_size(value: Any, what: str) -> None:
    if value is not None and len(json.dumps(value)) > JSON_FIELD_MAX:
        raise InvalidArgumentError(
            f"The {what} is larger than {JSON_FIELD_MAX} characters as JSON."
        )


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


ChangeListener = Callable[[str, str], None]


class Registry:
    """A prompt registry over a :class:`~prompthouse.stores.base.Store`.

    Get one with :func:`prompthouse.connect`. Every method validates its arguments and
    raises a :class:`~prompthouse.errors.PromptHouseError` subclass that says what was
    wrong and what is allowed.
    """

    def __init__(self, store: Store, settings: Settings | None = None) -> None:
        self.store = store
        self.settings = settings or Settings()
        self.cache = PromptCache(self.settings.cache_max_entries)
        self._listeners: list[ChangeListener] = []

    @property
    def uri(self) -> str:
        return self.store.uri

    def __repr__(self) -> str:
        return f"Registry({self.store.uri!r})"

    def close(self) -> None:
        self.store.close()

    def on_change(self, listener: ChangeListener) -> None:
        """Call ``listener(name, event)`` after every write (``event`` names the operation)."""
        self._listeners.append(listener)

    def _changed(self, name: str, event: str) -> None:
        self.cache.invalidate(name)
        for listener in self._listeners:
            listener(name, event)

    # --- writing versions -------------------------------------------------------------

    def register_prompt(
        self,
        name: str,
        template: Template,
        commit_message: str | None = None,
        tags: Mapping[str, str] | None = None,
        response_format: type[BaseModel] | Mapping[str, Any] | None = None,
        model_config: PromptModelConfig | Mapping[str, Any] | None = None,
        *,
        user_id: str | None = None,
        expected_latest_version: int | None = None,
    ) -> PromptVersion:
        """Register ``template`` as the next version of ``name`` (creating the prompt).

        ``tags`` are set on the new version and on the prompt (as MLflow does).
        ``expected_latest_version``: write only if the newest live version is still this
        one, checked atomically with the write; otherwise :class:`ConflictError` (and
        :class:`NotFoundError` if the prompt does not exist). Returns the new version.
        """
        new = self._new_version(name, template, commit_message, tags, response_format,
                                model_config, user_id)
        if expected_latest_version is not None:
            new = dataclasses.replace(
                new, expected_latest=_validate_version(expected_latest_version)
            )
        version, created = self.store.create_version(new)
        self._changed(name, "prompt_created" if created else "version_created")
        return version

    def _new_version(
        self,
        name: str,
        template: Any,
        commit_message: Any,
        tags: Any,
        response_format: Any,
        model_config: Any,
        user_id: Any,
        version: int | None = None,
        timestamp_ms: int | None = None,
    ) -> NewVersion:
        validate_name(name)
        frozen = validate_template(template)
        if isinstance(frozen, str):
            size, kind, payload = len(frozen), "text", frozen
        else:
            payload = json.dumps(template, separators=(",", ":"), ensure_ascii=False)
            size, kind = len(payload), "chat"
        limit = self.settings.max_template_chars
        if size > limit:
            raise InvalidArgumentError(
                f"The template is {size} characters long; the limit is {limit} "
                "(setting PROMPTHOUSE_MAX_TEMPLATE_CHARS)."
            )
        config = normalize_model_config(model_config)
        fmt = normalize_response_format(response_format)
        _check_json_size(config, "model config")
        _check_json_size(fmt, "response format")
        version_tags = _validate_tags(tags)
        return NewVersion(
            name=name,
            template=frozen,
            template_type=kind,
            template_json=payload,
            commit_message=_validate_text(commit_message, "commit message", TEXT_FIELD_MAX),
            model_config=config,
            response_format=fmt,
            tags=version_tags,
            prompt_tags=version_tags,
            user_id=_validate_text(user_id, "user id", USER_MAX),
            timestamp_ms=_now_ms() if timestamp_ms is None else timestamp_ms,
            version=version,
        )

    def import_version(
        self,
        name: str,
        version: int,
        template: Template,
        commit_message: str | None = None,
        tags: Mapping[str, str] | None = None,
        response_format: Mapping[str, Any] | None = None,
        model_config: Mapping[str, Any] | None = None,
        *,
        user_id: str | None = None,
        creation_timestamp: int | None = None,
    ) -> PromptVersion:
        """Write a version with an explicit number (imports and migrations).

        The number must be higher than every number the prompt has used; numbers in
        between stay unused for good. Tags go on the version only (import prompt tags
        with :meth:`set_prompt_tag`).
        """
        if creation_timestamp is not None and (
            isinstance(creation_timestamp, bool) or not isinstance(creation_timestamp, int)
            or creation_timestamp < 0
        ):
            raise InvalidArgumentError(
                f"creation_timestamp is milliseconds since the epoch, not {creation_timestamp!r}."
            )
        new = self._new_version(name, template, commit_message, tags, response_format,
                                model_config, user_id, version=_validate_version(version),
                                timestamp_ms=creation_timestamp)
        new = dataclasses.replace(new, prompt_tags={})
        result, created = self.store.create_version(new)
        self._changed(name, "prompt_created" if created else "version_created")
        return result

    # --- reading ----------------------------------------------------------------------

    def load_prompt(
        self,
        name_or_uri: str,
        version: int | str | None = None,
        allow_missing: bool = False,
        cache_ttl_seconds: float | None = None,
        *,
        fallback: Template | None = None,
    ) -> PromptVersion | None:
        """Load a prompt version by URI or name (see :mod:`prompthouse.uris`), cached.

        Alias and ``@latest`` loads are cached for ``alias_cache_ttl_seconds`` (60 s),
        version loads without expiry; ``cache_ttl_seconds`` overrides, and ``0`` neither
        reads nor writes the cache. ``allow_missing=True`` returns ``None`` when the
        prompt, version or alias does not exist. ``fallback`` (a template): returned as
        an uncached version 0 with ``is_fallback`` True when the store is unavailable,
        instead of raising :class:`~prompthouse.errors.UnavailableError`.
        """
        use_cache = cache_ttl_seconds is None or cache_ttl_seconds > 0
        key = (name_or_uri, version)
        if use_cache:
            hit = self.cache.get(key)
            if hit is not None:
                return hit
        if cache_ttl_seconds is not None and (
            isinstance(cache_ttl_seconds, bool) or cache_ttl_seconds < 0
        ):
            raise InvalidArgumentError(
                f"cache_ttl_seconds must be a number >= 0 (0 bypasses the cache), "
                f"not {cache_ttl_seconds!r}."
            )
        ref = parse_prompt_ref(name_or_uri, version)
        generation = self.cache.generation(ref.name)
        try:
            result = self._resolve(ref)
        except NotFoundError:
            if allow_missing:
                return None
            raise
        except UnavailableError:
            if fallback is None:
                raise
            return PromptVersion._fallback(ref.name, fallback)
        if use_cache:
            ttl = cache_ttl_seconds
            if ttl is None:
                ttl = (self.settings.version_cache_ttl_seconds if ref.version is not None
                       else self.settings.alias_cache_ttl_seconds)
            self.cache.put(key, ref.name, result, ttl, generation)
        return result

    def _resolve(self, ref: PromptRef) -> PromptVersion:
        validate_name(ref.name)
        if ref.version is not None:
            return self.store.get_version(ref.name, ref.version)
        if ref.is_latest:
            return self.store.get_latest_version(ref.name)
        return self.store.get_version_by_alias(ref.name, validate_alias(ref.alias))

    def get_prompt_version(self, name: str, version: int | str) -> PromptVersion:
        """One version by number, straight from the store (no cache)."""
        return self.store.get_version(validate_name(name), _validate_version(version))

    def get_prompt_version_by_alias(self, name: str, alias: str) -> PromptVersion:
        """The version an alias points at (``latest``: the newest), from the store."""
        return self._resolve(PromptRef(name, alias=alias))

    def get_prompt(self, name: str, allow_missing: bool = False) -> Prompt | None:
        """The prompt: description, tags, aliases and latest version number."""
        try:
            return self.store.get_prompt(validate_name(name))
        except NotFoundError:
            if allow_missing:
                return None
            raise

    def search_prompts(
        self,
        filter_string: str | None = None,
        max_results: int = 100,
        page_token: str | None = None,
        *,
        name_pattern: str | None = None,
        tags: Mapping[str, str] | None = None,
        alias: str | None = None,
        order_by: str = "name",
    ) -> Page[Prompt]:
        """Find prompts; a page of at most ``max_results`` (1..1000) with a next-page token.

        ``filter_string`` takes MLflow's grammar (``name LIKE 'qa-%' AND tags.team = 'a'``
        and ``alias = 'production'``). ``name_pattern`` is a case-insensitive LIKE pattern
        (``%`` any run, ``_`` one character); ``tags`` must all match exactly; ``alias``
        keeps prompts that have that alias. ``order_by``: ``name``, ``-name``,
        ``last_updated`` or ``-last_updated`` (``-`` is descending).
        """
        conditions = list(parse_filter(filter_string))
        if name_pattern is not None:
            conditions.append(SearchCondition("name", "ILIKE", str(name_pattern)))
        for key, value in _validate_tags(tags).items():
            conditions.append(SearchCondition("tag", "=", value, key=key))
        if alias is not None:
            conditions.append(SearchCondition("alias", "=", str(alias)))
        if order_by not in _ORDERS:
            raise InvalidArgumentError(
                f"Invalid order_by {order_by!r}: use one of {', '.join(_ORDERS)}."
            )
        query = SearchQuery(
            conditions=tuple(conditions),
            order_by=order_by,  # type: ignore[arg-type]
            max_results=_validate_page_size(max_results),
            page_token=page_token or None,
        )
        return self.store.search_prompts(query)

    def list_prompt_versions(
        self, name: str, max_results: int = 100, page_token: str | None = None
    ) -> Page[PromptVersion]:
        """The live versions of ``name``, newest first, a page at a time."""
        return self.store.list_versions(
            validate_name(name), _validate_page_size(max_results), page_token or None
        )

    def diff_prompt_versions(self, name: str, from_version: int | str,
                             to_version: int | str) -> dict[str, Any]:
        """What changed between two versions: template (unified diff, per message for
        chat), model config, response format and tags. See ``docs/http-api.md``."""
        from prompthouse.diff import diff_versions

        old = self.get_prompt_version(name, from_version)
        new = self.get_prompt_version(name, to_version)
        return diff_versions(old, new)

    # --- aliases, tags, model config, description -----------------------------------

    def set_prompt_alias(self, name: str, alias: str, version: int | str,
                         *, user_id: str | None = None) -> None:
        """Point ``alias`` at an existing ``version`` of ``name`` (moving it if set)."""
        self.store.set_alias(validate_name(name), validate_alias(alias),
                             _validate_version(version),
                             _validate_text(user_id, "user id", USER_MAX), _now_ms())
        self._changed(name, "alias_set")

    def delete_prompt_alias(self, name: str, alias: str) -> None:
        self.store.delete_alias(validate_name(name), validate_alias(alias), _now_ms())
        self._changed(name, "alias_deleted")

    def set_prompt_tag(self, name: str, key: str, value: str) -> None:
        key, value = _validate_tag(key, value)
        self.store.set_prompt_tag(validate_name(name), key, value, _now_ms())
        self._changed(name, "prompt_tag_set")

    def delete_prompt_tag(self, name: str, key: str) -> None:
        self.store.delete_prompt_tag(validate_name(name), _validate_tag(key, "")[0], _now_ms())
        self._changed(name, "prompt_tag_deleted")

    def set_prompt_version_tag(self, name: str, version: int | str, key: str,
                               value: str) -> None:
        key, value = _validate_tag(key, value)
        self.store.set_version_tag(validate_name(name), _validate_version(version), key,
                                   value, _now_ms())
        self._changed(name, "version_tag_set")

    def delete_prompt_version_tag(self, name: str, version: int | str, key: str) -> None:
        self.store.delete_version_tag(validate_name(name), _validate_version(version),
                                      _validate_tag(key, "")[0], _now_ms())
        self._changed(name, "version_tag_deleted")

    def set_prompt_model_config(
        self, name: str, version: int | str,
        model_config: PromptModelConfig | Mapping[str, Any],
    ) -> None:
        """Replace a version's model config (the template itself never changes)."""
        if model_config is None:
            raise InvalidArgumentError(
                "model_config is required; use delete_prompt_model_config to remove it."
            )
        config = normalize_model_config(model_config)
        _check_json_size(config, "model config")
        self.store.set_model_config(validate_name(name), _validate_version(version), config,
                                    _now_ms())
        self._changed(name, "model_config_set")

    def delete_prompt_model_config(self, name: str, version: int | str) -> None:
        self.store.set_model_config(validate_name(name), _validate_version(version), None,
                                    _now_ms())
        self._changed(name, "model_config_deleted")

    def set_prompt_description(self, name: str, description: str | None) -> None:
        text = _validate_text(description, "description", TEXT_FIELD_MAX)
        self.store.update_description(validate_name(name), text, _now_ms())
        self._changed(name, "description_set")

    # --- deleting ---------------------------------------------------------------------

    def delete_prompt_version(self, name: str, version: int | str) -> list[str]:
        """Delete one version; the aliases that pointed at it are removed and returned.

        Its number is never given to another version.
        """
        removed = self.store.delete_version(validate_name(name), _validate_version(version),
                                            _now_ms())
        self._changed(name, "version_deleted")
        return removed

    def delete_prompt(self, name: str) -> None:
        """Delete the prompt with every version, alias and tag."""
        self.store.delete_prompt(validate_name(name))
        self._changed(name, "prompt_deleted")


def _validate_page_size(max_results: object) -> int:
    if isinstance(max_results, bool) or not isinstance(max_results, int) or not (
        1 <= max_results <= MAX_PAGE
    ):
        raise InvalidArgumentError(
            f"max_results must be an integer from 1 to {MAX_PAGE}, not {max_results!r}."
        )
    return max_results
