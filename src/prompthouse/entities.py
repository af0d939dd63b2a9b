"""The domain objects: :class:`PromptVersion`, :class:`Prompt`, :class:`PromptModelConfig`.

Pure Python, no I/O. A :class:`PromptVersion` is immutable: every property that would
hand out something mutable (tags, aliases, model config, a chat template) hands out a
fresh copy, so an object shared by a cache cannot be corrupted by one of its readers.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from prompthouse.errors import InvalidArgumentError
from prompthouse.templating import (
    Messages,
    Template,
    freeze_template,
    parse_template,
    thaw_template,
    validate_template,
)

__all__ = ["Page", "Prompt", "PromptModelConfig", "PromptVersion", "normalize_model_config",
           "normalize_response_format"]


class PromptModelConfig(BaseModel):
    """Model settings stored with a prompt version (as ``mlflow.genai`` has them).

    Unknown keys given to :meth:`from_dict` are kept in ``extra_params``.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    provider: str | None = None
    model_name: str | None = None
    temperature: float | None = Field(None, ge=0)
    max_tokens: int | None = Field(None, gt=0)
    top_p: float | None = Field(None, ge=0, le=1)
    top_k: int | None = Field(None, gt=0)
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    stop_sequences: list[str] | None = None
    extra_params: dict[str, Any] = Field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The set fields, with ``extra_params`` flattened into the top level."""
        out = {k: v for k, v in self.model_dump(exclude={"extra_params"}).items() if v is not None}
        for key, value in self.extra_params.items():
            out.setdefault(key, value)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PromptModelConfig:
        """Build from a flat dict; keys that are not fields go to ``extra_params``."""
        if not isinstance(data, Mapping):
            raise InvalidArgumentError(
                f"A model config is a dict or a PromptModelConfig, not {type(data).__name__}."
            )
        known = set(cls.model_fields) - {"extra_params"}
        nested = data.get("extra_params") or {}
        if not isinstance(nested, Mapping):
            raise InvalidArgumentError("extra_params must be a dict of provider settings.")
        # A known field inside extra_params is that field (validated), never an extra.
        fields = {k: v for k, v in nested.items() if k in known}
        fields.update({k: v for k, v in data.items() if k in known})
        extra = {k: v for k, v in nested.items() if k not in known}
        extra.update({k: v for k, v in data.items() if k not in known and k != "extra_params"})
        try:
            return cls(**fields, extra_params=extra)
        except ValidationError as exc:
            raise InvalidArgumentError(_describe_validation("model config", exc)) from None


def _describe_validation(what: str, exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or what
        problems.append(f"{loc}: {err['msg']} (got {err.get('input')!r})")
    return f"Invalid {what}: " + "; ".join(problems)


def normalize_model_config(value: Any) -> dict[str, Any] | None:
    """A validated model config as a plain dict (``None`` stays ``None``)."""
    if value is None:
        return None
    if isinstance(value, PromptModelConfig):
        return value.to_dict()
    config = PromptModelConfig.from_dict(value).to_dict()
    _require_json("model config", config)
    return config


def normalize_response_format(value: Any) -> dict[str, Any] | None:
    """A response format as a JSON-schema dict: a pydantic model class becomes its schema."""
    if value is None:
        return None
    if isinstance(value, type) and issubclass(value, BaseModel):
        return value.model_json_schema()
    if isinstance(value, Mapping):
        out = dict(value)
        _require_json("response format", out)
        return out
    raise InvalidArgumentError(
        "A response format is a pydantic model class or a JSON-schema dict, "
        f"not {type(value).__name__}."
    )


def _require_json(what: str, value: Any) -> None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"The {what} must be JSON-serializable: {exc}") from None


def _copy_json(value: Any) -> Any:
    """A deep copy of plain JSON data, faster than ``copy.deepcopy`` for it."""
    if isinstance(value, dict):
        return {k: _copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy_json(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return copy.deepcopy(value)


class PromptVersion:
    """One immutable version of a prompt: its template and everything stored with it.

    ``template`` is a string (text prompt) or a non-empty list of ``{"role", "content"}``
    messages (chat prompt; other keys are kept). Build one yourself to format a template
    without a registry, or get one from :func:`prompthouse.load_prompt`.
    """

    __slots__ = (
        "_name",
        "_version",
        "_template",
        "_commit_message",
        "_creation_timestamp",
        "_last_updated_timestamp",
        "_tags",
        "_aliases",
        "_user_id",
        "_response_format",
        "_model_config",
        "_bound",
        "_source",
        "_parsed",
        "_is_fallback",
    )

    def __init__(
        self,
        name: str,
        version: int,
        template: Template,
        commit_message: str | None = None,
        creation_timestamp: int | None = None,
        tags: Mapping[str, str] | None = None,
        aliases: Iterable[str] | None = None,
        last_updated_timestamp: int | None = None,
        user_id: str | None = None,
        response_format: type[BaseModel] | Mapping[str, Any] | None = None,
        model_config: PromptModelConfig | Mapping[str, Any] | None = None,
    ) -> None:
        self._init(
            name=name,
            version=int(version),
            template=validate_template(template),
            commit_message=commit_message,
            creation_timestamp=creation_timestamp,
            last_updated_timestamp=(
                last_updated_timestamp
                if last_updated_timestamp is not None
                else creation_timestamp
            ),
            tags={str(k): str(v) for k, v in (tags or {}).items()},
            aliases=tuple(aliases or ()),
            user_id=user_id,
            # Deep copies: the caller keeps its dicts, whose nested values must not be
            # shared with this immutable object.
            response_format=_copy_json(normalize_response_format(response_format)),
            model_config=_copy_json(normalize_model_config(model_config)),
            bound=None,
        )

    def _init(
        self,
        *,
        name: str,
        version: int,
        template: str | Messages,
        commit_message: str | None,
        creation_timestamp: int | None,
        last_updated_timestamp: int | None,
        tags: dict[str, str],
        aliases: tuple[str, ...],
        user_id: str | None,
        response_format: dict[str, Any] | None,
        model_config: dict[str, Any] | None,
        bound: dict[str, Any] | None,
        source: str | Messages | None = None,
        is_fallback: bool = False,
    ) -> None:
        self._name = name
        self._version = version
        self._template = template
        self._commit_message = commit_message
        self._creation_timestamp = creation_timestamp
        self._last_updated_timestamp = last_updated_timestamp
        self._tags = tags
        self._aliases = aliases
        self._user_id = user_id
        self._response_format = response_format
        self._model_config = model_config
        # A partially formatted version keeps the template it came from (``source``) and
        # the values given so far (``bound``): completing it formats the source with all
        # values in one pass, so text inserted by the first call is never re-substituted.
        self._bound = bound
        self._source = source
        self._parsed = None
        self._is_fallback = is_fallback

    @classmethod
    def _trusted(cls, **fields: Any) -> PromptVersion:
        """Build from already-validated data (a store row) without re-validating it."""
        obj = cls.__new__(cls)
        fields.setdefault("bound", None)
        obj._init(**fields)
        return obj

    @classmethod
    def _fallback(cls, name: str, template: Template) -> PromptVersion:
        """The version ``load_prompt(..., fallback=template)`` answers when the store or
        server is unavailable: version 0, ``is_fallback`` True."""
        return cls._trusted(
            name=name, version=0, template=validate_template(template), commit_message=None,
            creation_timestamp=None, last_updated_timestamp=None, tags={}, aliases=(),
            user_id=None, response_format=None, model_config=None, is_fallback=True,
        )

    def _replace(self, **changes: Any) -> PromptVersion:
        fields = {slot[1:]: getattr(self, slot) for slot in self.__slots__ if slot != "_parsed"}
        fields.update(changes)
        return PromptVersion._trusted(**fields)

    # --- read-only properties ---------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def version(self) -> int:
        return self._version

    @property
    def template(self) -> Template:
        """The template: a string, or a fresh list of message dicts for a chat prompt."""
        return thaw_template(self._template)

    @property
    def commit_message(self) -> str | None:
        return self._commit_message

    @property
    def creation_timestamp(self) -> int | None:
        """Milliseconds since the epoch, UTC."""
        return self._creation_timestamp

    @property
    def last_updated_timestamp(self) -> int | None:
        return self._last_updated_timestamp

    @property
    def tags(self) -> dict[str, str]:
        return dict(self._tags)

    @property
    def aliases(self) -> list[str]:
        return list(self._aliases)

    @property
    def user_id(self) -> str | None:
        return self._user_id

    @property
    def response_format(self) -> dict[str, Any] | None:
        return _copy_json(self._response_format)

    @property
    def model_config(self) -> dict[str, Any] | None:
        return _copy_json(self._model_config)

    @property
    def is_fallback(self) -> bool:
        """True when ``load_prompt`` returned the caller's ``fallback=`` template because
        the store or server was unavailable (this is then version 0, never cached)."""
        return self._is_fallback

    @property
    def is_text_prompt(self) -> bool:
        return isinstance(self._template, str)

    @property
    def prompt_type(self) -> str:
        """``"text"`` or ``"chat"``."""
        return "text" if isinstance(self._template, str) else "chat"

    @property
    def uri(self) -> str:
        return f"prompts:/{self._name}/{self._version}"

    @property
    def variables(self) -> set[str]:
        """The variables still to be given to :meth:`format`."""
        names = self._parsed_template().variables
        if self._bound:
            names = names.difference(self._bound)
        return set(names)

    @property
    def is_jinja(self) -> bool:
        """True when the template uses Jinja2 control flow (``{% ... %}``)."""
        return self._parsed_template().is_jinja

    def _parsed_template(self) -> Any:
        parsed = self._parsed
        if parsed is None:
            source = self._template if self._source is None else self._source
            parsed = self._parsed = parse_template(source)
        return parsed

    # --- formatting -------------------------------------------------------------------

    def format(
        self, allow_partial: bool = False, use_jinja_sandbox: bool = True, **values: Any
    ) -> str | list[dict[str, Any]] | PromptVersion:
        """Fill the template's variables.

        Returns a string (text prompt) or a list of messages (chat prompt). A missing
        variable raises :class:`~prompthouse.MissingVariablesError` naming it, unless
        ``allow_partial=True``: then a new :class:`PromptVersion` comes back with the
        given values filled in (for a Jinja2 template: bound for later) and ``format``
        on it completes it. Jinja2 templates render in a sandbox unless
        ``use_jinja_sandbox=False``; a sandbox escape raises
        :class:`~prompthouse.TemplateSecurityError`.
        """
        parsed = self._parsed
        if parsed is not None and parsed.render_text is not None and self._bound is None:
            try:  # the hot path: a parsed double-brace text with every value given
                return parsed.render_text(values)
            except KeyError:
                pass  # a value is missing: the full path names it or formats partially
        return self.format_values(values, allow_partial=allow_partial,
                                  use_jinja_sandbox=use_jinja_sandbox)

    def format_values(
        self, values: Mapping[str, Any], *, allow_partial: bool = False,
        use_jinja_sandbox: bool = True,
    ) -> str | list[dict[str, Any]] | PromptVersion:
        """:meth:`format` with the values in a mapping.

        Use it when a variable could be called ``allow_partial`` or
        ``use_jinja_sandbox``, or when the values arrive as a dict.
        """
        parsed = self._parsed
        if parsed is None:
            parsed = self._parsed_template()
        if self._bound:  # values already filled in stay as shown (as MLflow)
            values = {**values, **self._bound}
        result = parsed.format(values, allow_partial=allow_partial, sandbox=use_jinja_sandbox)
        if result is None:  # allow_partial and some variables still missing
            source = self._template if self._source is None else self._source
            # Only frozen, never parsed: inserted values may hold '{%' or '{{' and the
            # shown text is not a template of its own (the source is formatted later).
            shown = freeze_template(parsed.render_partial(values))
            return self._replace(template=shown, source=source, bound=dict(values))
        return result

    # --- conversions ------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field (``variables`` sorted)."""
        return {
            "name": self._name,
            "version": self._version,
            "template": self.template,
            "prompt_type": self.prompt_type,
            "variables": sorted(self.variables),
            "commit_message": self._commit_message,
            "creation_timestamp": self._creation_timestamp,
            "last_updated_timestamp": self._last_updated_timestamp,
            "tags": dict(self._tags),
            "aliases": list(self._aliases),
            "user_id": self._user_id,
            "model_config": self.model_config,
            "response_format": self.response_format,
            "uri": self.uri,
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PromptVersion):
            return NotImplemented
        return all(
            getattr(self, slot) == getattr(other, slot)
            for slot in self.__slots__
            if slot != "_parsed"
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        template = self._template if isinstance(self._template, str) else self.template
        text = repr(template)
        if len(text) > 60:
            text = text[:57] + "..."
        return f"PromptVersion(name={self._name!r}, version={self._version}, template={text})"


@dataclass(frozen=True)
class Prompt:
    """A prompt as a whole: its name, description, tags, aliases and newest version."""

    name: str
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    latest_version: int | None = None
    creation_timestamp: int | None = None
    last_updated_timestamp: int | None = None
    created_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "tags": dict(self.tags),
            "aliases": dict(self.aliases),
            "latest_version": self.latest_version,
            "creation_timestamp": self.creation_timestamp,
            "last_updated_timestamp": self.last_updated_timestamp,
            "created_by": self.created_by,
        }


T = TypeVar("T")


class Page(list, Generic[T]):  # type: ignore[type-arg]
    """A page of results; ``next_page_token`` (alias ``token``) fetches the next, or is None."""

    def __init__(self, items: Iterable[T] = (), next_page_token: str | None = None) -> None:
        super().__init__(items)
        self.next_page_token = next_page_token

    @property
    def token(self) -> str | None:
        return self.next_page_token
