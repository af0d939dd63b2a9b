"""The Llama Stack Prompts API through the real ``llama_stack_client`` (0.7.5) against a
real server on a loopback port, on SQLite and PostgreSQL; the same prompts seen through
the native API (httpx) and the CLI."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import llama_stack_client
import pytest
from llama_stack_client import LlamaStackClient
from starlette.requests import Request
from typer.testing import CliRunner

from prompthouse.cli import app as cli_app
from prompthouse.errors import InvalidArgumentError
from prompthouse.registry import Registry
from prompthouse.server import create_app
from prompthouse.server.llama_stack import (
    MANAGED_TAG,
    VARIABLES_TAG,
    LlamaStackPrompts,
    _read_provider_data,
    error_response,
    parse_provider_data,
)
from prompthouse.stores.sql import SqlStore
from tests.conftest import LiveServer

SUMMARY = "Summarize the following text in {{ num_sentences }} sentences:\n\n{{ text }}"
SUMMARY_V2 = "Summarize in exactly {{ num_sentences }} sentences:\n\n{{ text }}"
PROMPT_ID = re.compile(r"^pmpt_[0-9a-f]{48}$")


@pytest.fixture
def client(live_server: LiveServer) -> Iterator[LlamaStackClient]:
    """The real client, configured as an application would: only the base URL."""
    with LlamaStackClient(base_url=live_server.url) as ls:
        yield ls


def test_the_seed_quick_start_end_to_end(client: LlamaStackClient) -> None:
    prompt = client.prompts.create(prompt=SUMMARY, variables=["num_sentences", "text"])
    assert PROMPT_ID.match(prompt.prompt_id)
    assert (prompt.version, prompt.prompt, prompt.is_default) == (1, SUMMARY, True)
    assert prompt.variables == ["num_sentences", "text"]

    retrieved = client.prompts.retrieve(prompt_id=prompt.prompt_id)
    assert retrieved.prompt == SUMMARY and retrieved.version == 1 and retrieved.is_default

    updated = client.prompts.update(prompt_id=prompt.prompt_id, prompt=SUMMARY_V2, version=1,
                                    set_as_default=True)
    assert (updated.version, updated.is_default) == (2, True)
    assert updated.variables == ["num_sentences", "text"]  # extracted: none were given
    assert client.prompts.retrieve(prompt_id=prompt.prompt_id).version == 2

    prompts = client.prompts.list()
    assert [(p.prompt_id, p.version, p.is_default) for p in prompts] == [
        (prompt.prompt_id, 2, True)
    ]
    versions = client.prompts.versions.list(prompt.prompt_id)
    assert [(v.version, v.is_default, v.prompt) for v in versions] == [
        (1, False, SUMMARY), (2, True, SUMMARY_V2)
    ]

    back = client.prompts.set_default_version(prompt.prompt_id, version=1)
    assert (back.version, back.is_default, back.prompt) == (1, True, SUMMARY)
    assert client.prompts.retrieve(prompt_id=prompt.prompt_id).version == 1
    assert client.prompts.retrieve(prompt_id=prompt.prompt_id, version=2).is_default is False
    assert [p.version for p in client.prompts.list()] == [1]

    assert client.prompts.delete(prompt_id=prompt.prompt_id) is None
    with pytest.raises(llama_stack_client.NotFoundError):
        client.prompts.retrieve(prompt_id=prompt.prompt_id)
    assert client.prompts.list() == []


def test_a_prompt_is_a_registry_prompt_named_by_its_id(client: LlamaStackClient,
                                                       http: httpx.Client) -> None:
    made = client.prompts.create(prompt="Hi {{ name }}", variables=["name", "unused"])
    native = http.get(f"/api/v1/prompts/{made.prompt_id}").json()
    assert native["name"] == made.prompt_id
    assert native["tags"][MANAGED_TAG] == "true"
    assert native["aliases"] == {"default": 1} and native["latest_version"] == 1
    version = http.get(f"/api/v1/prompts/{made.prompt_id}/versions/1").json()
    assert version["template"] == "Hi {{ name }}" and version["variables"] == ["name"]
    assert json.loads(version["tags"][VARIABLES_TAG]) == ["name", "unused"]
    found = http.get("/api/v1/prompts", params={"tag": f"{MANAGED_TAG}=true"}).json()
    assert [p["name"] for p in found["prompts"]] == [made.prompt_id]
    # Two creates never share an id.
    assert client.prompts.create(prompt="x").prompt_id != made.prompt_id


def test_the_default_version_is_the_shared_default_alias(client: LlamaStackClient,
                                                         http: httpx.Client) -> None:
    made = client.prompts.create(prompt="one")
    two = client.prompts.update(prompt_id=made.prompt_id, prompt="two", version=1,
                                set_as_default=False)
    assert (two.version, two.is_default) == (2, False)
    assert client.prompts.retrieve(prompt_id=made.prompt_id).prompt == "one"
    # Moved natively: the Llama Stack API follows.
    moved = http.put(f"/api/v1/prompts/{made.prompt_id}/aliases/default", json={"version": 2})
    assert moved.status_code == 200
    current = client.prompts.retrieve(prompt_id=made.prompt_id)
    assert (current.version, current.is_default) == (2, True)
    assert [v.is_default for v in client.prompts.versions.list(made.prompt_id)] == [False, True]
    # Moved through Llama Stack: the native API follows.
    client.prompts.set_default_version(made.prompt_id, version=1)
    assert http.get(f"/api/v1/prompts/{made.prompt_id}").json()["aliases"] == {"default": 1}
    assert http.get(f"/api/v1/prompts/{made.prompt_id}/aliases/default").json()["version"] == 1
    # No default alias: retrieve serves the latest, not marked default; list leaves it out.
    http.delete(f"/api/v1/prompts/{made.prompt_id}/aliases/default")
    latest = client.prompts.retrieve(prompt_id=made.prompt_id)
    assert (latest.version, latest.is_default) == (2, False)
    assert client.prompts.list() == []


def test_variables_extracted_declared_and_checked(client: LlamaStackClient) -> None:
    auto = client.prompts.create(prompt="{{ b }} then {{a}} and {{ b }}")
    assert auto.variables == ["a", "b"]
    declared = client.prompts.create(prompt="Hi {{ name }}", variables=["name", "tone"])
    assert declared.variables == ["name", "tone"]
    for seen in (client.prompts.retrieve(prompt_id=declared.prompt_id),
                 client.prompts.versions.list(declared.prompt_id)[0],
                 client.prompts.list()[[p.prompt_id for p in client.prompts.list()]
                                       .index(declared.prompt_id)]):
        assert seen.variables == ["name", "tone"]  # declared-but-unused ones round-trip
    jinja = client.prompts.create(prompt="{% if vip %}Dear {{ name }}{% endif %}")
    assert jinja.variables == ["name", "vip"]

    with pytest.raises(llama_stack_client.BadRequestError) as bad:
        client.prompts.create(prompt="{{ a }} {{ b }} {{ c }}", variables=["a"])
    assert bad.value.status_code == 400
    assert bad.value.body == {"error": {"message": "Prompt contains undeclared variables: "
                                                   "['b', 'c']"}}
    with pytest.raises(llama_stack_client.BadRequestError, match=r"\['text'\]"):
        client.prompts.update(prompt_id=declared.prompt_id, prompt="{{ name }} {{ text }}",
                              version=1, variables=["name"])
    kept = client.prompts.update(prompt_id=declared.prompt_id, prompt="Yo {{ name }}",
                                 version=1)
    assert kept.variables == ["name"]  # omitted on update: extracted again


def test_a_native_prompt_is_served_by_its_name(client: LlamaStackClient,
                                               http: httpx.Client) -> None:
    for template in ("Answer {{ q }}", "Answer briefly: {{ q }}"):
        assert http.post("/api/v1/prompts", json={"name": "team/qa", "template": template}
                         ).status_code == 201
    latest = client.prompts.retrieve(prompt_id="team/qa")
    assert (latest.prompt_id, latest.version, latest.is_default) == ("team/qa", 2, False)
    assert latest.variables == ["q"]
    assert client.prompts.retrieve(prompt_id="team/qa", version=1).prompt == "Answer {{ q }}"
    assert client.prompts.list() == []  # no default alias yet
    http.put("/api/v1/prompts/team/qa/aliases/default", json={"version": 1})
    listed = client.prompts.list()
    assert [(p.prompt_id, p.version, p.is_default) for p in listed] == [("team/qa", 1, True)]
    assert [v.version for v in client.prompts.versions.list("team/qa")] == [1, 2]
    three = client.prompts.update(prompt_id="team/qa", prompt="Q: {{ q }}", version=2)
    assert (three.version, three.is_default) == (3, True)
    assert http.get("/api/v1/prompts/team/qa").json()["aliases"] == {"default": 3}
    assert MANAGED_TAG not in http.get("/api/v1/prompts/team/qa").json()["tags"]
    # A chat version has no Llama Stack form: named, not mangled.
    http.post("/api/v1/prompts/team/qa/versions",
              json={"template": [{"role": "user", "content": "{{ q }}"}]})
    with pytest.raises(llama_stack_client.BadRequestError, match="chat prompt"):
        client.prompts.retrieve(prompt_id="team/qa", version=4)
    assert [v.version for v in client.prompts.versions.list("team/qa")] == [1, 2, 3]


def test_not_found_answers_404(client: LlamaStackClient) -> None:
    made = client.prompts.create(prompt="x")
    missing = "pmpt_" + "0" * 48
    calls = [
        lambda: client.prompts.retrieve(prompt_id=missing),
        lambda: client.prompts.retrieve(prompt_id=made.prompt_id, version=9),
        lambda: client.prompts.update(prompt_id=missing, prompt="y", version=1),
        lambda: client.prompts.delete(prompt_id=missing),
        lambda: client.prompts.versions.list(missing),
        lambda: client.prompts.set_default_version(missing, version=1),
        lambda: client.prompts.set_default_version(made.prompt_id, version=9),
    ]
    for call in calls:
        with pytest.raises(llama_stack_client.NotFoundError) as err:
            call()
        assert err.value.status_code == 404
        assert set(err.value.body) == {"error"} and err.value.body["error"]["message"]
    assert client.prompts.retrieve(prompt_id=made.prompt_id).prompt == "x"


def test_update_must_name_the_latest_version(client: LlamaStackClient) -> None:
    made = client.prompts.create(prompt="one")
    client.prompts.update(prompt_id=made.prompt_id, prompt="two", version=1)
    with pytest.raises(llama_stack_client.BadRequestError) as stale:
        client.prompts.update(prompt_id=made.prompt_id, prompt="three", version=1)
    assert stale.value.body["error"]["message"] == (
        f"'1' is not the latest prompt version for prompt_id='{made.prompt_id}'. "
        "Use the latest version '2' in request."
    )
    with pytest.raises(llama_stack_client.BadRequestError, match="version must be >= 1"):
        client.prompts.update(prompt_id=made.prompt_id, prompt="three", version=0)
    assert [v.version for v in client.prompts.versions.list(made.prompt_id)] == [1, 2]


@pytest.mark.parametrize(
    ("method", "path", "body", "words"),
    [
        ("POST", "/v1/prompts", b'{"prompt": "x",', "not valid JSON"),
        ("POST", "/v1/prompts", b"{}", "prompt: required"),
        ("POST", "/v1/prompts", b'["x"]', "Invalid request"),
        ("POST", "/v1/prompts", b'{"prompt": 3}', "prompt"),
        ("POST", "/v1/prompts", b'{"prompt": "x", "variables": "a"}', "variables"),
        ("PUT", "/v1/prompts/p", b'{"prompt": "x"}', "version: required"),
        ("PUT", "/v1/prompts/p", b'{"prompt": "x", "version": "1"}', "version"),
        ("PUT", "/v1/prompts/p", b'{"prompt": "x", "version": 1, "set_as_default": "no"}',
         "set_as_default"),
        ("PUT", "/v1/prompts/p/set-default-version", b'{"version": true}', "version"),
        ("GET", "/v1/prompts/p?version=abc", None, "version"),
        ("GET", "/v1/prompts/p?version=0", None, "positive"),
        ("GET", "/v1/prompts/bad%20name", None, "Invalid prompt name"),
    ],
)
def test_bad_input_is_400_never_422(http: httpx.Client, method: str, path: str,
                                    body: bytes | None, words: str) -> None:
    answer = http.request(method, path, content=body,
                          headers={"content-type": "application/json"})
    assert answer.status_code == 400, answer.text
    assert list(answer.json()) == ["error"] and list(answer.json()["error"]) == ["message"]
    assert words in answer.json()["error"]["message"]
    assert "x-should-retry" not in answer.headers  # 400 is never retried anyway


def test_bad_input_through_the_client_is_bad_request(client: LlamaStackClient) -> None:
    with pytest.raises(llama_stack_client.BadRequestError, match="prompt"):
        client.prompts.create(prompt=None)  # type: ignore[arg-type]
    with pytest.raises(llama_stack_client.BadRequestError, match="template"):
        client.prompts.create(prompt="{% if %}")  # Jinja2 the sandbox cannot parse


@pytest.mark.parametrize(
    ("header", "words"),
    [("{bad", "not valid JSON"), ("[1, 2]", "must be a JSON object, not list"),
     ("null", "not null"), ('"token"', "not str")],
)
def test_bad_provider_data_is_400(live_server: LiveServer, header: str, words: str,
                                  caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="prompthouse"), \
            LlamaStackClient(base_url=live_server.url,
                             default_headers={"X-LlamaStack-Provider-Data": header}) as bad:
        with pytest.raises(llama_stack_client.BadRequestError) as err:
            bad.prompts.create(prompt="x")
        with pytest.raises(llama_stack_client.BadRequestError):
            bad.prompts.list()
    assert words in err.value.body["error"]["message"]
    assert header not in err.value.body["error"]["message"] or header == "null"


def test_provider_data_and_api_key_are_accepted_and_never_logged(
    live_server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="prompthouse"), \
            LlamaStackClient(base_url=live_server.url, api_key="key-hunter2",
                             provider_data={"mlflow_api_token": "tok-hunter2"}) as ls:
        made = ls.prompts.create(prompt="x")
        assert ls.prompts.retrieve(prompt_id=made.prompt_id).prompt == "x"
    assert caplog.records
    assert all("hunter2" not in record.getMessage() for record in caplog.records)


def test_provider_data_is_kept_on_the_request_state() -> None:
    headers = [(b"x-llamastack-provider-data", b'{"mlflow_api_token": "t"}')]
    request = Request({"type": "http", "headers": headers})
    _read_provider_data(request)
    assert request.state.provider_data == {"mlflow_api_token": "t"}
    bare = Request({"type": "http", "headers": []})
    _read_provider_data(bare)
    assert bare.state.provider_data is None
    assert parse_provider_data('{"a": {"b": 1}}') == {"a": {"b": 1}}
    with pytest.raises(InvalidArgumentError, match="not valid JSON"):
        parse_provider_data("{'single': 'quotes'}")


def test_retryable_statuses_say_whether_to_retry() -> None:
    for status in (408, 409, 429, 500, 502, 504):
        assert error_response(status, "m").headers["x-should-retry"] == "false"
    assert "x-should-retry" not in error_response(503, "m", retryable=True).headers
    assert "x-should-retry" not in error_response(404, "m").headers


def test_an_unreachable_store_is_a_retryable_503() -> None:
    store = SqlStore("postgresql://nobody:secret@127.0.0.1:1/none", migrate=False)
    server = LiveServer(create_app(Registry(store))).start()
    try:
        with LlamaStackClient(base_url=server.url, max_retries=0) as ls, \
                pytest.raises(llama_stack_client.InternalServerError) as err:
            ls.prompts.retrieve(prompt_id="p")
        assert err.value.status_code == 503
        assert "x-should-retry" not in err.value.response.headers  # retrying is right
        assert "secret" not in err.value.response.text
        assert err.value.body["error"]["message"].startswith("The store")
    finally:
        server.stop()
        store.close()


def test_the_cli_and_the_native_api_see_the_same_prompts(client: LlamaStackClient,
                                                         live_server: LiveServer) -> None:
    made = client.prompts.create(prompt="Hi {{ name }}")
    client.prompts.update(prompt_id=made.prompt_id, prompt="Hello {{ name }}", version=1,
                          set_as_default=False)
    runner = CliRunner()

    def cli(*args: str) -> str:
        result = runner.invoke(cli_app, [*args, "--url", live_server.url])
        assert result.exit_code == 0, (result.stdout, result.stderr)
        return result.stdout

    shown = json.loads(cli("prompts", "get", f"prompts:/{made.prompt_id}@default", "--json"))
    assert (shown["version"], shown["template"]) == (1, "Hi {{ name }}")
    assert [v["version"] for v in json.loads(cli("prompts", "versions", made.prompt_id,
                                                 "--json"))["versions"]] == [2, 1]
    listed = json.loads(cli("prompts", "search", "--alias", "default", "--json"))
    assert [p["name"] for p in listed["prompts"]] == [made.prompt_id]
    cli("prompts", "alias", "set", made.prompt_id, "default", "2")
    assert client.prompts.retrieve(prompt_id=made.prompt_id).prompt == "Hello {{ name }}"
    cli("prompts", "create", "cli/made", "--template", "From the CLI {{ x }}")
    cli("prompts", "alias", "set", "cli/made", "default", "1")
    assert {p.prompt_id for p in client.prompts.list()} == {made.prompt_id, "cli/made"}
    cli("prompts", "delete", made.prompt_id, "--yes")
    with pytest.raises(llama_stack_client.NotFoundError):
        client.prompts.retrieve(prompt_id=made.prompt_id)


def test_openapi_documents_the_llama_stack_routes(http: httpx.Client) -> None:
    paths = http.get("/openapi.json").json()["paths"]
    assert {"/v1/prompts", "/v1/prompts/{prompt_id}", "/v1/prompts/{prompt_id}/versions",
            "/v1/prompts/{prompt_id}/set-default-version"} <= set(paths)
    assert set(paths["/v1/prompts/{prompt_id}"]) == {"get", "put", "delete"}


def test_an_update_that_lost_a_race_writes_nothing(sqlite_registry: Registry) -> None:
    """Two updates from the same version: the second is refused inside the store's write
    transaction, so it never shows and uses no version number."""
    api = LlamaStackPrompts(sqlite_registry)
    made = api.create("one", None)
    name = made["prompt_id"]
    register = sqlite_registry.register_prompt

    def raced(*args: object, **kwargs: object) -> object:
        # Another writer updates from version 1 between our check and our write.
        sqlite_registry.register_prompt = register  # type: ignore[method-assign]
        api.update(name, "theirs", 1, None, True)
        return register(*args, **kwargs)  # type: ignore[arg-type]

    sqlite_registry.register_prompt = raced  # type: ignore[method-assign]
    with pytest.raises(InvalidArgumentError, match="Use the latest version '2'"):
        api.update(name, "ours", 1, None, True)
    assert [v["prompt"] for v in api.list_versions(name)] == ["one", "theirs"]
    assert api.retrieve(name, None)["prompt"] == "theirs"
    # Nothing of the lost update was written: the next update goes on from the latest.
    assert api.update(name, "next", 2, None, True)["version"] == 3


def test_the_readme_example_runs_against_the_server(live_server: LiveServer,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    [block] = [b for b in re.findall(r"```python\n(.*?)```", readme, re.S)
               if "LlamaStackClient(base_url=" in b]
    code = block.replace('"http://localhost:8000"', repr(live_server.url))
    assert code != block
    exec(code, {})  # noqa: S102 - our own README
    assert "Created prompt: pmpt_" in capsys.readouterr().out
    with LlamaStackClient(base_url=live_server.url) as ls:
        assert ls.prompts.list() == []  # the example cleans up after itself


def test_oversized_bodies_are_413(http: httpx.Client,
                                  caplog: pytest.LogCaptureFixture) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: cut off while reading
        yield b'{"prompt": "'
        for _ in range(200):
            yield b"x" * 10_000
        yield b'"}'

    with caplog.at_level(logging.ERROR, logger="prompthouse"):
        declared = http.post("/v1/prompts", json={"prompt": "x" * 1_100_000})
        streamed = http.post("/v1/prompts", content=chunks(),
                             headers={"content-type": "application/json"})
    assert declared.status_code == 413 and streamed.status_code == 413
    assert "request body is larger" in streamed.json()["error"]["message"]
    assert not caplog.records  # not mistaken for a server error
    assert http.get("/v1/prompts").json() == {"data": []}
