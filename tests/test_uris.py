"""Prompt references: every accepted form of prompts:/... and every malformed one."""

from __future__ import annotations

import pytest

from prompthouse import InvalidArgumentError, PromptRef, parse_prompt_ref

ACCEPTED_FORMS_PARTS = (
    "prompts:/<name>/<version>",
    "prompts:/<name>@<alias>",
    "prompts:/<name>@latest",
    "bare '<name>'",
    "version=<n>",
)


@pytest.mark.parametrize(
    ("args", "name", "version", "alias", "is_latest", "uri"),
    [
        (("prompts:/name/3",), "name", 3, None, False, "prompts:/name/3"),
        (("prompts:/name/12",), "name", 12, None, False, "prompts:/name/12"),
        (("prompts:/name@alias",), "name", None, "alias", False, "prompts:/name@alias"),
        (("prompts:/name@production",), "name", None, "production", False,
         "prompts:/name@production"),
        (("prompts:/name@latest",), "name", None, "latest", True, "prompts:/name@latest"),
        (("prompts:/name@LATEST",), "name", None, "LATEST", True, "prompts:/name@LATEST"),
        (("name",), "name", None, None, True, "prompts:/name@latest"),
        (("name", 3), "name", 3, None, False, "prompts:/name/3"),
        (("name", "3"), "name", 3, None, False, "prompts:/name/3"),
        (("prompts:/team/qa/3",), "team/qa", 3, None, False, "prompts:/team/qa/3"),
        (("prompts:/team/qa@prod",), "team/qa", None, "prod", False, "prompts:/team/qa@prod"),
        (("prompts:/team/qa@latest",), "team/qa", None, "latest", True,
         "prompts:/team/qa@latest"),
        (("prompts:/a/b/c/7",), "a/b/c", 7, None, False, "prompts:/a/b/c/7"),
        (("team/qa",), "team/qa", None, None, True, "prompts:/team/qa@latest"),
        (("team/qa", 2), "team/qa", 2, None, False, "prompts:/team/qa/2"),
        (("name", None), "name", None, None, True, "prompts:/name@latest"),
    ],
)
def test_accepted_forms(args, name, version, alias, is_latest, uri):
    ref = parse_prompt_ref(*args)
    assert ref == PromptRef(name, version=version, alias=alias)
    assert ref.is_latest is is_latest
    assert ref.uri == uri


def test_keyword_version():
    assert parse_prompt_ref("qa", version=5) == PromptRef("qa", version=5)


def test_uri_round_trips_through_parse():
    for uri in ["prompts:/qa/3", "prompts:/qa@prod", "prompts:/team/qa/10",
                "prompts:/team/qa@latest"]:
        assert parse_prompt_ref(uri).uri == uri
        assert parse_prompt_ref(parse_prompt_ref(uri).uri) == parse_prompt_ref(uri)


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (("prompts:/name/latest",), "@latest"),
        (("prompts:/name/LATEST",), "@latest"),
        (("prompts:/name",), "no version or alias"),
        (("prompts:/team/qa/latest",), "@latest"),
        (("prompts:/",), "no version or alias"),
        (("prompts:/name/",), "not a positive integer"),
        (("prompts:/name/3", 3), "not both"),
        (("prompts:/name@prod", 3), "not both"),
        (("prompts:/name@latest", "1"), "not both"),
        (("prompts:name/1",), "starts with 'prompts:/'"),
        (("prompts:name@prod",), "starts with 'prompts:/'"),
        (("prompts:/name/0",), "start at 1"),
        (("name", 0), "start at 1"),
        (("name", "0"), "start at 1"),
        (("name", -1), "start at 1"),
        (("prompts:/name/-1",), "not a positive integer"),
        (("name", "-1"), "not a positive integer"),
        (("prompts:/name/x",), "not a positive integer"),
        (("prompts:/name/1.5",), "not a positive integer"),
        (("prompts:/name/ 3",), "not a positive integer"),
        (("prompts:/name/\uff11",), "not a positive integer"),  # fullwidth digit one
        (("name", "x"), "not a positive integer"),
        (("name", 1.5), "not a positive integer"),
        (("name", " 3"), "not a positive integer"),
        (("name", True), "positive integer"),
        (("name", False), "positive integer"),
        (("",), "non-empty string"),
        (("", 1), "non-empty string"),
        ((None,), "non-empty string"),
        ((3,), "non-empty string"),
        (("prompts:/@prod",), "name and an alias"),
        (("prompts:/name@",), "name and an alias"),
        (("prompts://3",), "no version or alias"),
    ],
)
def test_malformed_forms_list_the_accepted_forms(args, why):
    with pytest.raises(InvalidArgumentError) as info:
        parse_prompt_ref(*args)
    message = str(info.value)
    assert why in message
    assert "Accepted forms" in message
    for part in ACCEPTED_FORMS_PARTS:
        assert part in message
    assert info.value.code == "INVALID_ARGUMENT"
    assert isinstance(info.value, ValueError)


def test_malformed_uri_is_quoted_in_the_message():
    with pytest.raises(InvalidArgumentError, match=r"'prompts:/my-prompt/latest'"):
        parse_prompt_ref("prompts:/my-prompt/latest")


def test_prompt_ref_is_immutable():
    ref = parse_prompt_ref("prompts:/qa/3")
    with pytest.raises(AttributeError):
        ref.version = 4  # type: ignore[misc]
    assert ref.version == 3
