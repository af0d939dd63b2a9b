"""Prompt URIs: ``prompts:/name/3``, ``prompts:/name@alias``, ``prompts:/name@latest``.

A bare ``name`` means its latest version, and ``(name, version=3)`` means
``prompts:/name/3``. Names may hold ``/`` as a folder separator, so the version or
alias is always read from the end of the URI.
"""

from __future__ import annotations

from dataclasses import dataclass

from prompthouse.errors import InvalidArgumentError

__all__ = ["PROMPT_URI_PREFIX", "PromptRef", "parse_prompt_ref"]

PROMPT_URI_PREFIX = "prompts:/"
LATEST = "latest"

ACCEPTED_FORMS = (
    "Accepted forms: 'prompts:/<name>/<version>' (e.g. prompts:/qa/3), "
    "'prompts:/<name>@<alias>' (e.g. prompts:/qa@production), 'prompts:/<name>@latest', "
    "a bare '<name>' for its latest version, or a name with version=<n>."
)


@dataclass(frozen=True, slots=True)
class PromptRef:
    """What a URI points at: exactly one of ``version`` and ``alias``, or neither (latest)."""

    name: str
    version: int | None = None
    alias: str | None = None

    @property
    def is_latest(self) -> bool:
        return self.version is None and (self.alias is None or self.alias.lower() == LATEST)

    @property
    def uri(self) -> str:
        if self.version is not None:
            return f"{PROMPT_URI_PREFIX}{self.name}/{self.version}"
        return f"{PROMPT_URI_PREFIX}{self.name}@{self.alias or LATEST}"


def _bad(value: object, why: str) -> InvalidArgumentError:
    return InvalidArgumentError(f"Invalid prompt reference {value!r}: {why}. {ACCEPTED_FORMS}")


def _parse_version(value: object, original: object) -> int:
    if isinstance(value, bool):
        raise _bad(original, "a version is a positive integer")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit():
        number = int(value)
    else:
        raise _bad(original, f"the version {value!r} is not a positive integer")
    if number < 1:
        raise _bad(original, "versions start at 1")
    return number


def parse_prompt_ref(name_or_uri: str, version: int | str | None = None) -> PromptRef:
    """Parse a prompt URI or name (with an optional ``version``) into a :class:`PromptRef`.

    Every malformed form raises :class:`InvalidArgumentError` listing the accepted forms.
    Name and alias rules are checked by the registry, not here.
    """
    if not isinstance(name_or_uri, str) or not name_or_uri:
        raise _bad(name_or_uri, "expected a non-empty string")
    if not name_or_uri.startswith(PROMPT_URI_PREFIX):
        if name_or_uri.startswith("prompts:"):
            raise _bad(name_or_uri, "a prompt URI starts with 'prompts:/'")
        if version is None:
            return PromptRef(name_or_uri)
        return PromptRef(name_or_uri, version=_parse_version(version, f"{name_or_uri}, "
                                                                     f"version={version!r}"))
    if version is not None:
        raise _bad(name_or_uri, "give a version either in the URI or as version=, not both")
    body = name_or_uri[len(PROMPT_URI_PREFIX) :]
    if "@" in body:
        name, _, alias = body.rpartition("@")
        if not name or not alias:
            raise _bad(name_or_uri, "both a name and an alias are needed around '@'")
        return PromptRef(name, alias=alias)
    name, sep, tail = body.rpartition("/")
    if not sep or not name:
        raise _bad(name_or_uri, "the URI names no version or alias")
    if tail.lower() == LATEST:
        raise _bad(name_or_uri, "use 'prompts:/<name>@latest' for the latest version")
    return PromptRef(name, version=_parse_version(tail, name_or_uri))
