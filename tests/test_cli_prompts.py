"""The prompt commands of the CLI, run in-process against a real SQLite file (``--store``)
and against a real server on a loopback port (``--url``): the same tests, both ways."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from click.testing import Result
from typer.testing import CliRunner

import prompthouse
from prompthouse.cli import app


class Cli:
    """Runs ``prompthouse`` commands against one store (``--store``) or server (``--url``)."""

    def __init__(self, uri: str, flag: str = "--store") -> None:
        self.uri = uri
        self.flag = flag
        self.runner = CliRunner()

    def __call__(self, *args: str, code: int = 0, store: bool = True,
                 env: dict[str, str] | None = None, stdin: str | None = None) -> Result:
        argv = [*args, self.flag, self.uri] if store else list(args)
        result = self.runner.invoke(app, argv, env=env, input=stdin)
        assert result.exit_code == code, (result.stdout, result.stderr)
        assert "Traceback" not in result.output
        if code == 1:
            assert result.stderr.startswith("error: "), result.stderr
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json").stdout)

    def usage_error(self, *args: str) -> str:
        """Stderr of a command that must fail as bad usage (exit 2), flattened."""
        return " ".join(self(*args, code=2).stderr.replace("│", " ").split())


@pytest.fixture(params=["store", "server"])
def cli(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cli]:
    """The CLI on a SQLite file, or on a server (over its own SQLite file)."""
    uri = f"sqlite:///{tmp_path}/x.db"
    if request.param == "store":
        yield Cli(uri)
        return
    from prompthouse.server import create_app
    from tests.conftest import LiveServer

    registry = prompthouse.connect(uri)
    server = LiveServer(create_app(registry)).start()
    try:
        yield Cli(server.url, flag="--url")
    finally:
        server.stop()
        registry.close()


@pytest.fixture
def seeded(cli: Cli, tmp_path: Path) -> Cli:
    """``qa`` with two text versions, ``team/triage`` with one chat version."""
    cli("prompts", "create", "qa", "--template", "Answer {{ question }}", "-m", "first",
        "--tag", "team=search", "--model-config", "temperature=0.1")
    cli("prompts", "create", "qa", "--template", "Answer briefly: {{ question }}\nBe kind.",
        "-m", "second", "--tag", "x=y", "--model-config", "temperature=0.7",
        "--model-config", "model_name=gpt-4o")
    chat = tmp_path / "chat.yaml"
    chat.write_text("- role: system\n  content: You answer for {{ product }}.\n"
                    "- role: user\n  content: '{{ question }}'\n")
    cli("prompts", "create", "team/triage", "--chat-file", str(chat), "-m", "chat")
    return cli


# --- create ---------------------------------------------------------------------------


def test_create_from_text_prints_the_new_version(cli: Cli) -> None:
    result = cli("prompts", "create", "qa", "--template", "Hi {{ name }}")
    assert result.stdout == "Registered version 1 of 'qa' (prompts:/qa/1).\n"
    data = cli.json("prompts", "create", "qa", "-t", "Hello {{ name }}", "-m", "warmer",
                    "--tag", "team=a", "--tag", "k=v=w")
    assert data["version"] == 2
    assert data["template"] == "Hello {{ name }}"
    assert data["commit_message"] == "warmer"
    assert data["tags"] == {"team": "a", "k": "v=w"}
    assert data["variables"] == ["name"]
    prompt = cli.json("prompts", "search")["prompts"][0]
    assert prompt["tags"] == {"team": "a", "k": "v=w"}


def test_create_from_files_keeps_them_exactly(cli: Cli, tmp_path: Path) -> None:
    text = tmp_path / "t.txt"
    text.write_text("Line one {{ a }}\nLine two\n", encoding="utf-8")
    assert cli.json("prompts", "create", "a", "--template-file", str(text))["template"] == \
        "Line one {{ a }}\nLine two\n"
    chat = tmp_path / "chat.json"
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "{{ q }}",
                                                   "name": "u"}]
    chat.write_text(json.dumps({"messages": messages}))
    made = cli.json("prompts", "create", "b", "--chat-file", str(chat))
    assert (made["prompt_type"], made["template"]) == ("chat", messages)


def test_create_model_config_values_parse_as_json_when_they_can(cli: Cli) -> None:
    data = cli.json("prompts", "create", "qa", "-t", "x", "--model-config", "temperature=0.2",
                    "--model-config", "model_name=gpt-4o", "--model-config",
                    'stop_sequences=["END"]', "--model-config", "max_tokens=64",
                    "--model-config", "style=2024-01-01")
    assert data["model_config"] == {"model_name": "gpt-4o", "temperature": 0.2,
                                    "max_tokens": 64, "stop_sequences": ["END"],
                                    "style": "2024-01-01"}


def test_create_with_model_config_and_response_format_files(cli: Cli, tmp_path: Path) -> None:
    config = tmp_path / "model.yaml"
    config.write_text("model_name: gpt-4o-mini\ntemperature: 0\nseed: 3\n")
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"type": "object", "required": ["label"]}))
    data = cli.json("prompts", "create", "qa", "-t", "x", "--model-config-file", str(config),
                    "--response-format-file", str(schema))
    assert data["model_config"] == {"model_name": "gpt-4o-mini", "temperature": 0.0, "seed": 3}
    assert data["response_format"] == {"type": "object", "required": ["label"]}


def test_create_needs_exactly_one_template_source(cli: Cli, tmp_path: Path) -> None:
    none = cli.usage_error("prompts", "create", "qa")
    assert "give exactly one template source, not 0" in none
    file = tmp_path / "t.txt"
    file.write_text("x")
    two = cli.usage_error("prompts", "create", "qa", "-t", "x", "--template-file", str(file))
    assert "give exactly one template source, not 2" in two
    assert cli.json("prompts", "search")["prompts"] == []


def test_create_usage_errors_name_the_option(cli: Cli, tmp_path: Path) -> None:
    assert "Invalid value for '--tag': expected KEY=VALUE, got 'foo'" in cli.usage_error(
        "prompts", "create", "qa", "-t", "x", "--tag", "foo")
    assert "expected KEY=VALUE, got '=v'" in cli.usage_error(
        "prompts", "create", "qa", "-t", "x", "--model-config", "=v")
    config = tmp_path / "c.json"
    config.write_text("{}")
    assert "not both" in cli.usage_error("prompts", "create", "qa", "-t", "x",
                                         "--model-config", "a=1", "--model-config-file",
                                         str(config))
    assert "'--template-file'" in cli.usage_error(
        "prompts", "create", "qa", "--template-file", str(tmp_path / "missing.txt"))
    bad = tmp_path / "bad.json"
    bad.write_text("[{")
    assert "not valid JSON" in cli.usage_error("prompts", "create", "qa", "--chat-file",
                                               str(bad))
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("just text\n")
    assert "expected a list of {role, content} messages" in cli.usage_error(
        "prompts", "create", "qa", "--chat-file", str(scalar))
    listed = tmp_path / "list.yaml"
    listed.write_text("- 1\n")
    assert "expected a mapping, got list" in cli.usage_error(
        "prompts", "create", "qa", "-t", "x", "--response-format-file", str(listed))
    assert cli.json("prompts", "search")["prompts"] == []


def test_create_rule_violations_are_errors_not_tracebacks(cli: Cli) -> None:
    result = cli("prompts", "create", "bad name", "-t", "x", code=1)
    assert result.stderr.startswith("error: Invalid prompt name 'bad name'")
    result = cli("prompts", "create", "qa", "-t", "x", "--model-config", "temperature=-1",
                 code=1)
    assert "error: Invalid model config: temperature" in result.stderr
    result = cli("prompts", "create", "qa", "-t", "{% if %}", code=1)
    assert result.stderr.startswith("error: ")


# --- get, search, versions ------------------------------------------------------------


def test_get_by_name_uri_alias_and_version(seeded: Cli) -> None:
    latest = seeded.json("prompts", "get", "qa")
    assert latest["version"] == 2
    assert latest["model_config"] == {"model_name": "gpt-4o", "temperature": 0.7}
    assert seeded.json("prompts", "get", "qa", "--version", "1")["template"] == \
        "Answer {{ question }}"
    seeded("prompts", "alias", "set", "qa", "production", "1")
    assert seeded.json("prompts", "get", "prompts:/qa@production")["version"] == 1
    chat = seeded.json("prompts", "get", "prompts:/team/triage/1")
    assert chat["prompt_type"] == "chat"
    assert chat["variables"] == ["product", "question"]


def test_get_reads_through_the_cache(seeded: Cli) -> None:
    seeded("prompts", "alias", "set", "qa", "production", "1")
    assert seeded.json("prompts", "get", "prompts:/qa@production")["version"] == 1
    registry = prompthouse.connect(seeded.uri)
    registry.set_prompt_alias("qa", "production", 2)
    registry.close()
    assert seeded.json("prompts", "get", "prompts:/qa@production")["version"] == 2


def test_get_pretty_shows_fields_and_template(seeded: Cli) -> None:
    text = seeded("prompts", "get", "qa").stdout
    assert "prompts:/qa/2" in text
    assert "second" in text
    assert '{"model_name": "gpt-4o", "temperature": 0.7}' in text
    assert text.endswith("Answer briefly: {{ question }}\nBe kind.\n")
    chat = seeded("prompts", "get", "team/triage").stdout
    assert "[system]\nYou answer for {{ product }}.\n[user]\n{{ question }}\n" in chat


def test_get_errors(seeded: Cli) -> None:
    assert seeded("prompts", "get", "nope", code=1).stderr == \
        "error: Prompt 'nope' does not exist.\n"
    assert "has no version 9" in seeded("prompts", "get", "qa", "--version", "9",
                                        code=1).stderr
    assert "error:" in seeded("prompts", "get", "prompts:/qa/1", "--version", "2",
                              code=1).stderr
    assert "--version" in seeded.usage_error("prompts", "get", "qa", "--version", "0")


def test_search_and_list_filter_the_same_way(seeded: Cli) -> None:
    seeded("prompts", "alias", "set", "qa", "production", "2")
    for command in ("search", "list"):
        everything = seeded.json("prompts", command)
        assert [p["name"] for p in everything["prompts"]] == ["qa", "team/triage"]
        assert everything["next_page_token"] is None
        assert [p["name"] for p in seeded.json("prompts", command, "--tag", "team=search")[
            "prompts"]] == ["qa"]
        assert [p["name"] for p in seeded.json("prompts", command, "--name", "TEAM/%")[
            "prompts"]] == ["team/triage"]
        assert [p["name"] for p in seeded.json("prompts", command, "--alias", "production")[
            "prompts"]] == ["qa"]
        assert [p["name"] for p in seeded.json(
            "prompts", command, "--filter", "name LIKE 'team/%'")["prompts"]] == ["team/triage"]
        assert [p["name"] for p in seeded.json("prompts", command, "--order-by", "-name")[
            "prompts"]] == ["team/triage", "qa"]
    qa = seeded.json("prompts", "search", "--name", "qa")["prompts"][0]
    assert qa["aliases"] == {"production": 2}
    assert qa["latest_version"] == 2
    assert qa["tags"] == {"team": "search", "x": "y"}


def test_search_pages_with_a_token(seeded: Cli) -> None:
    first = seeded.json("prompts", "search", "--max-results", "1")
    assert [p["name"] for p in first["prompts"]] == ["qa"]
    second = seeded.json("prompts", "search", "--max-results", "1", "--page-token",
                         first["next_page_token"])
    assert [p["name"] for p in second["prompts"]] == ["team/triage"]
    assert f"More: --page-token {first['next_page_token']}" in seeded(
        "prompts", "list", "--max-results", "1").stdout


def test_search_pretty_and_errors(seeded: Cli) -> None:
    table = seeded("prompts", "list").stdout
    assert "qa" in table and "team/triage" in table and "team=search" in table
    assert seeded("prompts", "search", "--name", "zzz").stdout == "No prompts found.\n"
    bad_filter = seeded("prompts", "search", "--filter", "bogus ~ 1", code=1)
    assert bad_filter.stderr.startswith("error: Invalid filter 'bogus ~ 1': cannot read it")
    assert "'--order-by'" in seeded.usage_error("prompts", "search", "--order-by", "size")
    assert "'--tag'" in seeded.usage_error("prompts", "search", "--tag", "team")


def test_versions_lists_live_versions_newest_first(seeded: Cli) -> None:
    seeded("prompts", "create", "qa", "-t", "three")
    seeded("prompts", "delete", "qa", "--version", "2", "--yes")
    seeded("prompts", "alias", "set", "qa", "production", "3")
    data = seeded.json("prompts", "versions", "qa")
    assert [v["version"] for v in data["versions"]] == [3, 1]
    assert data["versions"][0]["aliases"] == ["production"]
    assert data["versions"][1]["commit_message"] == "first"
    table = seeded("prompts", "versions", "qa").stdout
    assert "production" in table and "first" in table
    assert seeded("prompts", "versions", "nope", code=1).stderr == \
        "error: Prompt 'nope' does not exist.\n"


# --- diff -----------------------------------------------------------------------------


def test_diff_json_is_the_registry_diff(seeded: Cli) -> None:
    data = seeded.json("prompts", "diff", "qa", "1", "2")
    assert data["template"] == [{
        "part": "template",
        "diff": "--- qa/1\n+++ qa/2\n@@ -1 +1,2 @@\n-Answer {{ question }}\n"
                "+Answer briefly: {{ question }}\n+Be kind.\n",
    }]
    assert data["model_config"] == {"added": {"model_name": "gpt-4o"}, "removed": {},
                                    "changed": {"temperature": [0.1, 0.7]}}
    assert data["tags"] == {"added": {"x": "y"}, "removed": {"team": "search"},
                            "changed": {}}


def test_diff_pretty_lists_template_and_field_changes(seeded: Cli) -> None:
    text = seeded("prompts", "diff", "qa", "1", "2").stdout
    assert text == (
        "qa: version 1 -> 2\n"
        "template\n"
        "--- qa/1\n+++ qa/2\n@@ -1 +1,2 @@\n-Answer {{ question }}\n"
        "+Answer briefly: {{ question }}\n+Be kind.\n"
        "model config\n"
        '  + model_name: "gpt-4o"\n'
        "  ~ temperature: 0.1 -> 0.7\n"
        "tags\n"
        '  + x: "y"\n'
        '  - team: "search"\n'
    )
    assert seeded("prompts", "diff", "qa", "2", "2").stdout == \
        "qa: version 2 -> 2\nNo differences.\n"
    assert "has no version 7" in seeded("prompts", "diff", "qa", "1", "7", code=1).stderr


def test_diff_is_colored_on_a_terminal(seeded: Cli) -> None:
    variable = "PROMPTHOUSE_URL" if seeded.flag == "--url" else "PROMPTHOUSE_STORE_URI"
    env = {**os.environ, "FORCE_COLOR": "1", "TERM": "xterm-256color", variable: seeded.uri}
    env.pop("NO_COLOR", None)
    result = subprocess.run([sys.executable, "-m", "prompthouse", "prompts", "diff", "qa",
                             "1", "2"], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    green, red, cyan = "\x1b[32m", "\x1b[31m", "\x1b[36m"
    assert next(line for line in lines if "+Be kind." in line).startswith(green)
    assert next(line for line in lines if "-Answer {{" in line).startswith(red)
    assert next(line for line in lines if "@@ -1 +1,2 @@" in line).startswith(cyan)
    assert next(line for line in lines if "temperature" in line).startswith("\x1b[33m")


# --- render ---------------------------------------------------------------------------


def test_render_text_and_chat(seeded: Cli) -> None:
    assert seeded("prompts", "render", "qa", "--var", "question=Why?").stdout == \
        "Answer briefly: Why?\nBe kind.\n"
    assert seeded("prompts", "render", "qa", "--version", "1", "--var", "question=a=b",
                  "--var", "unused=1").stdout == "Answer a=b\n"
    chat = json.loads(seeded("prompts", "render", "prompts:/team/triage@latest", "--var",
                             "product=Acme", "--var", "question=Hi").stdout)
    assert chat == [{"role": "system", "content": "You answer for Acme."},
                    {"role": "user", "content": "Hi"}]
    data = seeded.json("prompts", "render", "qa", "--var", "question=Why?")
    assert data == {"result": "Answer briefly: Why?\nBe kind.", "complete": True,
                    "missing": []}


def test_render_partial_and_missing_variables(seeded: Cli) -> None:
    result = seeded("prompts", "render", "team/triage", "--var", "question=Hi",
                    "--allow-partial")
    assert json.loads(result.stdout)[0]["content"] == "You answer for {{ product }}."
    assert result.stderr == "warning: still missing: product\n"
    data = seeded.json("prompts", "render", "team/triage", "--var", "question=Hi",
                       "--allow-partial")
    assert data["complete"] is False
    assert data["missing"] == ["product"]
    assert data["result"][1] == {"role": "user", "content": "Hi"}
    failed = seeded("prompts", "render", "team/triage", "--var", "question=Hi", code=1)
    assert failed.stderr == (
        "error: Missing variables: product. Pass each with --var NAME=VALUE, or use "
        "--allow-partial to leave them in place.\n")
    assert "expected KEY=VALUE, got 'question'" in seeded.usage_error(
        "prompts", "render", "qa", "--var", "question")
    assert "'allow_partial' is an option of format()" in seeded.usage_error(
        "prompts", "render", "qa", "--var", "allow_partial=1")


# --- aliases and tags -----------------------------------------------------------------


def test_alias_set_move_and_delete(seeded: Cli) -> None:
    assert seeded("prompts", "alias", "set", "qa", "production", "1").stdout == \
        "qa@production -> version 1\n"
    seeded("prompts", "alias", "set", "qa", "production", "2")
    assert seeded.json("prompts", "get", "prompts:/qa@production")["version"] == 2
    assert seeded("prompts", "alias", "delete", "qa", "production").stdout == \
        "Deleted alias 'production' of 'qa'.\n"
    assert "has no alias 'production'" in seeded("prompts", "get", "prompts:/qa@production",
                                                 code=1).stderr
    assert "reserved" in seeded("prompts", "alias", "set", "qa", "latest", "1",
                                code=1).stderr
    assert "no version 5" in seeded("prompts", "alias", "set", "qa", "prod", "5",
                                    code=1).stderr
    assert "error:" in seeded("prompts", "alias", "delete", "qa", "nope", code=1).stderr


def test_tags_on_prompts_and_versions(seeded: Cli) -> None:
    assert seeded("prompts", "tag", "set", "qa", "owner", "bob").stdout == \
        "Set tag owner=bob on prompt 'qa'.\n"
    assert seeded("prompts", "tag", "set", "qa", "reviewed", "yes", "--version", "1").stdout \
        == "Set tag reviewed=yes on version 1 of 'qa'.\n"
    assert seeded.json("prompts", "search", "--name", "qa")["prompts"][0]["tags"] == {
        "owner": "bob", "team": "search", "x": "y"}
    assert seeded.json("prompts", "get", "qa", "--version", "1")["tags"] == {
        "reviewed": "yes", "team": "search"}
    seeded("prompts", "tag", "delete", "qa", "owner")
    seeded("prompts", "tag", "delete", "qa", "reviewed", "--version", "1")
    assert "owner" not in seeded.json("prompts", "search", "--name", "qa")["prompts"][0]["tags"]
    assert seeded.json("prompts", "get", "qa", "--version", "1")["tags"] == {"team": "search"}
    assert seeded("prompts", "tag", "delete", "qa", "reviewed", "--version", "1",
                  code=1).stderr == "error: Version 1 of prompt 'qa' has no tag 'reviewed'.\n"


# --- delete ---------------------------------------------------------------------------


def test_delete_without_yes_and_without_a_terminal_refuses(seeded: Cli) -> None:
    result = seeded("prompts", "delete", "qa", code=1, stdin="y\n")
    assert "Not confirmed: standard input is not a terminal" in result.stderr
    assert "Pass --yes" in result.stderr
    assert seeded.json("prompts", "get", "qa")["version"] == 2


def test_delete_a_version_then_the_prompt(seeded: Cli) -> None:
    seeded("prompts", "alias", "set", "qa", "production", "1")
    assert seeded("prompts", "delete", "qa", "--version", "1", "--yes").stdout == \
        "Deleted version 1 of 'qa' and the aliases on it (production).\n"
    assert [v["version"] for v in seeded.json("prompts", "versions", "qa")["versions"]] == [2]
    assert seeded("prompts", "delete", "qa", "-y").stdout == "Deleted prompt 'qa'.\n"
    assert [p["name"] for p in seeded.json("prompts", "list")["prompts"]] == ["team/triage"]
    assert seeded("prompts", "delete", "qa", "--yes", code=1).stderr == \
        "error: Prompt 'qa' does not exist.\n"


def _on_a_terminal(uri: str, answer: str, *args: str) -> tuple[int, str]:
    """Run the CLI with a pseudo-terminal as stdin, typing ``answer``."""
    primary, secondary = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "prompthouse", *args, "--store", uri],
            stdin=secondary, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        os.write(primary, answer.encode() + b"\n")
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        os.close(primary)
        os.close(secondary)
    return proc.returncode, stdout + stderr


def test_delete_asks_on_a_terminal(seeded: Cli) -> None:
    code, output = _on_a_terminal(seeded.uri, "n", "prompts", "delete", "qa", "--version", "1")
    assert code == 1
    assert "Delete version 1 of 'qa'?" in output
    assert "Not confirmed; nothing was deleted." in output
    assert seeded.json("prompts", "get", "qa", "--version", "1")["version"] == 1
    code, output = _on_a_terminal(seeded.uri, "y", "prompts", "delete", "qa")
    assert code == 0, output
    assert "Deleted prompt 'qa'." in output
    assert seeded.json("prompts", "search", "--name", "qa")["prompts"] == []


# --- export and import ----------------------------------------------------------------


def test_export_to_stdout_in_yaml_or_json(seeded: Cli) -> None:
    data = yaml.safe_load(seeded("export").stdout)
    assert data["prompthouse_export"] == 1
    assert [p["name"] for p in data["prompts"]] == ["qa", "team/triage"]
    assert data["prompts"][0]["versions"][1]["template"] == \
        "Answer briefly: {{ question }}\nBe kind."
    assert json.loads(seeded("export", "--format", "json").stdout) == data


def test_export_to_files_by_extension(seeded: Cli, tmp_path: Path) -> None:
    for name in ("out.yml", "out.json"):
        path = tmp_path / name
        result = seeded("export", "--out", str(path))
        assert result.stdout == f"Exported 2 prompts (3 versions) to {path}.\n"
    assert yaml.safe_load((tmp_path / "out.yml").read_text()) == json.loads(
        (tmp_path / "out.json").read_text())
    assert "use .json, .yaml or .yml" in seeded("export", "--out", str(tmp_path / "o.txt"),
                                                code=1).stderr
    assert "has a JSON extension" in seeded("export", "-o", str(tmp_path / "o.json"),
                                            "--format", "yaml", code=1).stderr
    assert "'--format'" in seeded.usage_error("export", "--format", "xml")


def test_import_copies_a_registry_and_refuses_existing_prompts(
    seeded: Cli, tmp_path: Path
) -> None:
    seeded("prompts", "alias", "set", "qa", "production", "1")
    path = tmp_path / "all.yaml"
    seeded("export", "--out", str(path))
    other = Cli(f"sqlite:///{tmp_path}/other.db")
    assert other("import", str(path)).stdout == \
        f"Imported 2 prompts (3 versions, 1 aliases) from {path}.\n"
    assert other("export").stdout == seeded("export").stdout
    again = other("import", str(path), code=1)
    assert "already has the prompt(s) 'qa', 'team/triage'; nothing was imported" in \
        again.stderr
    skipped = other("import", str(path), "--skip-existing")
    assert skipped.stdout.splitlines()[1:] == ["Skipped 'qa': already exists.",
                                               "Skipped 'team/triage': already exists."]


def test_import_reads_standard_input(seeded: Cli, tmp_path: Path) -> None:
    document = seeded("export", "--format", "json").stdout
    other = Cli(f"sqlite:///{tmp_path}/other.db")
    assert other("import", "-", stdin=document).stdout.startswith("Imported 2 prompts")
    assert json.loads(other("export", "--format", "json").stdout) == json.loads(document)


def test_import_errors_are_clear(cli: Cli, tmp_path: Path) -> None:
    assert "Cannot read" in cli("import", str(tmp_path / "none.yaml"), code=1).stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("prompthouse_export: 1\nprompts:\n- name: qa\n  versions: 3\n")
    assert cli("import", str(bad), code=1).stderr == (
        "error: Invalid export document at prompts[0] (qa).versions: expected a list of "
        "versions, got a int ('3').\n")


# --- where the registry is ------------------------------------------------------------


def test_store_comes_from_the_environment_and_url_wins(tmp_path: Path) -> None:
    runner = CliRunner()
    a, b = f"sqlite:///{tmp_path}/a.db", f"sqlite:///{tmp_path}/b.db"
    made = runner.invoke(app, ["prompts", "create", "in-a", "-t", "x"],
                         env={"PROMPTHOUSE_STORE_URI": a})
    assert made.exit_code == 0, made.output
    # --url (a server, or here any URI connect() opens) wins over --store.
    made = runner.invoke(app, ["prompts", "create", "in-b", "-t", "x", "--store", a,
                               "--url", b])
    assert made.exit_code == 0, made.output

    def names(*args: str, env: dict[str, str] | None = None) -> list[str]:
        listed = runner.invoke(app, ["prompts", "list", "--json", *args], env=env)
        assert listed.exit_code == 0, listed.output
        return [p["name"] for p in json.loads(listed.stdout)["prompts"]]

    assert names("--store", a) == ["in-a"]
    assert names(env={"PROMPTHOUSE_STORE_URI": b}) == ["in-b"]
    # PROMPTHOUSE_URL names a server and wins over PROMPTHOUSE_STORE_URI (nothing listens
    # on port 1, hence the error) but never over a --store flag.
    dead = {"PROMPTHOUSE_URL": "http://127.0.0.1:1", "PROMPTHOUSE_STORE_URI": a}
    assert names("--store", b, env=dead) == ["in-b"]
    failed = runner.invoke(app, ["prompts", "list"], env=dead)
    assert failed.exit_code == 1
    assert failed.stderr.startswith("error: ")
    assert "127.0.0.1:1" in failed.stderr


def test_an_unreachable_store_is_an_error_without_the_password() -> None:
    result = CliRunner().invoke(app, ["prompts", "list", "--store",
                                      "postgresql://u:topsecret@127.0.0.1:1/x"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert "topsecret" not in result.output


def test_version_and_db_upgrade_still_work(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["--version"]).stdout == f"prompthouse {prompthouse.__version__}\n"
    result = runner.invoke(app, ["db", "upgrade", "--store", f"sqlite:///{tmp_path}/d.db"])
    assert result.exit_code == 0
    assert "upgraded the schema" in result.stdout
