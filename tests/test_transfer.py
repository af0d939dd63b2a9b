"""Export and import: a registry round-trips through YAML and JSON on every store."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

import prompthouse
from prompthouse import AlreadyExistsError, InvalidArgumentError, Registry
from prompthouse.cli import app
from prompthouse.transfer import (
    dump_document,
    export_registry,
    format_for,
    import_registry,
    load_document,
)

CHAT = [
    {"role": "system", "content": "You triage tickets for {{ product }}.\nBe terse."},
    {"role": "user", "content": "{{ ticket }}", "name": "customer"},
]
SCHEMA = {"type": "object", "properties": {"label": {"type": "string"}},
          "required": ["label"]}


def build_sample(registry: Registry) -> None:
    """Text and chat prompts, folders, a deleted version in the middle, every field set."""
    registry.register_prompt("qa", "Answer {{ question }}", commit_message="first",
                             tags={"team": "search"}, model_config={"temperature": 0.1},
                             user_id="ada")
    registry.register_prompt("qa", "Answer briefly: {{ question }}\n", commit_message="draft")
    registry.register_prompt(
        "qa", "  Answer {{ question }}  \nin one line: ünïcödé, 'quotes', \"double\"\n\n",
        commit_message="third", model_config={"model_name": "gpt-4o-mini", "top_p": 0.5,
                                              "seed": 7},
        response_format=SCHEMA, user_id="bob",
    )
    registry.register_prompt("qa", "yes", commit_message="fourth")
    registry.delete_prompt_version("qa", 2)
    registry.set_prompt_version_tag("qa", 3, "reviewed", "true")
    registry.set_prompt_alias("qa", "production", 3)
    registry.set_prompt_alias("qa", "staging", 4)
    registry.set_prompt_tag("qa", "owner", "search team")
    registry.set_prompt_description("qa", "Answers questions.\nMulti-line.")
    registry.register_prompt("team/support/triage", CHAT, commit_message="chat",
                             tags={"team": "support"})
    registry.register_prompt("team/support/triage", CHAT[:1], response_format=SCHEMA)
    registry.set_prompt_alias("team/support/triage", "production", 1)
    registry.set_prompt_description("team/support/triage", None)
    registry.register_prompt("team/empty-folder.v2", "{% if x %}{{ x }}{% endif %}")


@pytest.fixture
def target_uri(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A second, empty store of the same kind as ``store_uri``."""
    if store_kind == "sqlite":
        return f"sqlite:///{tmp_path}/target.db"
    return request.getfixturevalue("fresh_postgres_url")


@pytest.fixture
def source(store_uri: str) -> Iterator[Registry]:
    registry = prompthouse.connect(store_uri)
    build_sample(registry)
    yield registry
    registry.close()


@pytest.fixture
def target(target_uri: str) -> Iterator[Registry]:
    registry = prompthouse.connect(target_uri)
    yield registry
    registry.close()


def test_export_holds_every_field_in_order(source: Registry) -> None:
    data = export_registry(source)
    assert data["prompthouse_export"] == 1
    assert [p["name"] for p in data["prompts"]] == [
        "qa", "team/empty-folder.v2", "team/support/triage"]
    qa = data["prompts"][0]
    assert qa["description"] == "Answers questions.\nMulti-line."
    assert qa["tags"] == {"owner": "search team", "team": "search"}
    assert qa["aliases"] == {"production": 3, "staging": 4}
    assert [v["version"] for v in qa["versions"]] == [1, 3, 4]
    first, third = qa["versions"][0], qa["versions"][1]
    assert first["user_id"] == "ada"
    assert first["model_config"] == {"temperature": 0.1}
    assert isinstance(first["creation_timestamp"], int)
    assert third["tags"] == {"reviewed": "true"}
    assert third["response_format"] == SCHEMA
    assert third["model_config"] == {"model_name": "gpt-4o-mini", "top_p": 0.5, "seed": 7}
    assert set(first) == {"version", "template", "commit_message", "tags", "model_config",
                          "response_format", "creation_timestamp", "user_id"}
    triage = data["prompts"][2]
    assert triage["description"] is None
    assert triage["versions"][0]["template"] == CHAT


def test_round_trip_through_the_cli_in_yaml_and_json(
    source: Registry, store_uri: str, target_uri: str, tmp_path: Path
) -> None:
    runner = CliRunner()
    exported = {}
    for ext in ("yaml", "json"):
        path = tmp_path / f"export.{ext}"
        result = runner.invoke(app, ["export", "--out", str(path), "--store", store_uri])
        assert result.exit_code == 0, result.output
        assert "Exported 3 prompts (6 versions)" in result.stdout
        exported[ext] = path
    assert yaml.safe_load(exported["yaml"].read_text()) == json.loads(
        exported["json"].read_text())
    assert exported["yaml"].read_text().startswith("prompthouse_export: 1\n")

    before = export_registry(source)
    for ext, uri in (("yaml", target_uri), ("json", f"sqlite:///{tmp_path}/from-json.db")):
        result = runner.invoke(app, ["import", str(exported[ext]), "--store", uri])
        assert result.exit_code == 0, result.output
        assert "Imported 3 prompts (6 versions, 3 aliases)" in result.stdout
        copy = prompthouse.connect(uri)
        try:
            assert export_registry(copy) == before
            served = copy.load_prompt("prompts:/qa@production")
            assert served.version == 3
            assert served.template == source.get_prompt_version("qa", 3).template
            assert served.creation_timestamp == source.get_prompt_version(
                "qa", 3).creation_timestamp
            # Numbers are never reused: version 2 stays a gap, the next is 5.
            assert copy.register_prompt("qa", "next").version == 5
        finally:
            copy.close()


def test_import_into_a_registry_with_one_of_the_prompts_writes_nothing(
    source: Registry, target: Registry
) -> None:
    data = export_registry(source)
    target.register_prompt("team/support/triage", "mine", commit_message="keep me")
    before = export_registry(target)
    with pytest.raises(AlreadyExistsError, match="'team/support/triage'") as info:
        import_registry(target, data)
    assert "nothing was imported" in info.value.message
    assert export_registry(target) == before
    assert target.get_prompt("qa", allow_missing=True) is None


def test_skip_existing_imports_the_others_and_leaves_it_alone(
    source: Registry, target: Registry
) -> None:
    data = export_registry(source)
    target.register_prompt("qa", "mine")
    summary = import_registry(target, data, skip_existing=True)
    assert summary["imported"] == ["team/empty-folder.v2", "team/support/triage"]
    assert summary["skipped"] == [{"name": "qa", "reason": "already exists"}]
    assert (summary["prompts"], summary["versions"], summary["aliases"]) == (2, 3, 1)
    assert target.load_prompt("qa", cache_ttl_seconds=0).template == "mine"
    imported = export_registry(target)["prompts"]
    assert imported[1:] == data["prompts"][1:]


def test_a_failure_part_way_names_the_prompt_and_the_ones_imported(tmp_path: Path) -> None:
    def prompt(name: str, *templates: str) -> dict[str, Any]:
        return {"name": name, "versions": [{"version": i, "template": t}
                                           for i, t in enumerate(templates, 1)]}

    data = {"prompthouse_export": 1, "prompts": [
        prompt("a", "short"), prompt("b", "ok", "x" * 100), prompt("c", "fine")]}
    # The document is valid, but this target refuses templates over 30 characters.
    small = prompthouse.connect(f"sqlite:///{tmp_path}/small.db", max_template_chars=30)
    try:
        with pytest.raises(InvalidArgumentError) as info:
            import_registry(small, data)
        message = info.value.message
        assert message.startswith("Import stopped at prompt 'b': The template is 100 ")
        assert "Prompts imported before it: 'a'." in message
        assert info.value.imported == ["a"]
        assert [p.name for p in small.search_prompts()] == ["a", "b"]
        # Resuming, after deleting the half-written prompt, skips the imported one.
        small.delete_prompt("b")
        data["prompts"][1]["versions"][1]["template"] = "shorter"
        summary = import_registry(small, data, skip_existing=True)
        assert summary["imported"] == ["b", "c"]
        assert summary["skipped"] == [{"name": "a", "reason": "already exists"}]
        assert small.load_prompt("b").template == "shorter"
    finally:
        small.close()


def test_a_prompt_without_live_versions_is_skipped_with_a_reason(tmp_path: Path) -> None:
    registry = prompthouse.connect(f"sqlite:///{tmp_path}/a.db")
    registry.register_prompt("gone", "x")
    registry.delete_prompt_version("gone", 1)
    data = export_registry(registry)
    registry.close()
    assert data["prompts"] == [{"name": "gone", "description": None, "tags": {},
                                "aliases": {}, "versions": []}]
    other = prompthouse.connect(f"sqlite:///{tmp_path}/b.db")
    summary = import_registry(other, data)
    assert summary["skipped"] == [{"name": "gone",
                                   "reason": "no live versions (a prompt needs one)"}]
    assert other.get_prompt("gone", allow_missing=True) is None
    other.close()


def _doc(**prompt: Any) -> dict[str, Any]:
    base = {"name": "qa", "versions": [{"version": 1, "template": "t"}]}
    base.update(prompt)
    return {"prompthouse_export": 1, "prompts": [base]}


MALFORMED = [
    ([], "at the top level: expected a mapping"),
    ({"prompts": []}, "'prompthouse_export': expected 1"),
    ({"prompthouse_export": 2, "prompts": []}, "expected 1 (the only format version"),
    ({"prompthouse_export": 1, "prompts": {}}, "'prompts': expected a list of prompts"),
    ({"prompthouse_export": 1, "prompts": [], "extra": 1}, "unknown key(s) 'extra'"),
    ({"prompthouse_export": 1, "prompts": ["qa"]}, "prompts[0]: expected a mapping"),
    ({"prompthouse_export": 1, "prompts": [{"name": "qa"}]},
     "prompts[0] (qa): missing 'versions' (required: 'name', 'versions')"),
    (_doc(name="bad name"), "prompts[0].name: Invalid prompt name 'bad name'"),
    (_doc(labels={}), "prompts[0] (qa): unknown key(s) 'labels'; allowed: 'aliases'"),
    (_doc(tags={"k": 1}), "prompts[0] (qa).tags: tag 'k': 1: keys and values must be"),
    (_doc(description=5), "prompts[0] (qa).description: expected a string or null"),
    (_doc(versions=[{"version": 2, "template": "a"}, {"version": 1, "template": "b"}]),
     "prompts[0] (qa).versions: version numbers must be distinct and ascending, got [2, 1]"),
    (_doc(versions=[{"version": 0, "template": "a"}]),
     "prompts[0] (qa).versions[0].version: expected a positive integer, got 0"),
    (_doc(versions=[{"version": 1, "template": [{"content": "x"}]}]),
     "prompts[0] (qa).versions[0].template: Chat message 0 lacks role"),
    (_doc(versions=[{"version": 1, "template": "{% if %}"}]),
     "prompts[0] (qa).versions[0].template:"),
    (_doc(versions=[{"version": 1, "template": "t", "model_config": {"temperature": -1}}]),
     "prompts[0] (qa).versions[0].model_config: Invalid model config: temperature"),
    (_doc(versions=[{"version": 1, "template": "t", "creation_timestamp": "today"}]),
     "versions[0].creation_timestamp: expected milliseconds since the epoch"),
    (_doc(versions=[{"version": 1, "template": "t", "aliases": ["x"]}]),
     "versions[0]: unknown key(s) 'aliases'"),
    (_doc(aliases={"production": 2}),
     "prompts[0] (qa).aliases.production: points at version 2, which is not among the "
     "exported versions [1]"),
    (_doc(aliases={"latest": 1}), "prompts[0] (qa).aliases: The alias 'latest' is reserved"),
]


@pytest.mark.parametrize(("data", "expected"), MALFORMED)
def test_a_malformed_document_is_refused_saying_where_and_nothing_is_written(
    sqlite_registry: Registry, data: Any, expected: str
) -> None:
    if isinstance(data, dict) and isinstance(data.get("prompts"), list):
        # A valid prompt first: it must not be written either.
        data = {**data, "prompts": [{"name": "ok", "versions": [
            {"version": 1, "template": "t"}]}, *data["prompts"]]}
        expected = expected.replace("prompts[0]", "prompts[1]")
    with pytest.raises(InvalidArgumentError) as info:
        import_registry(sqlite_registry, data)
    assert info.value.message.startswith("Invalid export document at ")
    assert expected in info.value.message
    assert list(sqlite_registry.search_prompts()) == []


def test_a_prompt_listed_twice_is_refused(sqlite_registry: Registry) -> None:
    prompt = {"name": "qa", "versions": [{"version": 1, "template": "t"}]}
    with pytest.raises(InvalidArgumentError, match=r"prompts\[1\]: the prompt 'qa' appears"):
        import_registry(sqlite_registry, {"prompthouse_export": 1, "prompts": [prompt, prompt]})


def test_a_minimal_hand_written_document_imports(sqlite_registry: Registry) -> None:
    data = {"prompthouse_export": 1, "prompts": [
        {"name": "qa", "versions": [{"version": 3, "template": "Hi {{ x }}",
                                     "commit_message": "hand-made"}]},
        {"name": "b", "description": None, "versions": [
            {"version": 1, "template": "t", "commit_message": "c"}]}]}
    summary = import_registry(sqlite_registry, data)
    assert summary["imported"] == ["qa", "b"]
    loaded = sqlite_registry.load_prompt("qa")
    assert (loaded.version, loaded.template, loaded.tags) == (3, "Hi {{ x }}", {})
    # Without a description the registry's default stays: the first commit message.
    assert sqlite_registry.get_prompt("qa").description == "hand-made"
    assert sqlite_registry.get_prompt("b").description is None


TRICKY = [
    "plain", "", "multi\nline", "trailing newline\n", "two trailing\n\n", "  leading spaces",
    "line with trailing space \nnext", "tab\tinside\n", "yes", "null", "123", "1e3",
    "---\nlooks: like yaml", "{{ var }}", "# hash", "ünïcödé ✓", "windows\r\nline\r\n",
    "\nstarts with newline", "emoji 😀\n",
]


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_documents_round_trip_every_string_exactly(tmp_path: Path, fmt: str) -> None:
    data = {"prompthouse_export": 1, "strings": TRICKY, "n": [1, 0.5, None, True]}
    path = tmp_path / f"doc.{fmt}"
    text = dump_document(data, path)
    assert path.read_text(encoding="utf-8") == text
    assert load_document(path) == data


def test_yaml_writes_multi_line_templates_as_blocks() -> None:
    text = dump_document({"template": "first line\nsecond line"}, None, "yaml")
    assert text == "template: |-\n  first line\n  second line\n"


def test_formats_come_from_extensions_or_the_argument(tmp_path: Path) -> None:
    assert format_for(None) == "yaml"
    assert format_for(None, "json") == "json"
    assert format_for("x.YML") == "yaml"
    assert format_for("x.json") == "json"
    with pytest.raises(InvalidArgumentError, match="use .json, .yaml or .yml"):
        format_for("x.txt")
    with pytest.raises(InvalidArgumentError, match="has a JSON extension but the format"):
        format_for("x.json", "yaml")
    with pytest.raises(InvalidArgumentError, match="Unknown format 'xml'"):
        format_for(None, "xml")


def test_unreadable_or_malformed_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="Cannot read '.*missing.yaml': No such"):
        load_document(tmp_path / "missing.yaml")
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"a": 1,\n "b": }')
    with pytest.raises(InvalidArgumentError, match="not valid JSON: .* at line 2, column 7"):
        load_document(bad_json)
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("a: [1, 2\nb: 3\n")
    expected = "is not valid YAML: expected ',' or ']', but got ':' at line 2, column 2."
    with pytest.raises(InvalidArgumentError, match=re.escape(expected)):
        load_document(bad_yaml)


@pytest.mark.slow
def test_export_reads_every_page(tmp_path: Path) -> None:
    registry = prompthouse.connect(f"sqlite:///{tmp_path}/many.db")
    for i in range(1001):
        registry.register_prompt(f"p{i:04d}", "x")
    data = export_registry(registry)
    registry.close()
    assert len(data["prompts"]) == 1001
    assert data["prompts"][-1]["name"] == "p1000"
