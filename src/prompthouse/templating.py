"""Template parsing and formatting: double-brace placeholders and sandboxed Jinja2.

Pure functions, no I/O. Parsed templates are cached by their source text, so formatting
the same template again costs a list join (double-brace) or a compiled render (Jinja2).

Double-brace rules (as MLflow): a placeholder is ``{{ name }}`` where ``name`` is a Python
identifier, optionally dotted (``{{ user.name }}``); ``{{1x}}``, ``{{ d-e }}`` and ``{a}``
are plain text. Substitution is one pass: text inserted for one variable is never
substituted again. Values go through ``str()``; extra values are ignored.

A template is Jinja2 when it holds both ``{%`` and ``%}``. It is rendered in an
immutable sandbox with strict undefined variables: a missing variable is an error (MLflow
renders it as an empty string), and touching private attributes raises
:class:`~prompthouse.errors.TemplateSecurityError`.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

import jinja2
import jinja2.meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from prompthouse.errors import InvalidArgumentError, MissingVariablesError, TemplateSecurityError

__all__ = [
    "VARIABLE_PATTERN",
    "ChatMessages",
    "Messages",
    "ParsedTemplate",
    "freeze_template",
    "thaw_template",
    "Template",
    "extract_variables",
    "is_jinja",
    "parse_template",
    "validate_template",
]

VARIABLE_PATTERN = re.compile(
    r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*(?:\.[a-zA-Z_][a-zA-Z0-9_]*)*)\s*\}\}"
)

ChatMessages = list[dict[str, Any]]
Template = str | ChatMessages

# Largest string or list a sandboxed template may build with ``*``, and the largest
# exponent of ``**``: enough for any prompt, small enough that a template cannot take
# the process's memory or CPU.
_MAX_SEQUENCE_LEN = 1_000_000
_MAX_INT_BITS = 4096
_MAX_EXPONENT = 256
_MAX_WIDTH = 10_000


def _too_big(what: str) -> jinja2.exceptions.SecurityError:
    return jinja2.exceptions.SecurityError(f"{what} is too large for a template")


def _check_size(value: Any) -> Any:
    """Refuse results a prompt never needs and an attacker would use to exhaust memory."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value.bit_length() > _MAX_INT_BITS:
            raise _too_big(f"an integer of {value.bit_length()} bits (limit {_MAX_INT_BITS})")
    elif isinstance(value, (str, list, tuple)) and len(value) > _MAX_SEQUENCE_LEN:
        raise _too_big(f"a sequence of {len(value)} items (limit {_MAX_SEQUENCE_LEN})")
    return value


class _PromptSandbox(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox, with bounds on what arithmetic and filters can build.

    ``*``, ``**`` and ``+`` are checked before they run (a ``*`` or ``**`` whose result
    would be huge is refused without computing it); the width filters are capped.
    Loops stay bounded by Jinja2's own ``range`` limit. Rendering is not time-limited:
    a template can still be slow, so only registry users may register templates.
    """

    intercepted_binops = frozenset(["*", "**", "+"])

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        for name in ("center", "indent", "wordwrap", "truncate"):
            self.filters[name] = _bounded_filter(self.filters[name])

    def call_binop(self, context: Any, operator_: str, left: Any, right: Any) -> Any:
        if operator_ == "**":
            if isinstance(right, int) and abs(right) > _MAX_EXPONENT:
                raise _too_big(f"exponent {right} (limit {_MAX_EXPONENT})")
            if isinstance(left, int) and isinstance(right, int) and right > 0 and \
                    abs(left).bit_length() * right > _MAX_INT_BITS:
                raise _too_big(f"{left} ** {right}")
            return _check_size(operator.pow(left, right))
        if operator_ == "*":
            for seq, count in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(count, int) and \
                        len(seq) * count > _MAX_SEQUENCE_LEN:
                    raise _too_big(f"repeating a sequence {count} times")
            if isinstance(left, int) and isinstance(right, int) and \
                    abs(left).bit_length() + abs(right).bit_length() > _MAX_INT_BITS + 1:
                raise _too_big("the product")
            return _check_size(operator.mul(left, right))
        return _check_size(operator.add(left, right))


def _bounded_filter(fn: Any) -> Any:
    def bounded(value: Any, *args: Any, **kwargs: Any) -> Any:
        for arg in (*args, *kwargs.values()):
            if isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) > _MAX_WIDTH:
                raise _too_big(f"a width of {arg} (limit {_MAX_WIDTH})")
        return fn(value, *args, **kwargs)

    bounded.__name__ = fn.__name__
    return bounded


_SANDBOX = _PromptSandbox(undefined=jinja2.StrictUndefined, autoescape=False)
_UNSAFE = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)


def is_jinja(text: str) -> bool:
    """True when ``text`` uses Jinja2 control flow (holds both ``{%`` and ``%}``)."""
    return "{%" in text and "%}" in text


# --- double-brace ---------------------------------------------------------------------


class _BraceTemplate:
    """A double-brace text split once into literals and placeholders.

    ``literals`` has one more item than ``names``; ``raws`` keeps each placeholder as
    written so a partial format can leave it untouched.
    """

    __slots__ = ("source", "literals", "names", "raws", "variables", "_fmt")

    def __init__(self, source: str) -> None:
        literals: list[str] = []
        names: list[str] = []
        raws: list[str] = []
        pos = 0
        for match in VARIABLE_PATTERN.finditer(source):
            literals.append(source[pos : match.start()])
            names.append(match.group(1))
            raws.append(match.group(0))
            pos = match.end()
        literals.append(source[pos:])
        self.source = source
        self.literals = tuple(literals)
        self.names = tuple(names)
        self.raws = tuple(raws)
        self.variables = frozenset(names)
        # A str.format pattern with positional fields: the C implementation joins the
        # pieces faster than a Python loop. Literal braces are doubled to stay literal.
        escaped = [lit.replace("{", "{{").replace("}", "}}") for lit in literals]
        pattern = escaped[0]
        for i, lit in enumerate(escaped[1:]):
            pattern += "{" + str(i) + "}" + lit
        self._fmt = pattern.format

    def render(self, values: Mapping[str, Any]) -> str:
        """Every placeholder replaced; the caller has checked none is missing."""
        if not self.names:
            return self.source
        return self._fmt(*map(str, map(values.__getitem__, self.names)))

    def render_partial(self, values: Mapping[str, Any]) -> str:
        """Placeholders with a value replaced, the others left exactly as written."""
        out = [self.literals[0]]
        for name, raw, lit in zip(self.names, self.raws, self.literals[1:]):
            out.append(str(values[name]) if name in values else raw)
            out.append(lit)
        return "".join(out)


@functools.lru_cache(maxsize=4096)
def _brace(source: str) -> _BraceTemplate:
    return _BraceTemplate(source)


# --- jinja2 ---------------------------------------------------------------------------


class _JinjaTemplate:
    __slots__ = ("source", "template", "variables")

    def __init__(self, source: str, template: jinja2.Template, variables: frozenset[str]) -> None:
        self.source = source
        self.template = template
        self.variables = variables

    def render(self, values: Mapping[str, Any]) -> str:
        try:
            return self.template.render(values)
        except jinja2.exceptions.SecurityError as exc:
            raise TemplateSecurityError(
                f"The template tried an operation the Jinja2 sandbox forbids: {exc}"
            ) from None
        except jinja2.exceptions.UndefinedError as exc:
            missing = self.variables - values.keys()
            if missing:
                raise MissingVariablesError(missing, jinja=True) from None
            raise InvalidArgumentError(
                f"The Jinja2 template failed to render with the given values: {exc}"
            ) from None
        except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
            raise InvalidArgumentError(
                f"The Jinja2 template failed to render with the given values: "
                f"{type(exc).__name__}: {exc}"
            ) from None


@functools.lru_cache(maxsize=1024)
def _jinja(source: str, sandbox: bool) -> _JinjaTemplate:
    env = _SANDBOX if sandbox else _UNSAFE
    try:
        ast = env.parse(source)
        template = env.from_string(ast)
    except jinja2.exceptions.TemplateSyntaxError as exc:
        raise InvalidArgumentError(
            f"The template is not valid Jinja2 (line {exc.lineno}): {exc.message}"
        ) from None
    except (ValueError, ArithmeticError, TypeError, MemoryError) as exc:
        # Jinja2 folds constant expressions while compiling (outside the sandbox).
        raise InvalidArgumentError(
            f"The Jinja2 template cannot be compiled: {type(exc).__name__}: {exc}"
        ) from None
    return _JinjaTemplate(source, template, frozenset(jinja2.meta.find_undeclared_variables(ast)))


# --- parsed templates -----------------------------------------------------------------

Messages = tuple[tuple[tuple[str, Any], ...], ...]
"""A chat template frozen for storage inside an immutable PromptVersion."""


class ParsedTemplate:
    """A text or chat template parsed once; formats with or without every value."""

    __slots__ = (
        "is_chat", "is_jinja", "variables", "render_text", "_messages", "_nested",
        "_contents", "_parts",
    )

    def __init__(self, template: str | Messages) -> None:
        if isinstance(template, str):
            self.is_chat = False
            self._messages: Messages = ()
            self._nested: tuple[bool, ...] = ()
            contents: list[str | None] = [template]
        else:
            self.is_chat = True
            self._messages = template
            # Messages holding a frozen list or dict are thawed per call; others copied.
            self._nested = tuple(any(isinstance(v, tuple) for _, v in m) for m in template)
            contents = []
            for message in template:
                content = dict(message).get("content")
                contents.append(content if isinstance(content, str) else None)
        self._contents = tuple(contents)
        self.is_jinja = any(c is not None and is_jinja(c) for c in contents)
        # Jinja parts are looked up per call (sandbox or not) from the compiled cache;
        # parsing in the sandbox now makes a syntax error surface at registration.
        make = (lambda t: _jinja(t, True)) if self.is_jinja else _brace
        parts = tuple(make(c) if c is not None else None for c in contents)
        self._parts = parts
        names: set[str] = set()
        for part in parts:
            if part is not None:
                names |= part.variables
        self.variables: frozenset[str] = frozenset(names)
        # A plain text template renders in one call (KeyError when a value is missing).
        self.render_text: Callable[[Mapping[str, Any]], str] | None = (
            parts[0].render if not self.is_chat and not self.is_jinja else None
        )

    def format(
        self, values: Mapping[str, Any], *, allow_partial: bool, sandbox: bool = True
    ) -> Template | None:
        """Format with ``values``.

        A missing variable raises :class:`MissingVariablesError`, unless
        ``allow_partial``: then the answer is ``None`` and the caller keeps the values
        bound for a later call (see :meth:`render_partial` for what to show meanwhile).
        """
        if self.is_jinja:
            if allow_partial and not self.variables.issubset(values):
                return None
            if sandbox:
                return self._apply(self._parts, _JinjaTemplate.render, values)
            parts = tuple(_jinja(c, False) if c is not None else None for c in self._contents)
            return self._apply(parts, _JinjaTemplate.render, values)
        try:
            if not self.is_chat:
                return self._parts[0].render(values)
            return self._apply(self._parts, _BraceTemplate.render, values)
        except KeyError:
            missing = self.variables.difference(values)
            if not missing:
                raise
            if allow_partial:
                return None
            raise MissingVariablesError(missing) from None

    def render_partial(self, values: Mapping[str, Any]) -> Template:
        """The template with the given values filled and other placeholders as written.

        Jinja2 templates come back unchanged: their values are bound, not inserted.
        """
        if self.is_jinja:
            return self._apply(self._parts, lambda part, _values: part.source, values)
        return self._apply(self._parts, _BraceTemplate.render_partial, values)

    def _apply(self, parts: tuple[Any, ...], render: Any, values: Mapping[str, Any]) -> Template:
        if not self.is_chat:
            return render(parts[0], values)
        out: ChatMessages = []
        for message, part, nested in zip(self._messages, parts, self._nested):
            new = {k: _thaw_value(v) for k, v in message} if nested else dict(message)
            if part is not None:
                new["content"] = render(part, values)
            out.append(new)
        return out


def parse_template(template: str | Messages) -> ParsedTemplate:
    """The parsed form of a (frozen) template; cached by its source."""
    try:
        return _parsed(template)
    except TypeError:  # an unhashable value inside a message: parse without the cache
        return ParsedTemplate(template)


@functools.lru_cache(maxsize=4096)
def _parsed(template: str | Messages) -> ParsedTemplate:
    return ParsedTemplate(template)


def freeze_template(template: Any) -> str | Messages:
    """Validate a text or chat template and freeze it (chat: tuples of items).

    Raises :class:`InvalidArgumentError` naming what is wrong: a template is a string,
    or a non-empty list of messages, each a dict with a string ``role`` and a
    ``content``; other keys are kept.
    """
    if isinstance(template, str):
        return template
    if isinstance(template, (list, tuple)) and not isinstance(template, str):
        if not template:
            raise InvalidArgumentError(
                "A chat template must be a non-empty list of {'role', 'content'} messages."
            )
        frozen = []
        for i, message in enumerate(template):
            if not isinstance(message, Mapping):
                raise InvalidArgumentError(
                    f"Chat message {i} is a {type(message).__name__}; each message must be "
                    "a dict with 'role' and 'content'."
                )
            if "role" not in message or "content" not in message:
                raise InvalidArgumentError(
                    f"Chat message {i} lacks {'role' if 'role' not in message else 'content'}"
                    "; each message must be a dict with 'role' and 'content'."
                )
            if not isinstance(message["role"], str) or not message["role"]:
                raise InvalidArgumentError(
                    f"Chat message {i} has role {message['role']!r}; a role is a non-empty string."
                )
            frozen.append(tuple((str(k), _freeze_value(v)) for k, v in message.items()))
        return tuple(frozen)
    raise InvalidArgumentError(
        f"A template is a string (text prompt) or a non-empty list of "
        f"{{'role', 'content'}} messages (chat prompt), not {type(template).__name__}."
    )


def thaw_template(template: str | Messages) -> Template:
    """A fresh, mutable copy of a frozen template (chat: a new list of new dicts)."""
    if isinstance(template, str):
        return template
    return [{k: _thaw_value(v) for k, v in message} for message in template]


def _freeze_value(value: Any) -> Any:
    if isinstance(value, Mapping):
        return _FrozenDict((str(k), _freeze_value(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return tuple(_freeze_value(v) for v in value)
    return value


def _thaw_value(value: Any) -> Any:
    if isinstance(value, _FrozenDict):
        return {k: _thaw_value(v) for k, v in value}
    if isinstance(value, tuple):
        return [_thaw_value(v) for v in value]
    return value


class _FrozenDict(tuple):  # type: ignore[type-arg]
    """A dict frozen as a tuple of pairs, told apart from a frozen list by its type."""

    __slots__ = ()


def extract_variables(template: Any) -> set[str]:
    """The variables a text or chat template needs, as MLflow finds them.

    For a Jinja2 template, the names it reads that it does not define itself.
    """
    return set(parse_template(freeze_template(template)).variables)


def validate_template(template: Any) -> str | Messages:
    """Freeze ``template`` and parse it once, so bad Jinja2 syntax is refused early."""
    frozen = freeze_template(template)
    parse_template(frozen)
    return frozen
