"""The contract every store passes: each registry operation, on SQLite and PostgreSQL.

Later stores join by adding their kind to ``STORE_KINDS`` in conftest.py.
"""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from prompthouse import (
    ConflictError,
    InvalidArgumentError,
    NotFoundError,
    PromptModelConfig,
    PromptVersion,
)
from prompthouse.registry import Registry

CHAT = [
    {"role": "system", "content": "You are a {{ style }} assistant.", "name": "sys"},
    {"role": "user", "content": "{{ question }}"},
]


class Answer(BaseModel):
    text: str
    confidence: float


# --- register and read --------------------------------------------------------------


def test_register_creates_prompt_then_next_versions(registry: Registry) -> None:
    v1 = registry.register_prompt("qa", "Answer {{ question }}", commit_message="first")
    v2 = registry.register_prompt("qa", "Answer well: {{ question }}", commit_message="better")
    assert (v1.version, v2.version) == (1, 2)
    assert v1.uri == "prompts:/qa/1"
    assert v1.creation_timestamp and v2.creation_timestamp >= v1.creation_timestamp
    stored = registry.get_prompt_version("qa", 1)
    assert stored.template == "Answer {{ question }}"
    assert stored.commit_message == "first"
    assert stored.variables == {"question"}
    assert stored.is_text_prompt
    prompt = registry.get_prompt("qa")
    assert prompt.latest_version == 2
    assert prompt.description == "first"  # the first commit message, as MLflow


def test_chat_template_round_trips_with_extra_keys(registry: Registry) -> None:
    registry.register_prompt("chat", CHAT)
    loaded = registry.load_prompt("chat", version=1)
    assert loaded.template == CHAT
    assert not loaded.is_text_prompt
    assert loaded.variables == {"style", "question"}
    assert loaded.format(style="terse", question="why?") == [
        {"role": "system", "content": "You are a terse assistant.", "name": "sys"},
        {"role": "user", "content": "why?"},
    ]


def test_model_config_and_response_format_are_stored(registry: Registry) -> None:
    config = PromptModelConfig(provider="openai", model_name="gpt-4o", temperature=0.3,
                               extra_params={"seed": 7})
    registry.register_prompt("cfg", "x", model_config=config, response_format=Answer)
    loaded = registry.get_prompt_version("cfg", 1)
    assert loaded.model_config == {
        "provider": "openai", "model_name": "gpt-4o", "temperature": 0.3, "seed": 7
    }
    assert loaded.response_format == Answer.model_json_schema()
    registry.register_prompt("cfg", "y", response_format={"type": "object"},
                             model_config={"max_tokens": 10, "custom": "kept"})
    second = registry.get_prompt_version("cfg", 2)
    assert second.response_format == {"type": "object"}
    assert second.model_config == {"max_tokens": 10, "custom": "kept"}


def test_register_tags_go_to_version_and_prompt(registry: Registry) -> None:
    registry.register_prompt("tagged", "x", tags={"team": "search", "env": "dev"})
    assert registry.get_prompt_version("tagged", 1).tags == {"team": "search", "env": "dev"}
    assert registry.get_prompt("tagged").tags == {"team": "search", "env": "dev"}
    registry.register_prompt("tagged", "y", tags={"team": "ads"})
    assert registry.get_prompt_version("tagged", 2).tags == {"team": "ads"}
    assert registry.get_prompt_version("tagged", 1).tags == {"team": "search", "env": "dev"}
    assert registry.get_prompt("tagged").tags == {"team": "ads", "env": "dev"}


def test_folder_names_and_lookup_forms(registry: Registry) -> None:
    registry.register_prompt("team/support/triage", "a")
    registry.register_prompt("team/support/triage", "b")
    registry.set_prompt_alias("team/support/triage", "production", 1)
    assert registry.load_prompt("prompts:/team/support/triage/1").template == "a"
    assert registry.load_prompt("prompts:/team/support/triage@production").template == "a"
    assert registry.load_prompt("prompts:/team/support/triage@latest").template == "b"
    assert registry.load_prompt("team/support/triage").template == "b"
    assert registry.load_prompt("team/support/triage", version=1).template == "a"
    assert registry.load_prompt("team/support/triage", version="2").template == "b"


def test_missing_things_are_not_found_with_clear_messages(registry: Registry) -> None:
    with pytest.raises(NotFoundError, match="Prompt 'nope' does not exist"):
        registry.load_prompt("nope")
    registry.register_prompt("here", "x")
    with pytest.raises(NotFoundError, match="has no version 9"):
        registry.load_prompt("here", version=9)
    with pytest.raises(NotFoundError, match="has no alias 'prod'"):
        registry.load_prompt("prompts:/here@prod")
    assert registry.load_prompt("prompts:/here@prod", allow_missing=True) is None
    assert registry.load_prompt("nope", allow_missing=True) is None
    assert registry.get_prompt("nope", allow_missing=True) is None
    with pytest.raises(NotFoundError):
        registry.get_prompt("nope")


# --- aliases ------------------------------------------------------------------------


def test_alias_moves_and_appears_on_versions(registry: Registry) -> None:
    for text in ("one", "two", "three"):
        registry.register_prompt("al", text)
    registry.set_prompt_alias("al", "production", 1)
    registry.set_prompt_alias("al", "staging", 1)
    assert registry.get_prompt_version("al", 1).aliases == ["production", "staging"]
    registry.set_prompt_alias("al", "production", 3)
    assert registry.load_prompt("prompts:/al@production").version == 3
    assert registry.get_prompt_version("al", 1).aliases == ["staging"]
    assert registry.get_prompt_version("al", 3).aliases == ["production"]
    assert registry.get_prompt("al").aliases == {"production": 3, "staging": 1}
    registry.delete_prompt_alias("al", "staging")
    assert registry.get_prompt("al").aliases == {"production": 3}
    with pytest.raises(NotFoundError, match="no alias 'staging'"):
        registry.delete_prompt_alias("al", "staging")


def test_alias_only_points_at_existing_versions(registry: Registry) -> None:
    registry.register_prompt("al2", "x")
    with pytest.raises(NotFoundError, match="no version 5"):
        registry.set_prompt_alias("al2", "production", 5)
    with pytest.raises(NotFoundError, match="does not exist"):
        registry.set_prompt_alias("ghost", "production", 1)


@pytest.mark.parametrize("alias", ["latest", "LATEST", "v1", "V22", "bad alias", "a.b", "",
                                   "x" * 256])
def test_bad_and_reserved_aliases_are_refused(registry: Registry, alias: str) -> None:
    registry.register_prompt("al3", "x")
    with pytest.raises(InvalidArgumentError):
        registry.set_prompt_alias("al3", alias, 1)


# --- tags and model config -------------------------------------------------------------


def test_prompt_and_version_tags(registry: Registry) -> None:
    registry.register_prompt("tg", "x")
    registry.set_prompt_tag("tg", "owner", "ana")
    registry.set_prompt_tag("tg", "owner", "bo")
    registry.set_prompt_version_tag("tg", 1, "quality", "good")
    assert registry.get_prompt("tg").tags == {"owner": "bo"}
    assert registry.get_prompt_version("tg", 1).tags == {"quality": "good"}
    registry.delete_prompt_tag("tg", "owner")
    registry.delete_prompt_version_tag("tg", 1, "quality")
    assert registry.get_prompt("tg").tags == {}
    assert registry.get_prompt_version("tg", 1).tags == {}
    with pytest.raises(NotFoundError, match="no tag 'owner'"):
        registry.delete_prompt_tag("tg", "owner")
    with pytest.raises(NotFoundError, match="no tag 'quality'"):
        registry.delete_prompt_version_tag("tg", 1, "quality")
    with pytest.raises(NotFoundError):
        registry.set_prompt_version_tag("tg", 2, "k", "v")


def test_model_config_can_change_but_template_cannot(registry: Registry) -> None:
    registry.register_prompt("mc", "Answer {{ q }}", model_config={"temperature": 0.1})
    registry.set_prompt_model_config("mc", 1, {"temperature": 0.9, "model_name": "m"})
    loaded = registry.get_prompt_version("mc", 1)
    assert loaded.model_config == {"temperature": 0.9, "model_name": "m"}
    assert loaded.template == "Answer {{ q }}"
    registry.delete_prompt_model_config("mc", 1)
    assert registry.get_prompt_version("mc", 1).model_config is None
    with pytest.raises(InvalidArgumentError, match="temperature"):
        registry.set_prompt_model_config("mc", 1, {"temperature": -1})
    with pytest.raises(NotFoundError):
        registry.set_prompt_model_config("mc", 4, {"temperature": 1})
    assert not hasattr(registry, "set_prompt_template")


def test_description(registry: Registry) -> None:
    registry.register_prompt("desc", "x", commit_message="initial")
    registry.set_prompt_description("desc", "Answers support questions")
    assert registry.get_prompt("desc").description == "Answers support questions"
    registry.set_prompt_description("desc", None)
    assert registry.get_prompt("desc").description is None
    with pytest.raises(NotFoundError):
        registry.set_prompt_description("ghost", "x")


# --- deleting -----------------------------------------------------------------------


def test_deleted_version_number_is_never_reused(registry: Registry) -> None:
    for text in ("1", "2", "3"):
        registry.register_prompt("del", text)
    registry.set_prompt_alias("del", "production", 3)
    registry.set_prompt_alias("del", "canary", 3)
    registry.set_prompt_alias("del", "staging", 2)
    assert registry.delete_prompt_version("del", 3) == ["canary", "production"]
    assert registry.get_prompt("del").aliases == {"staging": 2}
    assert registry.get_prompt("del").latest_version == 2
    assert registry.load_prompt("prompts:/del@latest", cache_ttl_seconds=0).version == 2
    with pytest.raises(NotFoundError):
        registry.get_prompt_version("del", 3)
    with pytest.raises(NotFoundError):
        registry.delete_prompt_version("del", 3)
    assert registry.register_prompt("del", "4").version == 4
    assert [v.version for v in registry.list_prompt_versions("del")] == [4, 2, 1]


def test_delete_prompt_removes_everything(registry: Registry) -> None:
    registry.register_prompt("gone", "x", tags={"a": "b"})
    registry.set_prompt_alias("gone", "production", 1)
    registry.register_prompt("gone-not", "stays")
    registry.delete_prompt("gone")
    assert registry.get_prompt("gone", allow_missing=True) is None
    assert registry.get_prompt("gone-not").latest_version == 1
    with pytest.raises(NotFoundError):
        registry.delete_prompt("gone")
    # A new prompt of the same name starts again at 1.
    assert registry.register_prompt("gone", "again").version == 1


# --- listing and search ---------------------------------------------------------------


def test_list_versions_newest_first_paginated(registry: Registry) -> None:
    for i in range(7):
        registry.register_prompt("many", f"text {i}")
    first = registry.list_prompt_versions("many", max_results=3)
    assert [v.version for v in first] == [7, 6, 5]
    second = registry.list_prompt_versions("many", max_results=3, page_token=first.token)
    third = registry.list_prompt_versions("many", max_results=3, page_token=second.token)
    assert [v.version for v in second] == [4, 3, 2]
    assert [v.version for v in third] == [1]
    assert third.token is None
    with pytest.raises(NotFoundError):
        registry.list_prompt_versions("ghost")


def _seed_search(registry: Registry) -> None:
    registry.register_prompt("qa-en", "x", tags={"team": "search", "lang": "en"})
    registry.register_prompt("qa-fr", "x", tags={"team": "search", "lang": "fr"})
    registry.register_prompt("QA-upper", "x", tags={"team": "ads"})
    registry.register_prompt("summarize", "x", tags={"team": "ads"})
    registry.register_prompt("team/triage", "x")
    registry.set_prompt_alias("qa-fr", "production", 1)
    registry.set_prompt_alias("summarize", "production", 1)


def _names(page: list) -> list[str]:
    return [p.name for p in page]


def test_search_by_mlflow_filter_grammar(registry: Registry) -> None:
    _seed_search(registry)
    assert _names(registry.search_prompts("name LIKE 'qa-%'")) == ["qa-en", "qa-fr"]
    assert _names(registry.search_prompts("name ILIKE 'qa-%'")) == ["QA-upper", "qa-en", "qa-fr"]
    assert _names(registry.search_prompts("name = 'summarize'")) == ["summarize"]
    assert _names(registry.search_prompts("name != 'summarize' AND tags.team = 'ads'")) == [
        "QA-upper"
    ]
    assert _names(registry.search_prompts("tags.team = 'search' and tags.lang LIKE 'f%'")) == [
        "qa-fr"
    ]
    assert _names(registry.search_prompts("tags.`team` = 'ads'")) == ["QA-upper", "summarize"]
    assert _names(registry.search_prompts("name IN ('qa-en', 'summarize')")) == [
        "qa-en", "summarize"
    ]
    assert _names(registry.search_prompts("alias = 'production'")) == ["qa-fr", "summarize"]
    assert _names(registry.search_prompts("tags.lang != 'en'")) == ["qa-fr"]
    assert _names(registry.search_prompts("name LIKE 'team/%'")) == ["team/triage"]


def test_search_by_keyword_criteria_and_order(registry: Registry) -> None:
    _seed_search(registry)
    assert _names(registry.search_prompts(name_pattern="%qa%")) == ["QA-upper", "qa-en", "qa-fr"]
    assert _names(registry.search_prompts(tags={"team": "ads"})) == ["QA-upper", "summarize"]
    assert _names(registry.search_prompts(alias="production", tags={"team": "ads"})) == [
        "summarize"
    ]
    assert _names(registry.search_prompts(order_by="-name"))[:2] == ["team/triage", "summarize"]
    registry.set_prompt_tag("qa-en", "touched", "yes")
    assert _names(registry.search_prompts(order_by="-last_updated"))[0] == "qa-en"
    hit = registry.search_prompts("name = 'qa-fr'")[0]
    assert hit.tags == {"team": "search", "lang": "fr"}
    assert hit.aliases == {"production": 1}
    assert hit.latest_version == 1


@pytest.mark.parametrize("order_by", ["name", "-name", "last_updated", "-last_updated"])
def test_search_pagination_visits_each_prompt_once(registry: Registry, order_by: str) -> None:
    for i in range(23):
        registry.register_prompt(f"p{i:02d}", "x")
    seen: list[str] = []
    token = None
    while True:
        page = registry.search_prompts(max_results=5, page_token=token, order_by=order_by)
        seen.extend(_names(page))
        token = page.token
        if token is None:
            break
    assert sorted(seen) == [f"p{i:02d}" for i in range(23)]
    assert len(seen) == 23


@pytest.mark.parametrize(
    "bad",
    [
        "name LIKE",
        "name ~ 'x'",
        "version = '1'",
        "tags.team = 'a' OR name = 'b'",
        "name = 'a' AND",
        "tags.team IN ('a')",
        "name = unquoted",
        "name IN 'a'",
    ],
)
def test_bad_filters_explain_the_grammar(registry: Registry, bad: str) -> None:
    with pytest.raises(InvalidArgumentError, match="Filters look like|not allowed"):
        registry.search_prompts(bad)


def test_bad_search_arguments(registry: Registry) -> None:
    with pytest.raises(InvalidArgumentError, match="max_results"):
        registry.search_prompts(max_results=0)
    with pytest.raises(InvalidArgumentError, match="max_results"):
        registry.search_prompts(max_results=1001)
    with pytest.raises(InvalidArgumentError, match="order_by"):
        registry.search_prompts(order_by="created")
    with pytest.raises(InvalidArgumentError, match="page token"):
        registry.search_prompts(page_token="not-a-token")


def test_like_wildcards_can_be_escaped(registry: Registry) -> None:
    registry.register_prompt("a_b", "x")
    registry.register_prompt("axb", "x")
    assert _names(registry.search_prompts(r"name LIKE 'a\\_b'")) == ["a_b"]
    assert _names(registry.search_prompts("name LIKE 'a_b'")) == ["a_b", "axb"]


# --- rules ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["", "has space", "semi;colon", "a//b", "/lead", "trail/", "../up", "x" * 256,
             "a/./b", "at@sign", "quote'", "team/versions", "a/aliases/b", "x/diff"],
)
def test_bad_names_are_refused(registry: Registry, name: str) -> None:
    with pytest.raises(InvalidArgumentError, match="name"):
        registry.register_prompt(name, "x")


def test_good_names(registry: Registry) -> None:
    for name in ("a", "A.b-c_d", "team/sub/x.y", "x" * 255, "v1.2-final", "versions/a",
                 "tags"):
        assert registry.register_prompt(name, "x").name == name


def test_template_size_limit_is_a_setting(registry: Registry) -> None:
    limit = registry.settings.max_template_chars
    registry.register_prompt("big", "x" * limit)
    with pytest.raises(InvalidArgumentError, match=f"limit is {limit}"):
        registry.register_prompt("big", "x" * (limit + 1))
    with pytest.raises(InvalidArgumentError, match="limit"):
        registry.register_prompt("big", [{"role": "user", "content": "x" * limit}])
    assert registry.get_prompt("big").latest_version == 1  # nothing half-written


def test_invalid_inputs_store_nothing(registry: Registry) -> None:
    bad_calls = [
        lambda: registry.register_prompt("bad", []),
        lambda: registry.register_prompt("bad", [{"role": "user"}]),
        lambda: registry.register_prompt("bad", 42),  # type: ignore[arg-type]
        lambda: registry.register_prompt("bad", "x", model_config={"top_p": 2}),
        lambda: registry.register_prompt("bad", "x", response_format=3),  # type: ignore[arg-type]
        lambda: registry.register_prompt("bad", "x", tags={"k": {"nested": 1}}),
        lambda: registry.register_prompt("bad", "x", tags={"": "v"}),
        lambda: registry.register_prompt("bad", "{% if %}"),
        lambda: registry.register_prompt("bad", "x", commit_message="m" * 10_001),
    ]
    for call in bad_calls:
        with pytest.raises(InvalidArgumentError):
            call()
    assert registry.get_prompt("bad", allow_missing=True) is None


def test_version_arguments_are_validated(registry: Registry) -> None:
    registry.register_prompt("vv", "x")
    for bad in (0, -1, "one", True, 1.5):
        with pytest.raises(InvalidArgumentError):
            registry.set_prompt_alias("vv", "production", bad)  # type: ignore[arg-type]


def test_returned_versions_cannot_be_corrupted(registry: Registry) -> None:
    registry.register_prompt("imm", CHAT, tags={"a": "1"}, model_config={"temperature": 1})
    loaded = registry.load_prompt("imm", version=1)
    loaded.tags["a"] = "changed"
    loaded.template[0]["content"] = "changed"
    loaded.model_config["temperature"] = 99
    with pytest.raises(AttributeError):
        loaded.name = "other"  # type: ignore[misc]
    again = registry.load_prompt("imm", version=1)
    assert again is loaded  # a cache hit...
    assert again.tags == {"a": "1"}  # ...that nobody could corrupt
    assert again.template == CHAT
    assert again.model_config == {"temperature": 1}


def test_store_reads_build_equal_versions(registry: Registry) -> None:
    made = registry.register_prompt("eq", CHAT, commit_message="m", tags={"k": "v"},
                                    model_config={"temperature": 0.5})
    read = registry.get_prompt_version("eq", 1)
    assert isinstance(read, PromptVersion)
    assert read == made


def test_import_keeps_numbers_and_timestamps(registry: Registry) -> None:
    registry.import_version("imp", 3, "third", commit_message="c", tags={"k": "v"},
                            model_config={"temperature": 1}, user_id="ana",
                            creation_timestamp=1_700_000_000_000)
    registry.import_version("imp", 7, [{"role": "user", "content": "{{ q }}"}])
    got = registry.get_prompt_version("imp", 3)
    assert (got.version, got.template, got.user_id) == (3, "third", "ana")
    assert got.creation_timestamp == 1_700_000_000_000
    assert got.tags == {"k": "v"}
    assert registry.get_prompt("imp").tags == {}
    assert [v.version for v in registry.list_prompt_versions("imp")] == [7, 3]
    with pytest.raises(InvalidArgumentError, match="already taken"):
        registry.import_version("imp", 5, "too low")
    assert registry.register_prompt("imp", "next").version == 8


def test_register_only_if_still_latest(registry: Registry) -> None:
    registry.register_prompt("cas", "one")
    made = registry.register_prompt("cas", "two", expected_latest_version=1)
    assert made.version == 2
    with pytest.raises(ConflictError, match="the latest is 2"):
        registry.register_prompt("cas", "stale", expected_latest_version=1)
    assert registry.get_prompt("cas").latest_version == 2
    assert registry.register_prompt("cas", "three").version == 3  # no number was used
    with pytest.raises(NotFoundError):
        registry.register_prompt("cas-new", "x", expected_latest_version=1)
    assert registry.get_prompt("cas-new", allow_missing=True) is None
