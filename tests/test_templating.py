"""Unit tests for templating: variable extraction, PromptVersion.format, Jinja2 sandbox."""

from __future__ import annotations

import jinja2
import pytest

from prompthouse import (
    InvalidArgumentError,
    MissingVariablesError,
    PromptVersion,
    TemplateSecurityError,
)
from prompthouse import templating
from prompthouse.templating import extract_variables, is_jinja

JINJA_MARK = "{% if true %}{% endif %}"


def pv(template, **kwargs):
    return PromptVersion("p", 1, template, **kwargs)


# --- variable extraction --------------------------------------------------------------


def test_variables_follow_mlflow_placeholder_rules():
    template = "{{ a }} {{b.c}} {{1x}} {{ d-e }} {{_ok}} {a}"
    assert pv(template).variables == {"a", "b.c", "_ok"}
    assert extract_variables(template) == {"a", "b.c", "_ok"}


@pytest.mark.parametrize(
    "template",
    [
        "{{ a }} {{b.c}} {{1x}} {{ d-e }} {{_ok}} {a}",
        "{{a}}{{a}}{{ a }}",
        "{{{x}}} {{ y.z.w }} {{ .v }} {{ v. }} {{ v w }} {{}}",
        "{{\tq\n}} {{ Q_1 }} {{ é }}",
        "no variables { } {{ }}",
    ],
)
def test_text_variables_equal_mlflow(template):
    mlflow_pv = pytest.importorskip("mlflow.entities.model_registry").PromptVersion
    assert pv(template).variables == mlflow_pv("p", 1, template).variables


def test_chat_variables_come_from_each_message_content():
    template = [
        {"role": "system", "content": "You are {{ persona }}."},
        {"role": "user", "content": "{{question}} ({{ persona }})", "name": "{{not_a_var}}"},
        {"role": "assistant", "content": "no placeholders"},
    ]
    assert pv(template).variables == {"persona", "question"}
    assert extract_variables(template) == {"persona", "question"}


def test_jinja_variables_are_the_undeclared_names():
    template = (
        "{% if name %}{{ name }}{% else %}Guest{% endif %}"
        "{% for i in items %}{{ i }}{{ loop.index }}{% endfor %}{% set z = 1 %}{{ z }}"
        "{{ range(2)|list }}"
    )
    prompt = pv(template)
    assert prompt.is_jinja
    assert prompt.variables == {"name", "items"}


def test_is_jinja_needs_both_markers():
    assert is_jinja("{% if a %}x{% endif %}")
    assert not is_jinja("100% {{ a }}")
    assert not is_jinja("{% only an opener")
    assert not pv("50%} and {{ a }}").is_jinja


# --- double-brace formatting ----------------------------------------------------------


def test_substitution_is_one_pass():
    assert pv("{{a}} {{b}}").format(a="{{b}}", b="X") == "{{b}} X"
    assert pv("{{ a }}").format(a="{{ a }}") == "{{ a }}"


def test_values_are_converted_with_str():
    class Thing:
        def __str__(self):
            return "thing!"

    out = pv("{{i}}|{{f}}|{{n}}|{{t}}|{{l}}|{{o}}").format(
        i=3, f=1.5, n=None, t=True, l=[1, "a"], o=Thing()
    )
    assert out == "3|1.5|None|True|[1, 'a']|thing!"


def test_extra_values_are_ignored():
    assert pv("Hi {{ name }}").format(name="Ann", other="x", more=1) == "Hi Ann"


def test_every_spelling_of_a_placeholder_is_replaced():
    assert pv("{{a}}|{{ a }}|{{\ta\n}}|{{   a}}").format(a="1") == "1|1|1|1"


def test_dotted_names_take_values_by_their_full_name():
    assert pv("Hi {{ user.name }}").format(**{"user.name": "Ann"}) == "Hi Ann"


def test_text_that_is_not_a_placeholder_is_kept_verbatim():
    template = "{a} {{1x}} {{ d-e }} {{{a}}} {{}} }} {{ {0} {} %s"
    assert pv(template).format(a="V") == "{a} {{1x}} {{ d-e }} {V} {{}} }} {{ {0} {} %s"


def test_template_without_variables_formats_to_itself():
    template = "Plain { text } with {{ braces }"
    assert pv(template).format() == template
    assert pv(template).format(x=1) == template


def test_chat_formats_each_message_and_keeps_other_keys():
    template = [
        {"role": "system", "content": "You are {{ persona }}.", "name": "sys"},
        {"role": "user", "content": "{{question}}", "name": "bob", "extra": {"k": [1]}},
    ]
    prompt = pv(template)
    out = prompt.format(persona="a pirate", question="Where?")
    assert out == [
        {"role": "system", "content": "You are a pirate.", "name": "sys"},
        {"role": "user", "content": "Where?", "name": "bob", "extra": {"k": [1]}},
    ]


def test_chat_format_returns_fresh_lists():
    template = [
        {"role": "user", "content": "{{q}}", "meta": {"tags": ["a"]}},
    ]
    prompt = pv(template)
    first = prompt.format(q="one")
    first[0]["content"] = "changed"
    first[0]["role"] = "system"
    first[0]["meta"]["tags"].append("b")
    first.append({"role": "user", "content": "injected"})
    second = prompt.format(q="one")
    assert second == [{"role": "user", "content": "one", "meta": {"tags": ["a"]}}]
    assert second is not first
    assert prompt.template == template


def test_chat_non_text_content_and_nested_keys_come_back_as_plain_json():
    parts = [{"type": "text", "text": "{{ a }}"}, {"type": "image_url", "image_url": "u"}]
    template = [
        {"role": "user", "content": "{{ a }} {{ b }}", "extra": {"k": [1, {"x": None}]}},
        {"role": "user", "content": parts},
    ]
    prompt = pv(template)
    expected = [
        {"role": "user", "content": "1 2", "extra": {"k": [1, {"x": None}]}},
        {"role": "user", "content": parts},
    ]
    assert prompt.format(a=1, b=2) == expected
    partial = prompt.format(allow_partial=True, a=1)
    assert partial.template == [
        {"role": "user", "content": "1 {{ b }}", "extra": {"k": [1, {"x": None}]}},
        {"role": "user", "content": parts},
    ]
    assert partial.format(b=2) == expected


def test_chat_format_is_one_pass_across_messages():
    template = [
        {"role": "user", "content": "{{a}}"},
        {"role": "assistant", "content": "{{b}}"},
    ]
    out = pv(template).format(a="{{b}}", b="{{a}}")
    assert [m["content"] for m in out] == ["{{b}}", "{{a}}"]


# --- missing variables and partial formatting ------------------------------------------


def test_missing_variables_raise_naming_each_one():
    prompt = pv("{{ greeting }}, {{ name }}! {{ question }}")
    with pytest.raises(MissingVariablesError) as info:
        prompt.format(greeting="Hi")
    err = info.value
    assert err.missing == {"name", "question"}
    assert "'name'" in err.message and "'question'" in err.message
    assert "'greeting'" not in err.message
    assert "allow_partial" in err.message
    assert isinstance(err, InvalidArgumentError)
    assert err.code == "INVALID_ARGUMENT" and err.http_status == 400


def test_missing_variables_in_chat_template():
    prompt = pv([
        {"role": "system", "content": "{{ a }}"},
        {"role": "user", "content": "{{ b }}"},
    ])
    with pytest.raises(MissingVariablesError) as info:
        prompt.format(a=1)
    assert info.value.missing == {"b"}
    assert "'b'" in str(info.value)


def test_partial_format_leaves_placeholders_as_written():
    prompt = PromptVersion(
        "qa", 4, "{{greeting}}, {{ name }}! {{\tquestion }}", commit_message="c",
        tags={"t": "v"}, aliases=["prod"], model_config={"temperature": 0.2},
    )
    partial = prompt.format(allow_partial=True, greeting="Hi")
    assert isinstance(partial, PromptVersion)
    assert partial.template == "Hi, {{ name }}! {{\tquestion }}"
    assert partial.variables == {"name", "question"}
    assert (partial.name, partial.version, partial.commit_message) == ("qa", 4, "c")
    assert partial.tags == {"t": "v"} and partial.aliases == ["prod"]
    assert partial.model_config == {"temperature": 0.2}
    # the original is untouched
    assert prompt.template == "{{greeting}}, {{ name }}! {{\tquestion }}"
    assert prompt.variables == {"greeting", "name", "question"}
    assert partial.format(name="Ann", question="ok?") == "Hi, Ann! ok?"


def test_partial_format_can_be_chained():
    prompt = pv("{{a}}-{{b}}-{{c}}")
    step1 = prompt.format(allow_partial=True, a=1)
    step2 = step1.format(allow_partial=True, c=3)
    assert step2.template == "1-{{b}}-3"
    assert step2.variables == {"b"}
    assert step2.format(b=2) == "1-2-3"
    with pytest.raises(MissingVariablesError) as info:
        step2.format()
    assert info.value.missing == {"b"}


def test_partial_with_every_value_returns_the_result():
    assert pv("{{a}} {{b}}").format(allow_partial=True, a=1, b=2) == "1 2"


def test_partial_then_complete_equals_complete_with_placeholder_like_values():
    prompt = pv("{{a}} {{b}}")
    partial = prompt.format(allow_partial=True, a="{{b}}")
    assert partial.template == "{{b}} {{b}}"
    assert partial.variables == {"b"}
    assert partial.format(b="X") == prompt.format(a="{{b}}", b="X") == "{{b}} X"


def test_partial_values_may_look_like_jinja():
    # Inserted text is never parsed: '{%' in a value must not make the result Jinja2.
    prompt = pv("{{a}} and %} {{b}}")
    partial = prompt.format(allow_partial=True, a="{% if")
    assert partial.template == "{% if and %} {{b}}"
    assert not partial.is_jinja
    assert partial.format(b="{% endif %}") == "{% if and %} {% endif %}"


def test_values_bound_by_a_partial_format_stay_as_shown():
    partial = pv("{{a}} {{b}}").format(allow_partial=True, a="1")
    assert partial.template == "1 {{b}}"
    # 'a' is no longer a variable: a new value for it is an ignored extra, as in MLflow
    assert partial.format(a="2", b="x") == "1 x"


def test_partial_chat_template():
    template = [
        {"role": "system", "content": "{{ a }}", "name": "n"},
        {"role": "user", "content": "{{ b }} {{ a }}"},
    ]
    partial = pv(template).format(allow_partial=True, a="{{ b }}")
    assert partial.template == [
        {"role": "system", "content": "{{ b }}", "name": "n"},
        {"role": "user", "content": "{{ b }} {{ b }}"},
    ]
    assert partial.variables == {"b"}
    assert partial.format(b="B") == [
        {"role": "system", "content": "{{ b }}", "name": "n"},
        {"role": "user", "content": "B {{ b }}"},
    ]


# --- Jinja2 ---------------------------------------------------------------------------

GREETING = (
    "{% if name %}Hello {{ name }}{% else %}Hello Guest{% endif %}: "
    "{% for i in items %}{{ i }},{% endfor %}"
)


def test_jinja_renders_conditionals_and_loops():
    prompt = pv(GREETING)
    assert prompt.format(name="Ann", items=[1, 2, 3]) == "Hello Ann: 1,2,3,"
    assert prompt.format(name="", items=[]) == "Hello Guest: "


def test_jinja_chat_template_renders_each_message():
    prompt = pv([
        {"role": "system", "content": "{% if formal %}Dear{% else %}Hey{% endif %} {{ who }}"},
        {"role": "user", "content": "{{ q }}", "name": "u"},
    ])
    out = prompt.format(formal=True, who="Ann", q="why?")
    assert out == [
        {"role": "system", "content": "Dear Ann"},
        {"role": "user", "content": "why?", "name": "u"},
    ]


def test_jinja_missing_variable_raises():
    with pytest.raises(MissingVariablesError) as info:
        pv(GREETING).format(name="Ann")
    assert info.value.missing == {"items"}
    assert "'items'" in str(info.value)


def test_jinja_missing_attribute_of_a_given_value_is_an_invalid_argument():
    prompt = pv(JINJA_MARK + "{{ user.name }}")
    with pytest.raises(InvalidArgumentError, match="failed to render") as info:
        prompt.format(user={})
    assert not isinstance(info.value, MissingVariablesError)


def test_jinja_partial_binds_values_and_a_later_format_completes():
    prompt = pv(GREETING)
    partial = prompt.format(allow_partial=True, name="Ann")
    assert isinstance(partial, PromptVersion)
    assert partial.template == GREETING  # Jinja2 values are bound, not inserted
    assert partial.variables == {"items"}
    assert partial.format(items=["x"]) == prompt.format(name="Ann", items=["x"])
    assert partial.format(items=["x"]) == "Hello Ann: x,"
    with pytest.raises(MissingVariablesError):
        partial.format()


SSTI_PAYLOADS = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__base__.__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ lipsum.__globals__ }}",
    "{{ x|attr('__class__') }}",
    "{{ '{0.__class__}'.format(1) }}",
    "{{ self._TemplateReference__context }}",
]


@pytest.mark.parametrize("payload", SSTI_PAYLOADS)
def test_sandbox_blocks_template_injection(payload):
    prompt = pv(JINJA_MARK + payload)
    assert prompt.is_jinja
    with pytest.raises(TemplateSecurityError) as info:
        prompt.format(x=1)
    assert isinstance(info.value, InvalidArgumentError)
    assert "sandbox" in str(info.value)


@pytest.mark.parametrize("payload", SSTI_PAYLOADS)
def test_sandbox_blocks_template_injection_in_chat(payload):
    prompt = pv([{"role": "user", "content": JINJA_MARK + payload}])
    with pytest.raises(TemplateSecurityError):
        prompt.format(x=1)


@pytest.mark.parametrize(
    "payload",
    ["{{ 'a' * 100000000 }}", "{{ 100000000 * 'a' }}", "{{ [0] * 100000000 }}",
     "{{ 10 ** 100000 }}"],
)
def test_sandbox_blocks_resource_bombs(payload):
    with pytest.raises(TemplateSecurityError):
        pv(JINJA_MARK + payload).format()


def test_sandbox_allows_reasonable_arithmetic():
    assert pv(JINJA_MARK + "{{ 'ab' * 3 }}{{ 2 ** 10 }}{{ 3 * 4 }}").format() == "ababab102412"


def test_immutable_sandbox_refuses_to_mutate_values():
    items = [1, 2]
    settings = {"a": 1}
    prompt = pv(JINJA_MARK + "{{ items.append(1) }}")
    with pytest.raises(TemplateSecurityError):
        prompt.format(items=items)
    assert items == [1, 2]
    with pytest.raises(TemplateSecurityError):
        pv(JINJA_MARK + "{{ settings.update(b=2) }}").format(settings=settings)
    assert settings == {"a": 1}


@pytest.mark.parametrize(
    "template",
    ["{% if name %}unterminated", "{% for %}{% endfor %}", "{% endif %}", "{{ a } {% if %}"],
)
def test_jinja_syntax_error_is_refused_at_construction(template):
    with pytest.raises(InvalidArgumentError, match="not valid Jinja2"):
        pv(template)


def test_jinja_syntax_error_in_a_chat_message_is_refused():
    with pytest.raises(InvalidArgumentError, match="not valid Jinja2"):
        pv([{"role": "user", "content": "ok"}, {"role": "user", "content": "{% if %}"}])


def test_sandbox_can_be_turned_off():
    prompt = pv(JINJA_MARK + "{{ ''.__class__.__name__ }}")
    with pytest.raises(TemplateSecurityError):
        prompt.format()
    assert prompt.format(use_jinja_sandbox=False) == "str"
    items = [1]
    assert pv(JINJA_MARK + "{{ items.append(2) }}").format(
        use_jinja_sandbox=False, items=items
    ) == "None"
    assert items == [1, 2]


def test_compiled_jinja_templates_are_cached(monkeypatch):
    calls = []
    real_parse = jinja2.Environment._parse

    def counting_parse(self, *args, **kwargs):
        calls.append(args)
        return real_parse(self, *args, **kwargs)

    monkeypatch.setattr(jinja2.Environment, "_parse", counting_parse)
    source = "{% if who %}Hi {{ who }}{% endif %} cache-test-4f1c9a"
    first = pv(source)
    assert len(calls) == 1
    assert first.format(who="a") == "Hi a cache-test-4f1c9a"
    assert first.format(who="b") == "Hi b cache-test-4f1c9a"
    second = pv(source)
    assert second.format(who="c") == "Hi c cache-test-4f1c9a"
    assert len(calls) == 1
    # the unsandboxed environment compiles once too
    assert second.format(use_jinja_sandbox=False, who="d") == "Hi d cache-test-4f1c9a"
    assert first.format(use_jinja_sandbox=False, who="e") == "Hi e cache-test-4f1c9a"
    assert len(calls) == 2


def test_jinja_compile_cache_records_hits():
    source = "{% if x %}{{ x }}{% endif %} cache-info-test-77d2"
    pv(source).format(use_jinja_sandbox=False, x=1)
    hits = templating._jinja.cache_info().hits
    pv(source).format(use_jinja_sandbox=False, x=2)
    assert templating._jinja.cache_info().hits > hits


# --- template validation ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ([], "non-empty list"),
        ((), "non-empty list"),
        (["hello"], "Chat message 0 is a str"),
        ([{"role": "user", "content": "x"}, 3], "Chat message 1 is a int"),
        ([{"content": "x"}], "Chat message 0 lacks role"),
        ([{"role": "user"}], "Chat message 0 lacks content"),
        ([{"role": 1, "content": "x"}], "role 1; a role is a non-empty string"),
        ([{"role": "", "content": "x"}], "a role is a non-empty string"),
        ([{"role": None, "content": "x"}], "role None"),
        (42, "not int"),
        (None, "not NoneType"),
        (b"{{a}}", "not bytes"),
        ({"role": "user", "content": "x"}, "not dict"),
    ],
)
def test_invalid_templates_are_refused_with_a_clear_message(template, message):
    with pytest.raises(InvalidArgumentError, match=message) as info:
        pv(template)
    assert info.value.code == "INVALID_ARGUMENT"
    with pytest.raises(InvalidArgumentError):
        extract_variables(template)


def test_a_tuple_of_messages_is_a_chat_template():
    prompt = pv(({"role": "user", "content": "{{ a }}"},))
    assert prompt.prompt_type == "chat"
    assert prompt.format(a=1) == [{"role": "user", "content": "1"}]


# --- immutability ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "attr",
    ["name", "version", "template", "tags", "aliases", "model_config", "response_format",
     "variables", "commit_message", "new_attribute"],
)
def test_prompt_version_attributes_cannot_be_set(attr):
    prompt = pv("{{ a }}", tags={"k": "v"})
    with pytest.raises(AttributeError):
        setattr(prompt, attr, "changed")
    assert prompt.name == "p" and prompt.template == "{{ a }}" and prompt.tags == {"k": "v"}


def test_prompt_version_is_not_hashable():
    with pytest.raises(TypeError):
        hash(pv("x"))


def test_mutating_returned_values_does_not_change_the_prompt_version():
    template = [
        {"role": "system", "content": "{{ a }}", "parts": [{"type": "text"}]},
        {"role": "user", "content": "b"},
    ]
    prompt = PromptVersion(
        "p", 1, template, tags={"k": "v"}, aliases=["prod"],
        model_config={"temperature": 0.5, "stop_sequences": ["x"], "custom": {"a": [1]}},
        response_format={"type": "object", "properties": {"a": {"type": "string"}}},
    )
    prompt.tags["k"] = "changed"
    prompt.tags["new"] = "x"
    prompt.aliases.append("staging")
    config = prompt.model_config
    config["temperature"] = 2.0
    config["stop_sequences"].append("y")
    config["custom"]["a"].append(2)
    fmt = prompt.response_format
    fmt["properties"]["a"]["type"] = "integer"
    chat = prompt.template
    chat[0]["content"] = "changed"
    chat[0]["parts"][0]["type"] = "image"
    chat.pop()

    assert prompt.tags == {"k": "v"}
    assert prompt.aliases == ["prod"]
    assert prompt.model_config == {
        "temperature": 0.5, "stop_sequences": ["x"], "custom": {"a": [1]}
    }
    assert prompt.response_format == {
        "type": "object", "properties": {"a": {"type": "string"}}
    }
    assert prompt.template == template
    assert prompt.format(a="A")[0]["content"] == "A"


def test_mutating_constructor_inputs_does_not_change_the_prompt_version():
    template = [{"role": "user", "content": "{{ a }}", "meta": {"k": ["v"]}}]
    tags = {"k": "v"}
    aliases = ["prod"]
    config = {"model_name": "m", "custom": {"a": [1]}}
    fmt = {"type": "object", "properties": {"a": {"type": "string"}}}
    prompt = PromptVersion(
        "p", 1, template, tags=tags, aliases=aliases, model_config=config,
        response_format=fmt,
    )
    template[0]["content"] = "changed"
    template[0]["meta"]["k"].append("w")
    tags["k"] = "changed"
    aliases.append("staging")
    config["custom"]["a"].append(2)
    fmt["properties"]["a"]["type"] = "integer"

    assert prompt.template == [{"role": "user", "content": "{{ a }}", "meta": {"k": ["v"]}}]
    assert prompt.tags == {"k": "v"}
    assert prompt.aliases == ["prod"]
    assert prompt.model_config == {"model_name": "m", "custom": {"a": [1]}}
    assert prompt.response_format["properties"]["a"]["type"] == "string"


def test_format_does_not_change_the_prompt_version():
    prompt = pv("{{ a }} {{ b }}")
    prompt.format(allow_partial=True, a="1")
    prompt.format(a="1", b="2")
    assert prompt.template == "{{ a }} {{ b }}"
    assert prompt.variables == {"a", "b"}



@pytest.mark.parametrize(
    "payload",
    [
        "{% set a = 2 ** 256 %}" + "{% set a = a * a %}" * 20 + "{{ a }}",
        "{% set a = 2 ** 200 %}{{ " + " * ".join(["a"] * 25) + " }}",
        "{{ ((2 ** 256) ** 256) ** 256 }}",
        "{{ 'x' | center(1000000000) }}",
        "{{ 'x' | indent(1000000000) }}",
        "{{ [1] * 100000 + [2] * 1000000 }}",
    ],
)
def test_sandbox_bounds_arithmetic_and_filters(payload: str) -> None:
    with pytest.raises(TemplateSecurityError, match="too large"):
        PromptVersion("bomb", 1, payload + "{% if true %}{% endif %}").format()


def test_unsandboxed_constant_folding_errors_are_clean() -> None:
    prompt = PromptVersion("fold", 1, "{{ 10 ** 100000 }}{% if true %}{% endif %}")
    with pytest.raises(InvalidArgumentError):
        prompt.format(use_jinja_sandbox=False)
