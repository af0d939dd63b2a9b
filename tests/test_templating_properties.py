"""Property-based tests of double-brace formatting (hypothesis)."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from prompthouse import MissingVariablesError, PromptVersion
from prompthouse.templating import extract_variables

PROPERTY_SETTINGS = settings(max_examples=150, deadline=None)

# Keyword arguments of PromptVersion.format itself cannot be template variables.
_RESERVED = {"allow_partial", "use_jinja_sandbox"}

NAMES = st.from_regex(
    r"[a-zA-Z_][a-zA-Z0-9_]{0,6}(\.[a-zA-Z_][a-zA-Z0-9_]{0,4}){0,2}", fullmatch=True
).filter(lambda n: n not in _RESERVED)

WHITESPACE = st.sampled_from(["", " ", "  ", "\t", "\n", " \n "])

# Characters that stress the parser: braces, percent signs, backslashes, format fields.
_TRICKY = st.sampled_from(list("{}%\\$ \n") + ["{0}", "{}", "%s", "\\1", "\\g<0>"])
TRICKY_TEXT = st.lists(st.one_of(_TRICKY, st.characters()), max_size=12).map("".join)

# Text that looks like a placeholder but is not one: kept verbatim by format(). Each
# opens with '{{' and closes with '}}', so no brace of the plain text around it can pair
# with one of its own ('{' + '{a}' + '}' would be a placeholder).
DECOYS = st.sampled_from(
    ["{{1x}}", "{{ d-e }}", "{{}}", "{{ a b }}", "{{ .v }}", "{{ v. }}", "{{ {a} }}",
     "{{ 9 }}", "{{-a}}", "{{ a-}}"]
)

# A literal between placeholders never holds '{{' (it could open a placeholder) nor '{%'
# (with a '%}' it would make the template Jinja2); see _literal for decoys.
PLAIN = TRICKY_TEXT.filter(lambda t: "{{" not in t and "{%" not in t)

# Fragments of Jinja2 and placeholder syntax, glued at random.
MARKUP = st.lists(
    st.sampled_from(["{%", "%}", "{{", "}}", "{#", "#}", " if ", " x ", "endif", "{", "}"]),
    max_size=6,
).map("".join)

VALUES = st.one_of(
    TRICKY_TEXT,
    MARKUP,
    NAMES.map(lambda n: "{{" + n + "}}"),
    NAMES.map(lambda n: "{{ " + n + " }}"),
    st.sampled_from(["{%", "%}", "{% if %}", "{{", "}}", "{% endif %}", "{#", ""]),
    st.integers(),
    st.floats(allow_nan=False),
    st.none(),
    st.booleans(),
)


@st.composite
def _literal(draw) -> str:
    """Plain text, optionally around one decoy: no two plain pieces ever touch."""
    if draw(st.booleans()):
        return draw(PLAIN) + draw(DECOYS) + draw(PLAIN)
    return draw(PLAIN)


@dataclass
class Built:
    template: str
    literals: list[str]
    names: list[str]  # in the order written; a name may repeat
    raws: list[str]  # each placeholder as written

    def expected(self, values: dict) -> str:
        """The template with each placeholder that has a value replaced by str(value)."""
        out = [self.literals[0]]
        for name, raw, lit in zip(self.names, self.raws, self.literals[1:]):
            out.append(str(values[name]) if name in values else raw)
            out.append(lit)
        return "".join(out)


@st.composite
def templates(draw) -> Built:
    pool = draw(st.lists(NAMES, min_size=1, max_size=4, unique=True))
    names = draw(st.lists(st.sampled_from(pool), max_size=6))
    literals = [draw(_literal()) for _ in range(len(names) + 1)]
    raws = ["{{" + draw(WHITESPACE) + name + draw(WHITESPACE) + "}}" for name in names]
    pieces = [literals[0]]
    for raw, lit in zip(raws, literals[1:]):
        pieces.append(raw)
        pieces.append(lit)
    return Built("".join(pieces), literals, names, raws)


@st.composite
def templates_with_values(draw) -> tuple[Built, dict]:
    built = draw(templates())
    values = {name: draw(VALUES) for name in set(built.names)}
    return built, values


@PROPERTY_SETTINGS
@given(templates_with_values())
def test_format_output_is_literals_and_values_concatenated(case):
    built, values = case
    prompt = PromptVersion("p", 1, built.template)
    assert not prompt.is_jinja
    assert prompt.format(**values) == built.expected(values)


@PROPERTY_SETTINGS
@given(templates_with_values(), templates_with_values())
def test_chat_format_formats_each_message_alone(first, second):
    (built1, values1), (built2, values2) = first, second
    values = {**values2, **values1}
    prompt = PromptVersion("p", 1, [
        {"role": "system", "content": built1.template},
        {"role": "user", "content": built2.template, "name": "n"},
    ])
    assert prompt.format(**values) == [
        {"role": "system", "content": built1.expected(values)},
        {"role": "user", "content": built2.expected(values), "name": "n"},
    ]


@PROPERTY_SETTINGS
@given(templates_with_values(), st.data())
def test_partial_then_complete_equals_complete(case, data):
    built, values = case
    prompt = PromptVersion("p", 1, built.template)
    first_names = data.draw(st.sets(st.sampled_from(sorted(values))) if values else st.just(set()))
    first = {k: values[k] for k in first_names}
    rest = {k: v for k, v in values.items() if k not in first_names}
    full = prompt.format(**values)

    partial = prompt.format(allow_partial=True, **first)
    if not rest:
        assert partial == full
        return
    assert isinstance(partial, PromptVersion)
    assert partial.variables == set(rest)
    assert partial.format(**rest) == full
    # the values given first are filled in; the others are still placeholders
    assert partial.template == built.expected(first)
    try:
        partial.format()
    except MissingVariablesError as exc:
        assert exc.missing == set(rest)
    else:
        raise AssertionError("formatting a partial prompt without the rest must fail")


@PROPERTY_SETTINGS
@given(templates_with_values(), templates_with_values(), st.data())
def test_chat_partial_then_complete_equals_complete(first, second, data):
    (built1, values1), (built2, values2) = first, second
    values = {**values2, **values1}
    prompt = PromptVersion("p", 1, [
        {"role": "system", "content": built1.template},
        {"role": "user", "content": built2.template},
    ])
    first_names = data.draw(st.sets(st.sampled_from(sorted(values))) if values else st.just(set()))
    partial = prompt.format(allow_partial=True, **{k: values[k] for k in first_names})
    rest = {k: v for k, v in values.items() if k not in first_names}
    full = prompt.format(**values)
    if rest:
        assert partial.variables == set(rest)
        partial = partial.format(**rest)
    assert partial == full


@PROPERTY_SETTINGS
@given(templates())
def test_variables_found_equal_placeholders_written(built):
    assert PromptVersion("p", 1, built.template).variables == set(built.names)
    assert extract_variables(built.template) == set(built.names)
    chat = [{"role": "user", "content": built.template}, {"role": "user", "content": "x"}]
    assert extract_variables(chat) == set(built.names)
