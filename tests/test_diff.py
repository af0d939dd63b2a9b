"""diff_versions: the shape of docs/http-api.md "Diff", text and chat templates."""

from __future__ import annotations

import pytest

from prompthouse import NotFoundError, PromptVersion, Registry
from prompthouse.diff import diff_versions

EMPTY = {"added": {}, "removed": {}, "changed": {}}
SYSTEM = {"role": "system", "content": "You answer for {{ product }}."}
USER = {"role": "user", "content": "{{ question }}"}


def _v(version: int, template: object, **fields: object) -> PromptVersion:
    return PromptVersion("team/qa", version, template, **fields)  # type: ignore[arg-type]


def test_text_change_is_one_unified_diff_with_names_and_versions() -> None:
    old = _v(1, "Answer {{ question }}\nBe brief.")
    new = _v(3, "Answer {{ question }}\nBe kind.")
    result = diff_versions(old, new)
    assert result == {
        "name": "team/qa",
        "from": 1,
        "to": 3,
        "template": [{
            "part": "template",
            "diff": "--- team/qa/1\n+++ team/qa/3\n@@ -1,2 +1,2 @@\n"
                    " Answer {{ question }}\n-Be brief.\n+Be kind.\n",
        }],
        "model_config": EMPTY,
        "response_format": EMPTY,
        "tags": EMPTY,
    }


def test_unchanged_everything_gives_empty_parts() -> None:
    old = _v(1, "same", model_config={"temperature": 0.5}, tags={"a": "1"})
    new = _v(2, "same", model_config={"temperature": 0.5}, tags={"a": "1"})
    result = diff_versions(old, new)
    assert result["template"] == []
    assert result["model_config"] == result["tags"] == result["response_format"] == EMPTY


def test_a_trailing_newline_change_shows_with_the_gnu_marker() -> None:
    text = diff_versions(_v(1, "a\nb"), _v(2, "a\nb\n"))["template"][0]["diff"]
    assert text.endswith("-b\n\\ No newline at end of file\n+b\n")
    assert all(line.endswith("\n") for line in text.splitlines(keepends=True))


def test_texts_without_final_newline_have_no_marker() -> None:
    text = diff_versions(_v(1, "one"), _v(2, "two"))["template"][0]["diff"]
    assert text == "--- team/qa/1\n+++ team/qa/2\n@@ -1 +1 @@\n-one\n+two\n"


def test_only_newlines_split_lines() -> None:
    # \u2028 and \r are text inside a line, not line breaks, for the diff.
    text = diff_versions(_v(1, "a\u2028b\rc"), _v(2, "a\u2028b\rd"))["template"][0]["diff"]
    assert text.endswith("-a\u2028b\rc\n+a\u2028b\rd\n")


def test_model_config_response_format_and_tags_list_added_removed_changed() -> None:
    old = _v(1, "t", model_config={"temperature": 0.1, "top_p": 0.9},
             response_format={"type": "object", "title": "A"}, tags={"k": "v", "gone": "x"})
    new = _v(2, "t", model_config={"temperature": 0.7, "model_name": "gpt-4o"},
             response_format={"type": "object", "title": "B", "required": ["x"]},
             tags={"k": "w", "new": "y"})
    result = diff_versions(old, new)
    assert result["model_config"] == {
        "added": {"model_name": "gpt-4o"},
        "removed": {"top_p": 0.9},
        "changed": {"temperature": [0.1, 0.7]},
    }
    assert result["response_format"] == {
        "added": {"required": ["x"]}, "removed": {}, "changed": {"title": ["A", "B"]},
    }
    assert result["tags"] == {
        "added": {"new": "y"}, "removed": {"gone": "x"}, "changed": {"k": ["v", "w"]},
    }
    assert result["template"] == []


def test_a_model_config_appearing_or_vanishing_is_all_added_or_removed() -> None:
    bare, configured = _v(1, "t"), _v(2, "t", model_config={"temperature": 0.2})
    assert diff_versions(bare, configured)["model_config"]["added"] == {"temperature": 0.2}
    assert diff_versions(configured, bare)["model_config"]["removed"] == {"temperature": 0.2}


def test_chat_diffs_only_the_changed_messages_by_index() -> None:
    old = _v(1, [SYSTEM, USER])
    new = _v(2, [{"role": "system", "content": "You answer for {{ product }}.\nBe brief."},
                 USER])
    parts = diff_versions(old, new)["template"]
    assert parts == [{
        "part": "message 0 (system)",
        "diff": "--- team/qa/1\n+++ team/qa/2\n@@ -1 +1,2 @@\n"
                " You answer for {{ product }}.\n+Be brief.\n",
    }]


def test_added_and_removed_messages_diff_against_empty_text() -> None:
    short = _v(1, [SYSTEM])
    long = _v(2, [SYSTEM, USER, {"role": "assistant", "content": "Sure."}])
    added = diff_versions(short, long)["template"]
    assert [p["part"] for p in added] == ["message 1 (user)", "message 2 (assistant)"]
    assert added[1]["diff"] == "--- team/qa/1\n+++ team/qa/2\n@@ -0,0 +1 @@\n+Sure.\n"
    removed = diff_versions(long, short)["template"]
    assert [p["part"] for p in removed] == ["message 1 (user)", "message 2 (assistant)"]
    assert removed[1]["diff"] == "--- team/qa/2\n+++ team/qa/1\n@@ -1 +0,0 @@\n-Sure.\n"


def test_a_role_or_extra_key_change_diffs_the_messages_as_json() -> None:
    old = _v(1, [SYSTEM, USER])
    new = _v(2, [SYSTEM, {"role": "assistant", "content": "{{ question }}", "name": "bot"}])
    [part] = diff_versions(old, new)["template"]
    assert part["part"] == "message 1 (user -> assistant)"
    assert '-  "role": "user",\n' in part["diff"]
    assert '+  "role": "assistant",\n' in part["diff"]
    assert '+  "name": "bot"\n' in part["diff"]


def test_text_to_chat_is_one_template_part_against_the_messages_as_json() -> None:
    result = diff_versions(_v(1, "Answer {{ question }}"), _v(2, [SYSTEM, USER]))
    [part] = result["template"]
    assert part["part"] == "template"
    assert "-Answer {{ question }}\n" in part["diff"]
    assert '+    "content": "You answer for {{ product }}."\n' in part["diff"]
    back = diff_versions(_v(2, [SYSTEM, USER]), _v(3, "Answer {{ question }}"))
    assert "+Answer {{ question }}\n" in back["template"][0]["diff"]


def test_registry_diff_prompt_versions_reads_both_versions(registry: Registry) -> None:
    registry.register_prompt("qa", "Answer {{ q }}", model_config={"temperature": 0.1})
    registry.register_prompt("qa", "Answer briefly {{ q }}", tags={"k": "v"},
                             model_config={"temperature": 0.7})
    result = registry.diff_prompt_versions("qa", 1, 2)
    assert (result["name"], result["from"], result["to"]) == ("qa", 1, 2)
    assert result["template"][0]["diff"].endswith("-Answer {{ q }}\n+Answer briefly {{ q }}\n")
    assert result["model_config"]["changed"] == {"temperature": [0.1, 0.7]}
    assert result["tags"]["added"] == {"k": "v"}
    with pytest.raises(NotFoundError, match="no version 9"):
        registry.diff_prompt_versions("qa", 1, 9)
