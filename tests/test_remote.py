"""The remote SDK against a real server over real HTTP: cache freshness, stale-while-
revalidate, ETag/304, eviction, fallback, exact invalidation, retries, timeouts, auth and
error mapping.

The server is prompthouse's app on a loopback port behind :class:`Proxy`, a tiny ASGI
wrapper that records every request and can answer an error, delay, or demand a key.
``served`` is the registry the server serves; writing to it directly plays another
process (the SDK's cache cannot see those writes).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import prompthouse
from prompthouse import (
    InvalidArgumentError,
    NotFoundError,
    PayloadTooLargeError,
    UnauthenticatedError,
    UnavailableError,
)
from prompthouse.registry import Registry
from prompthouse.remote import REFRESH_FAILURE_BACKOFF_SECONDS, RemoteRegistry
from prompthouse.server import create_app
from prompthouse.settings import Settings
from prompthouse.stores.sql import SqlStore
from tests.conftest import LiveServer

API_KEY = "s3cret-key-4d1f"


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Proxy:
    """An ASGI wrapper around the app: records requests; can fail, delay, or check a key.

    ``fail_next`` answers that many requests with ``fail_status`` (JSON error body);
    ``delay_before`` waits before the app runs; ``delay_after`` holds the app's answer
    back (so it leaves the server after writes made meanwhile); ``slow(method, path)``
    restricts the delays to the requests it matches; ``require_key`` answers 401
    without that Bearer key.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.fail_next = 0
        self.fail_status = 503
        self.delay_before = 0.0
        self.delay_after = 0.0
        self.slow: Callable[[str, str], bool] = lambda method, path: True
        self.require_key: str | None = None
        self.server: LiveServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def api(self, method: str | None = None, path: str | None = None) -> list[str]:
        """The API requests received, as ``"METHOD path"``, optionally filtered."""
        return [
            f"{m} {p}" for m, p, _ in self.requests
            if p.startswith("/api/") and (method is None or m == method)
            and (path is None or p == path)
        ]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        path = scope["path"]
        self.requests.append((scope["method"], path, headers))
        if path.startswith("/api/") and self.fail_next > 0:
            self.fail_next -= 1
            await _answer(send, self.fail_status, "UNAVAILABLE" if self.fail_status == 503
                          else "INTERNAL", "The store is on fire.")
            return
        if self.require_key and headers.get("authorization") != f"Bearer {self.require_key}":
            await _answer(send, 401, "UNAUTHENTICATED", "A valid API key is required.")
            return
        slow = self.slow(scope["method"], path)
        if slow and self.delay_before:
            await asyncio.sleep(self.delay_before)
        delay_after = self.delay_after if slow else 0.0

        async def delayed_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and delay_after:
                await asyncio.sleep(delay_after)
            await send(message)

        await self.app(scope, receive, delayed_send)


async def _answer(send: Any, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _serve(registry: Registry) -> Iterator[Proxy]:
    proxy = Proxy(create_app(registry))
    proxy.server = LiveServer(proxy).start()
    yield proxy
    proxy.server.stop()


@pytest.fixture
def served(sqlite_registry: Registry) -> Registry:
    return sqlite_registry


@pytest.fixture
def proxy(served: Registry) -> Iterator[Proxy]:
    yield from _serve(served)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def remote(proxy: Proxy, clock: Clock) -> Iterator[RemoteRegistry]:
    client = RemoteRegistry(proxy.url, clock=clock)
    yield client
    client.close()


def _wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.005)


def _not_modified(proxy: Proxy) -> float:
    text = httpx.get(f"{proxy.url}/metrics").text
    found = re.search(r'prompthouse_conditional_get_total\{result="not_modified"\} (\S+)', text)
    return float(found.group(1)) if found else 0.0


ALIAS = "/api/v1/prompts/qa/aliases/production"


def _seed(served: Registry) -> None:
    served.register_prompt("qa", "one {{ q }}")
    served.register_prompt("qa", "two {{ q }}")
    served.set_prompt_alias("qa", "production", 1)


# --- freshness ------------------------------------------------------------------------


def test_fresh_hits_make_no_request(served: Registry, proxy: Proxy, remote: RemoteRegistry,
                                    clock: Clock) -> None:
    _seed(served)
    first = remote.load_prompt("prompts:/qa@production")
    assert first.version == 1 and first.format(q="x") == "one x"
    version = remote.load_prompt("qa", version=2)
    before = len(proxy.api())
    for _ in range(100):
        assert remote.load_prompt("prompts:/qa@production") is first
        assert remote.load_prompt("qa", version=2) is version
    clock.advance(59.9)  # alias entries are fresh for 60 s
    assert remote.load_prompt("prompts:/qa@production") is first
    clock.advance(10**6)  # version entries never expire
    assert remote.load_prompt("qa", version=2) is version
    assert len(proxy.api()) == before == 2
    assert remote.cache.refreshing == 0


def test_ttl_zero_bypasses_the_cache(served: Registry, proxy: Proxy,
                                     remote: RemoteRegistry) -> None:
    _seed(served)
    one = remote.load_prompt("qa", version=1, cache_ttl_seconds=0)
    two = remote.load_prompt("qa", version=1, cache_ttl_seconds=0)
    assert one == two and one is not two
    assert len(remote.cache) == 0
    assert len(proxy.api("GET")) == 2


def test_stale_is_served_at_once_and_refreshed_once_for_20_threads(
    served: Registry, proxy: Proxy, remote: RemoteRegistry, clock: Clock
) -> None:
    _seed(served)
    old = remote.load_prompt("prompts:/qa@production")
    served.set_prompt_alias("qa", "production", 2)  # another process moves the alias
    clock.advance(61)
    proxy.delay_after = 0.5  # the refresh takes a while to come back
    barrier = threading.Barrier(20)
    results: list[tuple[Any, float]] = []

    def read() -> None:
        barrier.wait()
        start = time.perf_counter()
        got = remote.load_prompt("prompts:/qa@production")
        results.append((got, time.perf_counter() - start))

    threads = [threading.Thread(target=read) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 20
    assert all(got is old for got, _ in results)  # the stale entry, at once
    assert max(took for _, took in results) < 0.25
    _wait_for(lambda: remote.cache.refreshing == 0)
    fresh = remote.load_prompt("prompts:/qa@production")
    assert fresh.version == 2
    gets = [(m, p, h) for m, p, h in proxy.requests if p == ALIAS]
    assert len(gets) == 2  # the first load and exactly one refresh
    assert gets[1][2]["if-none-match"].startswith('"')
    assert remote.load_prompt("prompts:/qa@production") is fresh  # fresh again


def test_unchanged_answer_is_a_304_that_renews_freshness(
    served: Registry, proxy: Proxy, remote: RemoteRegistry, clock: Clock
) -> None:
    _seed(served)
    cached = remote.load_prompt("prompts:/qa@production")
    assert _not_modified(proxy) == 0
    clock.advance(61)
    assert remote.load_prompt("prompts:/qa@production") is cached
    _wait_for(lambda: remote.cache.refreshing == 0)
    assert _not_modified(proxy) == 1
    assert len(proxy.api("GET", ALIAS)) == 2
    clock.advance(59)  # fresh for another 60 s from the 304
    assert remote.load_prompt("prompts:/qa@production") is cached
    assert len(proxy.api("GET", ALIAS)) == 2


def test_404_on_refresh_evicts(served: Registry, remote: RemoteRegistry,
                               clock: Clock) -> None:
    _seed(served)
    cached = remote.load_prompt("prompts:/qa@production")
    served.delete_prompt_alias("qa", "production")
    clock.advance(61)
    assert remote.load_prompt("prompts:/qa@production") is cached  # stale, served once
    _wait_for(lambda: remote.cache.refreshing == 0)
    assert len(remote.cache) == 0
    assert remote.load_prompt("prompts:/qa@production", allow_missing=True) is None
    with pytest.raises(NotFoundError, match="has no alias 'production'"):
        remote.load_prompt("prompts:/qa@production")


def test_a_refresh_racing_an_sdk_write_cannot_cache_stale_data(
    served: Registry, proxy: Proxy, remote: RemoteRegistry, clock: Clock
) -> None:
    _seed(served)
    remote.load_prompt("prompts:/qa@production")
    served.set_prompt_version_tag("qa", 1, "k", "v")  # so the refresh gets a 200, not 304
    clock.advance(61)
    proxy.slow = lambda method, path: method == "GET" and path == ALIAS
    proxy.delay_after = 0.4  # the refresh reads version 1, then is held back
    assert remote.load_prompt("prompts:/qa@production").version == 1
    _wait_for(lambda: len(proxy.api("GET", ALIAS)) == 2)
    remote.set_prompt_alias("qa", "production", 2)  # lands while the refresh is out
    _wait_for(lambda: remote.cache.refreshing == 0)
    proxy.delay_after = 0
    assert remote.load_prompt("prompts:/qa@production").version == 2


# --- server down and fallback ------------------------------------------------------------


def test_cold_miss_with_server_down(served: Registry, proxy: Proxy,
                                    remote: RemoteRegistry) -> None:
    _seed(served)
    assert proxy.server is not None
    proxy.server.stop()
    with pytest.raises(UnavailableError) as info:
        remote.load_prompt("prompts:/qa@production")
    assert proxy.url in str(info.value)
    got = remote.load_prompt("prompts:/qa@production", fallback="Fallback {{ q }}")
    assert got.is_fallback and got.version == 0 and got.name == "qa"
    assert got.format(q="x") == "Fallback x"
    chat = remote.load_prompt("qa", fallback=[{"role": "user", "content": "{{ q }}"}])
    assert chat.is_fallback and chat.format(q="hi") == [{"role": "user", "content": "hi"}]
    assert len(remote.cache) == 0  # a fallback is never cached


def test_cold_miss_on_a_5xx_answer_uses_the_fallback(served: Registry, proxy: Proxy,
                                                     remote: RemoteRegistry) -> None:
    _seed(served)
    proxy.fail_next = 100
    got = remote.load_prompt("prompts:/qa@production", fallback="fb")
    assert got.is_fallback and got.template == "fb"
    proxy.fail_next = 0
    real = remote.load_prompt("prompts:/qa@production", fallback="fb")
    assert not real.is_fallback and real.version == 1


def test_stale_entry_keeps_being_served_while_the_server_is_down(
    served: Registry, proxy: Proxy, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    _seed(served)
    remote = RemoteRegistry(proxy.url, api_key=API_KEY, clock=clock, retries=0)
    try:
        cached = remote.load_prompt("prompts:/qa@production")
        assert proxy.server is not None
        proxy.server.stop()
        clock.advance(61)
        with caplog.at_level(logging.WARNING, logger="prompthouse.remote"):
            for fallback in (None, "fb"):
                assert remote.load_prompt("prompts:/qa@production",
                                          fallback=fallback) is cached
                _wait_for(lambda: remote.cache.refreshing == 0)
            clock.advance(REFRESH_FAILURE_BACKOFF_SECONDS)
            assert remote.load_prompt("prompts:/qa@production") is cached
            _wait_for(lambda: remote.cache.refreshing == 0)
        warnings = [r for r in caplog.records if r.name == "prompthouse.remote"]
        assert len(warnings) == 2  # one refresh per backoff period, each failed
        assert "prompts:/qa@production" in warnings[0].getMessage()
        assert proxy.url in warnings[0].getMessage()
        assert API_KEY not in caplog.text
    finally:
        remote.close()


def test_embedded_registry_takes_a_fallback_too(sqlite_registry: Registry) -> None:
    class DownStore:
        uri = "postgresql://db.internal/prompts"

        def __getattr__(self, name: str) -> Any:
            def unavailable(*args: Any) -> Any:
                raise UnavailableError(f"The store {self.uri} is unavailable: down")
            return unavailable

    down = Registry(DownStore(), Settings())  # type: ignore[arg-type]
    got = down.load_prompt("prompts:/qa@production", fallback="fb {{ q }}")
    assert got.is_fallback and got.format(q="x") == "fb x"
    with pytest.raises(UnavailableError):
        down.load_prompt("prompts:/qa@production")
    sqlite_registry.register_prompt("qa", "real")
    assert not sqlite_registry.load_prompt("qa", fallback="fb").is_fallback


# --- writes invalidate exactly their name ----------------------------------------------


def test_sdk_writes_invalidate_exactly_the_name_they_change(
    proxy: Proxy, remote: RemoteRegistry
) -> None:
    names = ("qa", "qa-v2", "qa/x", "q")
    for name in names:
        remote.register_prompt(name, "t")
        remote.set_prompt_alias(name, "production", 1)
    cached = {name: (remote.load_prompt(name, version=1),
                     remote.load_prompt(f"prompts:/{name}@production"),
                     remote.load_prompt(name)) for name in names}
    remote.set_prompt_version_tag("qa", 1, "k", "v")
    before = len(proxy.api("GET"))
    for name in ("qa-v2", "qa/x", "q"):
        assert (remote.load_prompt(name, version=1),
                remote.load_prompt(f"prompts:/{name}@production"),
                remote.load_prompt(name)) == cached[name]
        assert remote.load_prompt(name, version=1) is cached[name][0]
    assert len(proxy.api("GET")) == before  # all from the cache
    again = remote.load_prompt("qa", version=1)
    assert again is not cached["qa"][0] and again.tags == {"k": "v"}
    assert remote.load_prompt("prompts:/qa@production").tags == {"k": "v"}
    assert len(proxy.api("GET")) == before + 2


# --- retries, timeouts, auth, errors ----------------------------------------------------


def test_only_idempotent_requests_are_retried(served: Registry, proxy: Proxy,
                                             remote: RemoteRegistry) -> None:
    _seed(served)
    proxy.fail_next = 100
    with pytest.raises(UnavailableError) as info:
        remote.register_prompt("qa", "three")
    assert proxy.url in str(info.value) and "503" in str(info.value)
    assert len(proxy.api("POST")) == 1
    with pytest.raises(UnavailableError, match="503"):
        remote.get_prompt("qa")
    assert len(proxy.api("GET")) == 3  # the first try and 2 retries
    with pytest.raises(UnavailableError):
        remote.set_prompt_tag("qa", "k", "v")
    assert len(proxy.api("PUT")) == 3
    proxy.fail_next = 1  # one bad answer, then the retry succeeds
    assert remote.get_prompt("qa").latest_version == 2
    assert len(proxy.api("GET")) == 5


def test_500_is_unavailable_with_the_server_message(proxy: Proxy,
                                                    remote: RemoteRegistry) -> None:
    proxy.fail_next, proxy.fail_status = 1, 500
    with pytest.raises(UnavailableError, match="answered 500: The store is on fire"):
        remote.get_prompt("qa")
    assert len(proxy.api("GET")) == 1  # a 500 is not retried


def test_timeouts(served: Registry, proxy: Proxy) -> None:
    _seed(served)
    proxy.delay_before = 1.0
    remote = RemoteRegistry(proxy.url, timeout=0.2, retries=1)
    try:
        start = time.perf_counter()
        with pytest.raises(UnavailableError, match=r"did not answer within 0.2 s \(tried 2"):
            remote.load_prompt("qa", version=1)
        assert time.perf_counter() - start < 0.9
        assert remote.load_prompt("qa", version=1, fallback="fb").is_fallback
    finally:
        remote.close()


def test_api_key_is_sent_as_bearer_and_never_shown(served: Registry, proxy: Proxy) -> None:
    _seed(served)
    proxy.require_key = API_KEY
    with RemoteRegistry(proxy.url, api_key=API_KEY) as remote:
        assert remote.load_prompt("qa", version=1).template == "one {{ q }}"
        assert proxy.requests[-1][2]["authorization"] == f"Bearer {API_KEY}"
        assert API_KEY not in repr(remote) and API_KEY not in repr(remote.settings)
    for key in (None, "wrong-key-77"):
        with RemoteRegistry(proxy.url, api_key=key) as remote:
            with pytest.raises(UnauthenticatedError, match="valid API key") as info:
                remote.get_prompt("qa")
            assert "wrong-key-77" not in str(info.value)
    via_settings = prompthouse.connect(proxy.url, api_key=API_KEY)
    try:
        assert via_settings.get_prompt("qa").latest_version == 2
        assert API_KEY not in repr(via_settings.settings)
    finally:
        via_settings.close()


def test_errors_map_to_the_registry_exceptions(served: Registry, proxy: Proxy,
                                               remote: RemoteRegistry) -> None:
    with pytest.raises(NotFoundError) as info:
        remote.get_prompt("nope")
    assert str(info.value) == "Prompt 'nope' does not exist."
    with pytest.raises(InvalidArgumentError, match="Filters look like"):
        remote.search_prompts("name ~ 'x'")
    served.register_prompt("qa", "x")
    with pytest.raises(InvalidArgumentError, match="already taken"):
        remote.import_version("qa", 1, "again")


def test_payload_too_large(sqlite_uri: str) -> None:
    small = Registry(SqlStore(sqlite_uri), Settings(max_request_bytes=2_000))
    serving = _serve(small)
    proxy = next(serving)
    try:
        with RemoteRegistry(proxy.url) as remote:
            with pytest.raises(PayloadTooLargeError, match="PROMPTHOUSE_MAX_REQUEST_BYTES"):
                remote.register_prompt("big", "x" * 5_000)
            assert remote.get_prompt("big", allow_missing=True) is None
    finally:
        next(serving, None)
        small.close()


def test_names_aliases_and_keys_are_percent_encoded(remote: RemoteRegistry) -> None:
    remote.register_prompt("team/a.b-c", "t")
    for key in ("with space", "a/b", "?&#%", "..", "ünï"):
        remote.set_prompt_tag("team/a.b-c", key, "v")
        remote.set_prompt_version_tag("team/a.b-c", 1, key, "v")
    expected = {k: "v" for k in ("with space", "a/b", "?&#%", "..", "ünï")}
    assert remote.get_prompt("team/a.b-c").tags == expected
    assert remote.get_prompt_version("team/a.b-c", 1).tags == expected
    remote.delete_prompt_tag("team/a.b-c", "..")
    remote.delete_prompt_version_tag("team/a.b-c", 1, "a/b")
    assert ".." not in remote.get_prompt("team/a.b-c").tags
    assert "a/b" not in remote.get_prompt_version("team/a.b-c", 1).tags
    with pytest.raises(InvalidArgumentError, match="name"):
        remote.get_prompt("a/./b")  # refused, never sent as a dot segment


# --- PROMPTHOUSE_URL ----------------------------------------------------------------------


def test_prompthouse_url_makes_the_module_functions_remote(
    served: Registry, proxy: Proxy, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PROMPTHOUSE_URL", proxy.url)
    monkeypatch.setenv("PROMPTHOUSE_API_KEY", API_KEY)
    monkeypatch.setenv("PROMPTHOUSE_STORE_URI", f"sqlite:///{tmp_path}/unused.db")
    prompthouse.set_default_registry(None)
    try:
        prompthouse.register_prompt("env", "from env {{ q }}")
        default = prompthouse.get_default_registry()
        assert isinstance(default, RemoteRegistry) and default.uri == proxy.url
        assert served.get_prompt("env").latest_version == 1
        assert prompthouse.load_prompt("env").format(q="x") == "from env x"
        prompthouse.set_prompt_alias("env", "production", 1)
        assert [p.name for p in prompthouse.search_prompts(alias="production")] == ["env"]
        assert proxy.requests[-1][2]["authorization"] == f"Bearer {API_KEY}"
        explicit = prompthouse.connect(f"sqlite:///{tmp_path}/local.db")
        assert isinstance(explicit, Registry)
        explicit.close()
        assert not (tmp_path / "unused.db").exists()
    finally:
        prompthouse.get_default_registry().close()
        prompthouse.set_default_registry(None)


def test_bad_server_urls_are_clear_errors() -> None:
    for bad in ("ftp://host", "http://", "localhost:8000"):
        with pytest.raises(InvalidArgumentError, match="http://host:8000"):
            RemoteRegistry(bad)


# --- the cache's stale-while-revalidate primitives -----------------------------------------


def test_cache_claims_one_refresh_per_stale_key() -> None:
    from prompthouse.cache import PromptCache

    clock = Clock()
    cache = PromptCache(10, clock=clock)
    assert cache.get_or_claim("k") is None
    cache.put("k", "qa", "v1", 60, cache.generation("qa"), etag='"a"')
    assert cache.get_or_claim("k") == ("v1", None)
    clock.advance(60)
    value, claim = cache.get_or_claim("k")
    assert value == "v1" and claim is not None and claim.etag == '"a"' and claim.ttl == 60
    assert cache.get_or_claim("k") == ("v1", None)  # already claimed
    cache.end_refresh("k", retry_in=5)
    assert cache.get_or_claim("k") == ("v1", None)  # a failed refresh waits 5 s
    clock.advance(5)
    _, claim = cache.get_or_claim("k")
    assert claim is not None
    assert not cache.renew("k", claim.generation, '"other"')  # not the cached answer
    assert cache.renew("k", claim.generation, '"a"')
    cache.end_refresh("k")
    assert cache.get_or_claim("k") == ("v1", None)  # fresh for another 60 s
    clock.advance(60)
    _, claim = cache.get_or_claim("k")
    cache.invalidate("qa")  # a write lands during the refresh
    assert not cache.renew("k", claim.generation, '"a"')
    cache.put("k", "qa", "stale", 60, claim.generation)
    assert cache.get_or_claim("k") is None
    cache.put("k", "qa", "v2", 60, cache.generation("qa"))
    cache.evict("k", claim.generation)  # an old 404 cannot evict a newer entry
    assert cache.get_or_claim("k") == ("v2", None)
    cache.evict("k")
    assert len(cache) == 0


def test_embedded_get_drops_expired_entries_by_the_injected_clock() -> None:
    from prompthouse.cache import PromptCache

    clock = Clock()
    cache = PromptCache(10, clock=clock)
    cache.put("k", "qa", "v", 1, 0)
    assert cache.get("k") == "v"
    clock.advance(1)
    assert cache.get("k") is None and len(cache) == 0
