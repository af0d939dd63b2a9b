"""The native HTTP API through a real uvicorn server and a raw httpx client."""

from __future__ import annotations

import logging
import threading

import httpx
import pytest

from prompthouse.registry import Registry
from prompthouse.server import create_app
from prompthouse.stores.sql import SqlStore
from tests.conftest import LiveServer

CHAT = [{"role": "system", "content": "Be {{ style }}.", "name": "s"},
        {"role": "user", "content": "{{ question }}"}]


def _register(http: httpx.Client, name: str, template: object, **extra: object) -> dict:
    answer = http.post("/api/v1/prompts", json={"name": name, "template": template, **extra})
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_register_and_read_every_way(http: httpx.Client) -> None:
    first = _register(http, "team/qa", "Answer {{ q }}", commit_message="first",
                      tags={"team": "search"}, model_config={"temperature": 0.2},
                      response_format={"type": "object"})
    assert first["version"] == 1 and first["uri"] == "prompts:/team/qa/1"
    assert first["variables"] == ["q"] and first["prompt_type"] == "text"
    second = http.post("/api/v1/prompts/team/qa/versions", json={"template": CHAT})
    assert second.status_code == 201 and second.json()["version"] == 2
    assert http.put("/api/v1/prompts/team/qa/aliases/production",
                    json={"version": 1}).json() == {"name": "team/qa", "alias": "production",
                                                    "version": 1}
    by_alias = http.get("/api/v1/prompts/team/qa/aliases/production").json()
    assert by_alias["template"] == "Answer {{ q }}"
    assert by_alias["model_config"] == {"temperature": 0.2}
    assert by_alias["response_format"] == {"type": "object"}
    assert by_alias["tags"] == {"team": "search"} and by_alias["aliases"] == ["production"]
    assert http.get("/api/v1/prompts/team%2Fqa/versions/2").json()["template"] == CHAT
    assert http.get("/api/v1/prompts/team/qa/aliases/latest").json()["version"] == 2
    prompt = http.get("/api/v1/prompts/team/qa").json()
    assert prompt["latest_version"] == 2 and prompt["aliases"] == {"production": 1}
    assert prompt["description"] == "first"
    versions = http.get("/api/v1/prompts/team/qa/versions", params={"max_results": 1}).json()
    assert [v["version"] for v in versions["versions"]] == [2]
    more = http.get("/api/v1/prompts/team/qa/versions",
                    params={"page_token": versions["next_page_token"]}).json()
    assert [v["version"] for v in more["versions"]] == [1] and more["next_page_token"] is None


def test_tags_model_config_description_and_deletes(http: httpx.Client) -> None:
    _register(http, "t", "x {{ a }}")
    _register(http, "t", "y {{ a }}")
    assert http.put("/api/v1/prompts/t/tags/owner%2Fteam", json={"value": "ana"}
                    ).status_code == 204
    assert http.put("/api/v1/prompts/t/versions/1/tags/ok", json={"value": "yes"}
                    ).status_code == 204
    assert http.get("/api/v1/prompts/t").json()["tags"] == {"owner/team": "ana"}
    assert http.get("/api/v1/prompts/t/versions/1").json()["tags"] == {"ok": "yes"}
    changed = http.put("/api/v1/prompts/t/versions/1/model-config",
                       json={"model_name": "m", "temperature": 1})
    assert changed.json()["model_config"] == {"model_name": "m", "temperature": 1}
    assert http.delete("/api/v1/prompts/t/versions/1/model-config").status_code == 204
    assert http.get("/api/v1/prompts/t/versions/1").json()["model_config"] is None
    assert http.patch("/api/v1/prompts/t", json={"description": "d"}).json()["description"] == "d"
    assert http.delete("/api/v1/prompts/t/tags/owner%2Fteam").status_code == 204
    assert http.delete("/api/v1/prompts/t/versions/1/tags/ok").status_code == 204
    http.put("/api/v1/prompts/t/aliases/production", json={"version": 2})
    assert http.delete("/api/v1/prompts/t/versions/2").json() == {
        "removed_aliases": ["production"]
    }
    assert http.get("/api/v1/prompts/t/aliases/production").status_code == 404
    assert http.delete("/api/v1/prompts/t").status_code == 204
    assert http.get("/api/v1/prompts/t").status_code == 404


def test_search_with_filters_and_pages(http: httpx.Client) -> None:
    for i in range(5):
        _register(http, f"qa-{i}", "x", tags={"team": "a" if i % 2 else "b"})
    _register(http, "other", "x", tags={"team": "a"})
    http.put("/api/v1/prompts/qa-1/aliases/production", json={"version": 1})
    names = lambda answer: [p["name"] for p in answer.json()["prompts"]]  # noqa: E731
    assert names(http.get("/api/v1/prompts", params={"filter": "name LIKE 'qa-%' AND "
                                                     "tags.team = 'a'"})) == ["qa-1", "qa-3"]
    assert names(http.get("/api/v1/prompts", params={"tag": ["team=a"], "name_pattern": "Q%"})
                 ) == ["qa-1", "qa-3"]
    assert names(http.get("/api/v1/prompts", params={"alias": "production"})) == ["qa-1"]
    page = http.get("/api/v1/prompts", params={"max_results": 4, "order_by": "-name"}).json()
    assert len(page["prompts"]) == 4 and page["next_page_token"]
    rest = http.get("/api/v1/prompts", params={"max_results": 4, "order_by": "-name",
                                               "page_token": page["next_page_token"]}).json()
    assert len(rest["prompts"]) == 2 and rest["next_page_token"] is None


def test_etag_and_conditional_get(http: httpx.Client) -> None:
    _register(http, "e", "one")
    http.put("/api/v1/prompts/e/aliases/production", json={"version": 1})
    first = http.get("/api/v1/prompts/e/aliases/production")
    etag = first.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    same = http.get("/api/v1/prompts/e/aliases/production", headers={"If-None-Match": etag})
    assert same.status_code == 304 and same.content == b""
    assert same.headers["etag"] == etag
    version_etag = http.get("/api/v1/prompts/e/versions/1").headers["etag"]
    assert version_etag == etag  # same answer, same tag
    http.put("/api/v1/prompts/e/versions/1/tags/k", json={"value": "v"})
    changed = http.get("/api/v1/prompts/e/aliases/production", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert changed.json()["tags"] == {"k": "v"}


def test_render_text_chat_partial_and_jinja(http: httpx.Client) -> None:
    _register(http, "r", "Hi {{ name }}, {{ greeting }}")
    _register(http, "r", CHAT)
    _register(http, "r", "{% if vip %}Dear {{ name }}{% else %}Hi{% endif %}")
    http.put("/api/v1/prompts/r/aliases/production", json={"version": 2})
    done = http.post("/api/v1/prompts/r/versions/1/render",
                     json={"variables": {"name": "Ada", "greeting": "{{ name }}"}}).json()
    assert done == {"result": "Hi Ada, {{ name }}", "complete": True, "missing": []}
    chat = http.post("/api/v1/prompts/r/aliases/production/render",
                     json={"variables": {"style": "brief", "question": "why?"}}).json()
    assert chat["result"] == [{"role": "system", "content": "Be brief.", "name": "s"},
                              {"role": "user", "content": "why?"}]
    partial = http.post("/api/v1/prompts/r/versions/1/render",
                        json={"variables": {"name": "Ada"}, "allow_partial": True}).json()
    assert partial == {"result": "Hi Ada, {{ greeting }}", "complete": False,
                       "missing": ["greeting"]}
    missing = http.post("/api/v1/prompts/r/versions/1/render", json={"variables": {}})
    assert missing.status_code == 400 and "greeting" in missing.json()["error"]["message"]
    jinja = http.post("/api/v1/prompts/r/versions/3/render",
                      json={"variables": {"vip": True, "name": "Ada"}}).json()
    assert jinja["result"] == "Dear Ada"
    _register(http, "evil", "{{ ''.__class__.__mro__ }}{% if 1 %}{% endif %}")
    escape = http.post("/api/v1/prompts/evil/versions/1/render", json={"variables": {}})
    assert escape.status_code == 400
    assert "sandbox" in escape.json()["error"]["message"]


def test_diff(http: httpx.Client) -> None:
    _register(http, "d", "line one\nline two", model_config={"temperature": 0.1})
    _register(http, "d", "line one\nline 2", model_config={"temperature": 0.7}, tags={"k": "v"})
    diff = http.get("/api/v1/prompts/d/diff", params={"from": 1, "to": 2}).json()
    assert diff["from"] == 1 and diff["to"] == 2
    assert "-line two" in diff["template"][0]["diff"]
    assert "+line 2" in diff["template"][0]["diff"]
    assert diff["model_config"]["changed"] == {"temperature": [0.1, 0.7]}
    assert diff["tags"]["added"] == {"k": "v"}
    assert http.get("/api/v1/prompts/d/diff", params={"from": 1, "to": 9}).status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "words"),
    [
        ("POST", "/api/v1/prompts", {"template": "x"}, 400, "name: required"),
        ("POST", "/api/v1/prompts", {"name": 3, "template": "x"}, 400, "name"),
        ("POST", "/api/v1/prompts", {"name": "x", "template": []}, 400, "non-empty"),
        ("POST", "/api/v1/prompts", {"name": "bad name", "template": "x"}, 400, "name"),
        ("POST", "/api/v1/prompts", {"name": "x", "template": "x", "tags": {"a": [1]}}, 400,
         "tags.a"),
        ("POST", "/api/v1/prompts", {"name": "x", "template": "x", "bogus": 1}, 400, "bogus"),
        ("POST", "/api/v1/prompts", {"name": "x", "template": "x",
                                     "model_config": {"temperature": -1}}, 400, "temperature"),
        ("POST", "/api/v1/prompts", ["not", "an", "object"], 400, "Invalid request"),
        ("PUT", "/api/v1/prompts/x/aliases/latest", {"version": 1}, 400, "reserved"),
        ("PUT", "/api/v1/prompts/x/aliases/prod", {"version": "one"}, 400, "version"),
        ("GET", "/api/v1/prompts/x/versions/abc", None, 400, "version"),
        ("GET", "/api/v1/prompts/x/versions/0", None, 400, "positive"),
        ("GET", "/api/v1/prompts?max_results=5000", None, 400, "max_results"),
        ("GET", "/api/v1/prompts?filter=name%20~%20'x'", None, 400, "Filters look like"),
        ("GET", "/api/v1/prompts?tag=novalue", None, 400, "tag=key=value"),
        ("GET", "/api/v1/prompts?page_token=garbage", None, 400, "page token"),
        ("GET", "/api/v1/prompts/ghost", None, 404, "does not exist"),
        ("GET", "/api/v1/prompts/ghost/aliases/prod", None, 404, "does not exist"),
        ("GET", "/api/v1/nowhere", None, 404, "No route"),
        ("DELETE", "/api/v1/prompts", None, 405, "not allowed"),
        ("POST", "/api/v1/prompts/x/versions/1/render", {"variables": []}, 400, "variables"),
    ],
)
def test_bad_requests_get_clear_errors(http: httpx.Client, method: str, path: str,
                                       body: object, status: int, words: str) -> None:
    answer = http.request(method, path, json=body) if body is not None else \
        http.request(method, path)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert words in error["message"]
    assert error["code"] in {"INVALID_ARGUMENT", "NOT_FOUND"}


def test_malformed_json_is_400(http: httpx.Client) -> None:
    answer = http.post("/api/v1/prompts", content=b'{"name": "x",',
                       headers={"content-type": "application/json"})
    assert answer.status_code == 400
    assert "not valid JSON" in answer.json()["error"]["message"]


def test_oversized_bodies_are_413(http: httpx.Client) -> None:
    big = {"name": "big", "template": "x" * 1_100_000}
    answer = http.post("/api/v1/prompts", json=big)
    assert answer.status_code == 413, answer.text
    assert answer.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"

    def chunks():  # no Content-Length: the limit is enforced while reading
        yield b'{"name": "big", "template": "'
        for _ in range(200):
            yield b"x" * 10_000
        yield b'"}'

    streamed = http.post("/api/v1/prompts", content=chunks(),
                         headers={"content-type": "application/json"})
    assert streamed.status_code == 413
    assert http.get("/api/v1/prompts/big").status_code == 404


def test_health_metrics_and_openapi(http: httpx.Client) -> None:
    assert http.get("/healthz").json()["status"] == "ok"
    _register(http, "m", "x")
    http.get("/api/v1/prompts/m/versions/1")
    http.get("/api/v1/prompts/m/versions/9")
    text = http.get("/metrics").text
    assert ('prompthouse_http_requests_total{method="GET",'
            'route="/api/v1/prompts/{name:path}/versions/{version}",status="200"} 1.0') in text
    assert 'route="/api/v1/prompts/{name:path}/versions/{version}",status="404"} 1.0' in text
    assert "prompthouse_http_request_duration_seconds_bucket" in text
    spec = http.get("/openapi.json").json()
    paths = spec["paths"]
    assert len(paths) >= 13
    for path, operations in paths.items():
        for method, operation in operations.items():
            assert operation.get("summary"), f"{method} {path} has no summary"
            if path.startswith("/api/v1"):
                assert "400" in operation["responses"], f"{method} {path} lacks 400"
    assert "RegisterRequest" in spec["components"]["schemas"]
    assert http.get("/docs").status_code == 200


def test_health_is_503_when_the_store_is_down() -> None:
    store = SqlStore("postgresql://nobody:secret@127.0.0.1:1/none", migrate=False)
    server = LiveServer(create_app(Registry(store))).start()
    try:
        answer = httpx.get(server.url + "/healthz", timeout=10)
        assert answer.status_code == 503
        assert answer.json()["error"]["code"] == "UNAVAILABLE"
        assert "secret" not in answer.text
        read = httpx.get(server.url + "/api/v1/prompts/x/versions/1", timeout=10)
        assert read.status_code == 503
    finally:
        server.stop()
        store.close()


def test_one_access_log_line_per_request_without_secrets(
    http: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="prompthouse.access"):
        http.get("/api/v1/prompts/none", headers={"Authorization": "Bearer hunter2"})
        http.get("/healthz?token=hunter2")
    lines = [r.getMessage() for r in caplog.records if r.name == "prompthouse.access"]
    assert len(lines) == 2
    assert lines[0].startswith("GET /api/v1/prompts/none 404 ")
    assert lines[0].endswith("ms")
    assert lines[1].startswith("GET /healthz 200 ")
    assert all("hunter2" not in line for line in lines)


def test_two_servers_share_one_postgres(postgres_store: SqlStore) -> None:
    from tests.conftest import _clean_postgres

    _clean_postgres(postgres_store)
    servers = [LiveServer(create_app(Registry(postgres_store))).start() for _ in range(2)]
    clients = [httpx.Client(base_url=s.url, timeout=30) for s in servers]
    try:
        numbers: list[int] = []
        lock = threading.Lock()

        def write(client: httpx.Client) -> None:
            for _ in range(15):
                answer = client.post("/api/v1/prompts", json={"name": "shared", "template": "x"})
                assert answer.status_code == 201, answer.text
                with lock:
                    numbers.append(answer.json()["version"])

        threads = [threading.Thread(target=write, args=(c,)) for c in clients for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(numbers) == list(range(1, 91))
        clients[0].put("/api/v1/prompts/shared/aliases/production", json={"version": 42})
        seen = clients[1].get("/api/v1/prompts/shared/aliases/production").json()
        assert seen["version"] == 42
        assert clients[1].get("/api/v1/prompts/shared").json()["latest_version"] == 90
    finally:
        for client in clients:
            client.close()
        for server in servers:
            server.stop()
