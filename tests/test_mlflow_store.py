"""The MLflow store against a real ``mlflow server``: interop with MLflow's own client both
ways, what MLflow cannot hold, request counts, per-request tokens under concurrency, and
MLflow going away (a closed port, a silent one, a failing write, a stopped server).

The shared contract suite runs on this store too (tests/test_store_contract.py, kind
"mlflow"); the tests here are the MLflow-specific ones and the MLflow variants of the
contract tests skipped by name in conftest.py.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

import prompthouse
from prompthouse import (
    AlreadyExistsError,
    ConflictError,
    InvalidArgumentError,
    NotFoundError,
    UnavailableError,
)
from prompthouse.credentials import using_mlflow_token
from prompthouse.registry import Registry
from prompthouse.settings import Settings
from prompthouse.stores.mlflow import REQUEST_COUNTS, MlflowStore
from tests.conftest import LiveServer, MlflowServer, free_port, service_missing
from tests.mlflow_proxy import MlflowProxy

CHAT = [
    {"role": "system", "content": "You are a {{ style }} assistant.", "name": "sys"},
    {"role": "user", "content": "{{ question }}"},
]
CONFIG = {"provider": "openai", "model_name": "gpt-4o", "temperature": 0.2, "seed": 7}
SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}}}


def _rest(url: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, f"{url}/api/2.0/mlflow/{path}", timeout=30, **kwargs)


def _names(page: list) -> list[str]:
    return [p.name for p in page]


@pytest.fixture
def mlflow_client(mlflow_url: str) -> Iterator[Any]:
    """The real ``mlflow`` module, pointed at the session's MLflow server."""
    import mlflow

    previous = (mlflow.get_tracking_uri(), mlflow.get_registry_uri())
    mlflow.set_tracking_uri(mlflow_url)
    mlflow.set_registry_uri(mlflow_url)
    yield mlflow
    mlflow.set_tracking_uri(previous[0])
    mlflow.set_registry_uri(previous[1])


@pytest.fixture
def proxy(mlflow_url: str) -> Iterator[MlflowProxy]:
    """A recording loopback proxy in front of the session's MLflow server."""
    started = MlflowProxy(mlflow_url).start()
    yield started
    started.stop()


# --- interop with MLflow's own client -------------------------------------------------


def test_prompts_registered_with_mlflow_read_through_prompthouse(
    mlflow_registry: Registry, mlflow_client: Any
) -> None:
    mlflow = mlflow_client
    mlflow.genai.register_prompt("mf-qa", "Answer {{ question }}", commit_message="first",
                                 tags={"team": "a"}, model_config=CONFIG,
                                 response_format=SCHEMA)
    mlflow.genai.register_prompt("mf-qa", CHAT, commit_message="chat", tags={"team": "b"})
    mlflow.genai.set_prompt_alias("mf-qa", "production", 1)

    ours = mlflow_registry.load_prompt("prompts:/mf-qa@production", cache_ttl_seconds=0)
    theirs = mlflow.genai.load_prompt("prompts:/mf-qa@production", cache_ttl_seconds=0)
    assert ours.version == theirs.version == 1
    assert ours.template == theirs.template == "Answer {{ question }}"
    assert ours.model_config == theirs.model_config == CONFIG
    assert ours.response_format == theirs.response_format == SCHEMA
    assert ours.tags == theirs.tags == {"team": "a"}
    assert ours.commit_message == theirs.commit_message == "first"
    assert ours.aliases == theirs.aliases == ["production"]
    assert ours.creation_timestamp == theirs.creation_timestamp
    assert ours.format(question="why?") == theirs.format(question="why?")

    chat = mlflow_registry.load_prompt("prompts:/mf-qa@latest", cache_ttl_seconds=0)
    assert (chat.version, chat.template, chat.tags) == (2, CHAT, {"team": "b"})
    assert chat.format(style="terse", question="q")[0]["content"] == "You are a terse assistant."
    assert mlflow_registry.load_prompt("mf-qa", version=2).model_config is None

    prompt = mlflow_registry.get_prompt("mf-qa")
    assert prompt.description == "first"
    assert prompt.tags == {"team": "b"}  # MLflow's bookkeeping tags are not user tags
    assert (prompt.aliases, prompt.latest_version) == ({"production": 1}, 2)
    assert [v.version for v in mlflow_registry.list_prompt_versions("mf-qa")] == [2, 1]
    assert _names(mlflow_registry.search_prompts("tags.team = 'b'")) == ["mf-qa"]

    mlflow.genai.set_prompt_model_config("mf-qa", 2, {"model_name": "m", "max_tokens": 5})
    assert mlflow_registry.get_prompt_version("mf-qa", 2).model_config == {
        "model_name": "m", "max_tokens": 5}


def test_prompts_registered_through_prompthouse_load_with_mlflow(
    mlflow_registry: Registry, mlflow_client: Any
) -> None:
    mlflow = mlflow_client
    registry = mlflow_registry
    registry.register_prompt("ph-qa", "Answer {{ question }}", commit_message="first",
                             tags={"team": "a"}, model_config=CONFIG, response_format=SCHEMA)
    registry.register_prompt("ph-qa", CHAT, commit_message="chat", tags={"team": "b"})
    registry.set_prompt_alias("ph-qa", "production", 1)
    registry.set_prompt_version_tag("ph-qa", 2, "quality", "good")

    text = mlflow.genai.load_prompt("prompts:/ph-qa@production", cache_ttl_seconds=0)
    assert (text.version, text.template, text.commit_message) == (1, "Answer {{ question }}",
                                                                    "first")
    assert (text.model_config, text.response_format) == (CONFIG, SCHEMA)
    assert text.tags == {"team": "a"}
    assert text.aliases == ["production"]
    assert text.format(question="why?") == "Answer why?"
    chat = mlflow.genai.load_prompt("prompts:/ph-qa/2", cache_ttl_seconds=0)
    assert chat.template == CHAT and not chat.is_text_prompt
    assert chat.tags == {"team": "b", "quality": "good"}
    assert chat.format(style="terse", question="q")[1] == {"role": "user", "content": "q"}
    assert mlflow.genai.load_prompt("prompts:/ph-qa@latest", cache_ttl_seconds=0).version == 2

    info = mlflow.MlflowClient().get_prompt("ph-qa")
    assert info.description == "first"
    assert info.tags["team"] == "b"
    assert [p.name for p in mlflow.genai.search_prompts("name = 'ph-qa'")] == ["ph-qa"]

    registry.set_prompt_model_config("ph-qa", 1, {"temperature": 0.9})
    again = mlflow.genai.load_prompt("prompts:/ph-qa/1", cache_ttl_seconds=0)
    assert again.model_config == {"temperature": 0.9}
    registry.delete_prompt_alias("ph-qa", "production")
    assert mlflow.genai.load_prompt("prompts:/ph-qa@production", allow_missing=True,
                                    cache_ttl_seconds=0) is None
    registry.delete_prompt("ph-qa")
    assert mlflow.genai.load_prompt("prompts:/ph-qa/1", allow_missing=True,
                                    cache_ttl_seconds=0) is None


def test_prompthouse_writes_what_mlflows_client_writes(
    mlflow_url: str, mlflow_registry: Registry, mlflow_client: Any
) -> None:
    """Byte for byte: the same inputs registered both ways give the same model versions
    and the same registered-model tags and description."""
    def args() -> dict[str, Any]:  # fresh each time: MLflow's client adds to the tags dict
        return {"commit_message": "first", "tags": {"team": "a", "env": "dev"},
                "model_config": dict(CONFIG), "response_format": dict(SCHEMA)}

    for template in ("Answer {{ question }}", CHAT):
        mlflow_client.genai.register_prompt("wire-mf", template, **args())
        mlflow_registry.register_prompt("wire-ph", template, **args())
    for version in ("1", "2"):
        ours, theirs = (
            _rest(mlflow_url, "GET", "model-versions/get",
                  params={"name": name, "version": version}).json()["model_version"]
            for name in ("wire-ph", "wire-mf")
        )
        for key in ("source", "description", "tags", "status", "current_stage"):
            assert ours.get(key) == theirs.get(key), key
    deadline = time.monotonic() + 10  # MLflow's client links the experiment in a thread
    while True:
        ours, theirs = (
            _rest(mlflow_url, "GET", "registered-models/get",
                  params={"name": name}).json()["registered_model"]
            for name in ("wire-ph", "wire-mf")
        )
        pairs = [{(t["key"], t["value"]) for t in m["tags"]} for m in (ours, theirs)]
        if pairs[0] == pairs[1] or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert pairs[0] == pairs[1]
    assert ("_mlflow_experiment_ids", ",0,") in pairs[0]
    assert ours["description"] == theirs["description"] == "first"


# --- what MLflow cannot hold ----------------------------------------------------------


def test_folder_names_are_refused_clearly(mlflow_registry: Registry) -> None:
    with pytest.raises(InvalidArgumentError, match="cannot hold the prompt name 'team/x'.*'/'"):
        mlflow_registry.register_prompt("team/x", "x")
    with pytest.raises(NotFoundError, match="cannot contain '/'"):
        mlflow_registry.load_prompt("prompts:/team/x@production")
    assert mlflow_registry.load_prompt("team/x", allow_missing=True) is None
    assert list(mlflow_registry.search_prompts()) == []


def test_good_names_mlflow_can_hold(mlflow_registry: Registry) -> None:
    for name in ("a", "A.b-c_d", "x" * 255, "v1.2-final", "versions", "tags"):
        assert mlflow_registry.register_prompt(name, "x").name == name
        assert mlflow_registry.load_prompt(name).template == "x"


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda r: r.register_prompt("lim", "x", tags={"a@b": "v"}), "tag key 'a@b'"),
        (lambda r: r.register_prompt("lim", "x", tags={"a//b": "v"}), "tag key 'a//b'"),
        (lambda r: r.register_prompt("lim", "x", tags={"mlflow.prompt.text": "v"}),
         "MLflow's own bookkeeping"),
        (lambda r: r.register_prompt("lim", "x", tags={"k": "v" * 5_001}),
         "at most 5,000 characters in a prompt tag value"),
        (lambda r: r.register_prompt("lim", "x", commit_message="m" * 5_001),
         "at most 5,000 characters in a commit message"),
        # 30,000 characters for prompthouse; 180,000 as MLflow writes it (JSON, \u00e9).
        (lambda r: r.register_prompt("lim", [{"role": "user", "content": "é" * 30_000}]),
         "at most 100,000 characters in template text"),
    ],
)
def test_what_mlflow_cannot_hold_is_refused_before_writing(
    mlflow_registry: Registry, call: Any, match: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        call(mlflow_registry)
    assert mlflow_registry.get_prompt("lim", allow_missing=True) is None


def test_tag_limits_on_existing_prompts(mlflow_registry: Registry) -> None:
    registry = mlflow_registry
    registry.register_prompt("tl", "x")
    with pytest.raises(InvalidArgumentError, match="5,000"):
        registry.set_prompt_tag("tl", "k", "v" * 5_001)
    with pytest.raises(InvalidArgumentError, match="5,000"):
        registry.set_prompt_description("tl", "d" * 5_001)
    registry.set_prompt_version_tag("tl", 1, "long", "v" * 8_000)  # version tags: up to 8,000
    assert len(registry.get_prompt_version("tl", 1).tags["long"]) == 8_000
    for internal in ("_mlflow_experiment_ids", "mlflow.prompt.is_prompt"):
        with pytest.raises(InvalidArgumentError, match="bookkeeping"):
            registry.set_prompt_tag("tl", internal, "x")
        with pytest.raises(InvalidArgumentError, match="bookkeeping"):
            registry.delete_prompt_tag("tl", internal)
    with pytest.raises(InvalidArgumentError, match="bookkeeping"):
        registry.set_prompt_version_tag("tl", 1, "_mlflow_prompt_type", "chat")
    assert registry.get_prompt_version("tl", 1).template == "x"


def test_imports_keep_only_the_number_mlflow_allocates(mlflow_registry: Registry) -> None:
    registry = mlflow_registry
    registry.import_version("imp", 1, "first", commit_message="c", tags={"k": "v"},
                            creation_timestamp=1_700_000_000_000)
    got = registry.get_prompt_version("imp", 1)
    assert (got.template, got.tags, got.commit_message) == ("first", {"k": "v"}, "c")
    assert got.creation_timestamp != 1_700_000_000_000  # MLflow's own clock
    with pytest.raises(InvalidArgumentError, match="MLflow numbers versions itself"):
        registry.import_version("imp", 3, "third")
    with pytest.raises(InvalidArgumentError, match="MLflow numbers versions itself"):
        registry.import_version("new-imp", 2, "x")
    assert registry.get_prompt("new-imp", allow_missing=True) is None
    registry.register_prompt("imp", "second")
    registry.delete_prompt_version("imp", 2)
    # The next visible number is 2, but MLflow never reuses a deleted number.
    with pytest.raises(InvalidArgumentError, match="MLflow gave it number 3"):
        registry.import_version("imp", 2, "again")
    assert [v.version for v in registry.list_prompt_versions("imp")] == [1]


def test_registered_models_are_not_prompts(mlflow_url: str, mlflow_registry: Registry) -> None:
    assert _rest(mlflow_url, "POST", "registered-models/create",
                 json={"name": "a-model"}).status_code == 200
    registry = mlflow_registry
    assert registry.get_prompt("a-model", allow_missing=True) is None
    with pytest.raises(NotFoundError, match="registered model of that name, not a prompt"):
        registry.load_prompt("a-model")
    with pytest.raises(AlreadyExistsError, match="registered model of that name"):
        registry.register_prompt("a-model", "x")
    with pytest.raises(NotFoundError):
        registry.delete_prompt("a-model")
    assert _rest(mlflow_url, "GET", "registered-models/get",
                 params={"name": "a-model"}).status_code == 200
    assert list(registry.search_prompts()) == []


# --- search (the contract's search tests without folder names) -----------------------


def _seed(registry: Registry) -> None:
    registry.register_prompt("qa-en", "x", tags={"team": "search", "lang": "en"})
    registry.register_prompt("qa-fr", "x", tags={"team": "search", "lang": "fr"})
    registry.register_prompt("QA-upper", "x", tags={"team": "ads"})
    registry.register_prompt("summarize", "x", tags={"team": "ads", "note": "it's"})
    registry.register_prompt("team.triage", "x")
    registry.set_prompt_alias("qa-fr", "production", 1)
    registry.set_prompt_alias("summarize", "production", 1)


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("name LIKE 'qa-%'", ["qa-en", "qa-fr"]),
        ("name ILIKE 'qa-%'", ["QA-upper", "qa-en", "qa-fr"]),
        ("name = 'summarize'", ["summarize"]),
        ("name != 'summarize' AND tags.team = 'ads'", ["QA-upper"]),
        ("tags.team = 'search' and tags.lang LIKE 'f%'", ["qa-fr"]),
        ("tags.`team` = 'ads'", ["QA-upper", "summarize"]),
        ("name IN ('qa-en', 'summarize')", ["qa-en", "summarize"]),
        ("name NOT IN ('qa-en', 'summarize', 'team.triage')", ["QA-upper", "qa-fr"]),
        ("alias = 'production'", ["qa-fr", "summarize"]),
        ("tags.lang != 'en'", ["qa-fr"]),
        ("name LIKE 'team.%'", ["team.triage"]),
        ("tags.note = \"it's\"", ["summarize"]),  # a quote MLflow's grammar cannot carry
        ("tags.`_mlflow_experiment_ids` LIKE '%'", []),  # bookkeeping is not searchable
    ],
)
def test_search_filter_grammar(mlflow_registry: Registry, filter_string: str,
                               expected: list[str]) -> None:
    _seed(mlflow_registry)
    assert _names(mlflow_registry.search_prompts(filter_string)) == expected


def test_search_by_keyword_criteria_and_order(mlflow_registry: Registry) -> None:
    registry = mlflow_registry
    _seed(registry)
    assert _names(registry.search_prompts(name_pattern="%qa%")) == ["QA-upper", "qa-en", "qa-fr"]
    assert _names(registry.search_prompts(tags={"team": "ads"})) == ["QA-upper", "summarize"]
    assert _names(registry.search_prompts(alias="production", tags={"team": "ads"})) == [
        "summarize"]
    assert _names(registry.search_prompts(order_by="-name"))[:2] == ["team.triage", "summarize"]
    registry.register_prompt("qa-en", "y")  # a new version moves last_updated in MLflow
    assert _names(registry.search_prompts(order_by="-last_updated"))[0] == "qa-en"
    hit = registry.search_prompts("name = 'qa-fr'")[0]
    assert (hit.tags, hit.aliases, hit.latest_version) == (
        {"team": "search", "lang": "fr"}, {"production": 1}, 1)


@pytest.mark.parametrize("order_by", ["name", "-last_updated"])
def test_client_side_filters_still_give_full_pages(mlflow_registry: Registry,
                                                   order_by: str) -> None:
    registry = mlflow_registry
    for i in range(30):
        registry.register_prompt(f"p{i:02d}", "x")
        if i % 3 == 0:
            registry.set_prompt_alias(f"p{i:02d}", "production", 1)
    pages: list[list[str]] = []
    token = None
    while True:
        page = registry.search_prompts(alias="production", max_results=4, page_token=token,
                                       order_by=order_by)
        pages.append(_names(page))
        token = page.token
        if token is None:
            break
    assert [len(p) for p in pages] == [4, 4, 2]
    assert sorted(n for p in pages for n in p) == [f"p{i:02d}" for i in range(0, 30, 3)]
    other_order = registry.search_prompts(max_results=1, order_by="-name").token
    with pytest.raises(InvalidArgumentError, match="page token"):
        registry.search_prompts(alias="production", page_token=other_order)


def test_alias_and_hidden_tags_of_mlflow_prompts(mlflow_url: str,
                                                 mlflow_registry: Registry) -> None:
    mlflow_registry.register_prompt("hid", "x", tags={"team": "a"})
    raw = _rest(mlflow_url, "GET", "registered-models/get", params={"name": "hid"}).json()
    tags = {t["key"]: t["value"] for t in raw["registered_model"]["tags"]}
    assert tags == {"mlflow.prompt.is_prompt": "true", "_mlflow_experiment_ids": ",0,",
                    "team": "a"}
    assert mlflow_registry.get_prompt("hid").tags == {"team": "a"}
    assert mlflow_registry.get_prompt_version("hid", 1).tags == {"team": "a"}


def test_experiment_name_in_the_uri_links_new_prompts(mlflow_url: str) -> None:
    store = MlflowStore(f"mlflow+{mlflow_url}?experiment_name=ph-prompts-test")
    registry = Registry(store, Settings())
    try:
        registry.register_prompt("exp-linked", "x")
        found = _rest(mlflow_url, "GET", "experiments/get-by-name",
                      params={"experiment_name": "ph-prompts-test"}).json()["experiment"]
        raw = _rest(mlflow_url, "GET", "registered-models/get",
                    params={"name": "exp-linked"}).json()["registered_model"]
        tags = {t["key"]: t["value"] for t in raw["tags"]}
        assert tags["_mlflow_experiment_ids"] == f",{found['experiment_id']},"
    finally:
        store.close()


# --- optimistic concurrency ----------------------------------------------------------


def test_one_of_concurrent_conditional_registers_wins(mlflow_registry: Registry) -> None:
    registry = mlflow_registry
    registry.register_prompt("cas", "one")
    barrier = threading.Barrier(4)

    def attempt(i: int) -> Any:
        barrier.wait()
        try:
            return registry.register_prompt("cas", f"try {i}", expected_latest_version=1)
        except ConflictError as exc:
            return exc

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(attempt, range(4)))
    wins = [o for o in outcomes if not isinstance(o, ConflictError)]
    assert len(wins) == 1
    assert all("the latest is" in o.message for o in outcomes if isinstance(o, ConflictError))
    assert [v.version for v in registry.list_prompt_versions("cas")] == [wins[0].version, 1]


# --- request counts -------------------------------------------------------------------


def test_request_counts_are_as_documented(mlflow_registry: Registry) -> None:
    registry = mlflow_registry
    store = registry.store
    assert isinstance(store, MlflowStore)
    calls: list[str] = []
    store._client.event_hooks["request"] = [lambda request: calls.append(request.url.path)]

    def count(fn: Any) -> int:
        calls.clear()
        fn()
        return len(calls)

    assert count(lambda: registry.register_prompt("rc", "one")) == 2
    assert count(lambda: registry.register_prompt("rc", "two", tags={"a": "1", "b": "2"})) == 4
    assert count(lambda: registry.set_prompt_alias("rc", "production", 1)) == 2
    assert count(lambda: registry.load_prompt("prompts:/rc@production",
                                              cache_ttl_seconds=0)) == 1
    assert count(lambda: registry.load_prompt("rc", version=1, cache_ttl_seconds=0)) == 1
    assert count(lambda: registry.load_prompt("rc", cache_ttl_seconds=0)) == 1
    assert count(lambda: registry.get_prompt("rc")) == 1
    assert count(lambda: registry.search_prompts("tags.a = '1'")) == 1
    assert count(lambda: registry.list_prompt_versions("rc")) == 2
    assert count(lambda: registry.set_prompt_tag("rc", "k", "v")) == 1
    assert count(lambda: registry.delete_prompt_tag("rc", "k")) == 2
    assert count(lambda: registry.set_prompt_model_config("rc", 1, {"temperature": 1})) == 1
    assert count(lambda: registry.register_prompt("rc", "3", expected_latest_version=2)) == 2
    assert count(lambda: registry.delete_prompt_alias("rc", "production")) == 2
    assert count(lambda: registry.delete_prompt_version("rc", 3)) == 2
    assert count(lambda: registry.delete_prompt("rc")) == 3 + 2
    assert REQUEST_COUNTS["get the version an alias points at"] == 1


def test_mlflows_client_needs_more_requests(mlflow_registry: Registry, mlflow_client: Any,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The same loads through MLflow's client, counted at its HTTP function (blocking
    requests and any background one that ran by then)."""
    from mlflow.utils import rest_utils

    mlflow_registry.register_prompt("cmp", "x")
    mlflow_registry.set_prompt_alias("cmp", "production", 1)
    theirs: list[str] = []
    real = rest_utils.http_request

    def counting(host_creds: Any, endpoint: str, method: str, *args: Any, **kw: Any) -> Any:
        theirs.append(endpoint)
        return real(host_creds, endpoint, method, *args, **kw)

    monkeypatch.setattr(rest_utils, "http_request", counting)
    mlflow_client.genai.load_prompt("prompts:/cmp@production", cache_ttl_seconds=0)
    assert len(theirs) >= 3 > REQUEST_COUNTS["get the version an alias points at"]
    theirs.clear()
    mlflow_client.genai.load_prompt("prompts:/cmp/1", cache_ttl_seconds=0)
    assert len(theirs) >= 2 > REQUEST_COUNTS["get a version by number"]


# --- credentials per request ----------------------------------------------------------


def test_each_concurrent_request_reaches_mlflow_with_its_own_token(
    proxy: MlflowProxy
) -> None:
    store = MlflowStore(proxy.store_uri, token="configured")
    registry = Registry(store, Settings())
    threads = 16

    def work(i: int) -> None:
        name = f"tok-{i}"
        token = f"token-{i}" if i % 4 else None  # every 4th thread brings none
        with using_mlflow_token(token):
            registry.register_prompt(name, f"text {i}", tags={"n": str(i)})
            registry.set_prompt_alias(name, "production", 1)
            for _ in range(3):
                registry.load_prompt(f"prompts:/{name}@production", cache_ttl_seconds=0)
            registry.set_prompt_tag(name, "seen", "yes")

    try:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(work, range(threads)))
        seen = [s for s in proxy.seen if s.name and s.name.startswith("tok-")]
        assert len(seen) == threads * 8  # 2 + 2 + 3 + 1 requests each
        for request in seen:
            i = int(request.name.split("-")[1])  # type: ignore[union-attr]
            expected = f"Bearer token-{i}" if i % 4 else "Bearer configured"
            assert request.authorization == expected, request
        before = len(proxy.seen)
        registry.get_prompt("tok-1")  # outside every block: the configured token again
        assert {s.authorization for s in proxy.seen[before:]} == {"Bearer configured"}
    finally:
        store.close()


def test_token_sources_and_precedence(proxy: MlflowProxy,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def authorization(store: MlflowStore) -> str | None:
        before = len(proxy.seen)
        store.ping()
        store.close()
        return proxy.seen[before].authorization

    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    assert authorization(MlflowStore(proxy.store_uri)) is None
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "from-env")
    assert authorization(MlflowStore(proxy.store_uri)) == "Bearer from-env"
    assert authorization(MlflowStore(proxy.store_uri, token="given")) == "Bearer given"
    with using_mlflow_token("per-request"):
        assert authorization(MlflowStore(proxy.store_uri, token="given")) == "Bearer per-request"
    from pydantic import SecretStr

    from prompthouse.stores import open_store

    class WithToken(Settings):  # a settings field a run.yaml's auth_credential fills
        mlflow_token: SecretStr | None = None

    from_settings = open_store(proxy.store_uri, WithToken(mlflow_token=SecretStr("set")))
    assert authorization(from_settings) == "Bearer set"  # type: ignore[arg-type]
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN")
    basic = MlflowStore(f"mlflow+http://ana:s%40cret@127.0.0.1:{proxy.port}")
    assert basic.uri == f"mlflow+http://ana:***@127.0.0.1:{proxy.port}"
    assert authorization(basic) == "Basic YW5hOnNAY3JldA=="  # ana:s@cret


def test_tokens_from_http_headers_reach_mlflow(proxy: MlflowProxy) -> None:
    """The middleware the server wiring uses: X-MLflow-Token, or the mlflow_api_token of
    X-LlamaStack-Provider-Data, per request, under concurrency."""
    from prompthouse.server import create_app

    store = MlflowStore(proxy.store_uri, token="configured")
    registry = Registry(store, Settings())
    for i in range(8):
        registry.register_prompt(f"hdr-{i}", f"text {i}")
    server = LiveServer(create_app(registry)).start()  # create_app wires the middleware

    def fetch(i: int) -> int:
        headers = ({"X-MLflow-Token": f"native-{i}"} if i % 2 else
                   {"X-LlamaStack-Provider-Data": json.dumps({"mlflow_api_token": f"ls-{i}"})})
        with httpx.Client(base_url=server.url, timeout=30) as client:
            return client.get(f"/api/v1/prompts/hdr-{i}/versions/1", headers=headers).status_code

    try:
        before = len(proxy.seen)
        with ThreadPoolExecutor(8) as pool:
            assert list(pool.map(fetch, list(range(8)) * 3)) == [
                200] * 24
        for request in proxy.seen[before:]:
            i = int(request.name.split("-")[1])  # type: ignore[union-attr]
            assert request.authorization == (f"Bearer native-{i}" if i % 2 else
                                             f"Bearer ls-{i}")
    finally:
        server.stop()
        store.close()


# --- MLflow unavailable ---------------------------------------------------------------


def test_a_closed_port_is_unavailable_naming_the_uri_never_the_token() -> None:
    port = free_port()  # nothing listens there
    store = MlflowStore(f"mlflow+http://127.0.0.1:{port}", token="sekret-token")
    registry = Registry(store, Settings())
    calls = [lambda: registry.load_prompt("x"), lambda: registry.register_prompt("x", "y"),
             lambda: registry.search_prompts(), store.ping,
             lambda: registry.set_prompt_alias("x", "production", 1)]
    for call in calls:
        with pytest.raises(UnavailableError) as info:
            call()
        assert f"The MLflow server at http://127.0.0.1:{port} is unavailable" in str(info.value)
        assert "sekret" not in str(info.value)
    from prompthouse.server import create_app

    server = LiveServer(create_app(registry)).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for path in ("/healthz", "/api/v1/prompts/x/versions/1", "/v1/prompts/x"):
                answer = client.get(path)
                assert answer.status_code == 503, path
                assert f"127.0.0.1:{port}" in answer.text and "sekret" not in answer.text
    finally:
        server.stop()
        store.close()


def test_a_silent_server_times_out_as_unavailable() -> None:
    with socket.socket() as listener:  # accepts connections, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        store = MlflowStore(f"http://127.0.0.1:{port}", timeout=0.5)
        with pytest.raises(UnavailableError, match=r"no answer within 0\.5 s"):
            store.get_version("x", 1)
        store.close()


def test_a_new_prompt_whose_first_version_fails_is_removed(proxy: MlflowProxy,
                                                           mlflow_url: str) -> None:
    store = MlflowStore(proxy.store_uri)
    registry = Registry(store, Settings())
    direct = Registry(MlflowStore(mlflow_url), Settings())
    try:
        registry.register_prompt("kept", "v1")
        proxy.drop = lambda method, path: path.endswith("model-versions/create")
        with pytest.raises(UnavailableError, match=f"MLflow server at {proxy.url}"):
            registry.register_prompt("half", "x")
        with pytest.raises(UnavailableError):
            registry.register_prompt("kept", "v2")
        proxy.drop = None
        assert direct.get_prompt("half", allow_missing=True) is None  # rolled back
        assert direct.get_prompt("kept").latest_version == 1  # an existing prompt stays
        assert registry.register_prompt("half", "x").version == 1
    finally:
        store.close()
        direct.close()


@pytest.mark.slow
def test_mlflow_stopped_mid_run(tmp_path: Path, mlflow_server: MlflowServer) -> None:
    """A second, throwaway mlflow server: stopped under a live registry, then restarted."""
    server = MlflowServer(tmp_path)
    try:
        server.start()
    except RuntimeError as exc:
        service_missing("a second mlflow server", str(exc)[:300])
    registry = Registry(MlflowStore(server.store_uri, token="sekret-token"), Settings())
    try:
        registry.register_prompt("before", "kept", tags={"a": "1"})
        registry.set_prompt_alias("before", "production", 1)
        server.stop()
        writes = [lambda: registry.register_prompt("during", "x"),
                  lambda: registry.register_prompt("before", "x"),
                  lambda: registry.set_prompt_alias("before", "staging", 1),
                  lambda: registry.load_prompt("prompts:/before@production",
                                               cache_ttl_seconds=0)]
        for call in writes:
            with pytest.raises(UnavailableError) as info:
                call()
            assert server.url in str(info.value) and "sekret" not in str(info.value)
        server.start()
        assert _names(registry.search_prompts()) == ["before"]
        assert registry.get_prompt("before").latest_version == 1
        assert registry.get_prompt("before").aliases == {"production": 1}
        assert registry.load_prompt("prompts:/before@production",
                                    cache_ttl_seconds=0).template == "kept"
        assert registry.register_prompt("after", "x").version == 1
    finally:
        registry.close()
        server.stop()


def test_connect_and_open_store_take_mlflow_uris(mlflow_url: str) -> None:
    registry = prompthouse.connect(f"mlflow+{mlflow_url}")
    try:
        assert isinstance(registry.store, MlflowStore)
        assert registry.uri == f"mlflow+{mlflow_url}"
        registry.register_prompt("conn", "x")
        assert registry.load_prompt("conn").template == "x"
    finally:
        registry.close()
    with pytest.raises(InvalidArgumentError, match="Unknown option"):
        prompthouse.connect("mlflow+http://h:5000?colour=blue")
    with pytest.raises(InvalidArgumentError, match="mlflow\\+http://host:port"):
        MlflowStore("ftp://h")
