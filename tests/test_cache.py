"""load_prompt's in-process cache: TTLs, bypass, bounds, and exact invalidation."""

from __future__ import annotations

import time

import pytest

import prompthouse
from prompthouse.cache import PromptCache
from prompthouse.registry import Registry


@pytest.fixture
def pair(sqlite_uri: str):
    """Two registries on one database: ``ours`` caches, ``other`` plays another process."""
    ours = prompthouse.connect(sqlite_uri, alias_cache_ttl_seconds=0.3)
    other = prompthouse.connect(sqlite_uri)
    yield ours, other
    ours.close()
    other.close()


def test_alias_entries_expire_after_their_ttl(pair: tuple[Registry, Registry]) -> None:
    ours, other = pair
    ours.register_prompt("qa", "one")
    ours.register_prompt("qa", "two")
    ours.set_prompt_alias("qa", "production", 1)
    assert ours.load_prompt("prompts:/qa@production").version == 1
    other.set_prompt_alias("qa", "production", 2)  # a write ours cannot see
    assert ours.load_prompt("prompts:/qa@production").version == 1  # still cached
    time.sleep(0.35)
    assert ours.load_prompt("prompts:/qa@production").version == 2


def test_version_entries_do_not_expire(pair: tuple[Registry, Registry]) -> None:
    ours, other = pair
    ours.register_prompt("qa", "one", model_config={"temperature": 0.1})
    assert ours.load_prompt("qa", version=1).model_config == {"temperature": 0.1}
    other.set_prompt_model_config("qa", 1, {"temperature": 0.7})
    time.sleep(0.35)  # longer than the alias TTL
    assert ours.load_prompt("qa", version=1).model_config == {"temperature": 0.1}
    assert ours.load_prompt("qa", version=1, cache_ttl_seconds=0).model_config == {
        "temperature": 0.7
    }


def test_ttl_zero_neither_reads_nor_writes(sqlite_registry: Registry) -> None:
    reg = sqlite_registry
    reg.register_prompt("qa", "one")
    first = reg.load_prompt("qa", version=1, cache_ttl_seconds=0)
    second = reg.load_prompt("qa", version=1, cache_ttl_seconds=0)
    assert first == second and first is not second
    assert len(reg.cache) == 0
    cached = reg.load_prompt("qa", version=1)
    assert reg.load_prompt("qa", version=1) is cached
    assert reg.load_prompt("qa", version=1, cache_ttl_seconds=0) is not cached


def test_explicit_ttl_overrides_default(sqlite_registry: Registry) -> None:
    reg = sqlite_registry
    reg.register_prompt("qa", "one")
    first = reg.load_prompt("qa", version=1, cache_ttl_seconds=0.1)
    assert reg.load_prompt("qa", version=1) is first
    time.sleep(0.15)
    assert reg.load_prompt("qa", version=1) is not first


def test_negative_ttl_is_an_error(sqlite_registry: Registry) -> None:
    sqlite_registry.register_prompt("qa", "one")
    with pytest.raises(prompthouse.InvalidArgumentError, match="cache_ttl_seconds"):
        sqlite_registry.load_prompt("qa", cache_ttl_seconds=-1)


@pytest.mark.parametrize(
    "write",
    [
        lambda r: r.set_prompt_model_config("qa", 1, {"temperature": 0.9}),
        lambda r: r.delete_prompt_model_config("qa", 1),
        lambda r: r.set_prompt_alias("qa", "staging", 1),
        lambda r: r.delete_prompt_alias("qa", "production"),
        lambda r: r.set_prompt_version_tag("qa", 1, "k", "v"),
        lambda r: r.register_prompt("qa", "two"),
        lambda r: r.delete_prompt_version("qa", 1),
        lambda r: r.delete_prompt("qa"),
    ],
    ids=["model_config", "delete_model_config", "alias_set", "alias_deleted", "version_tag",
         "new_version", "delete_version", "delete_prompt"],
)
def test_own_writes_are_seen_at_once(sqlite_registry: Registry, write) -> None:
    reg = sqlite_registry
    reg.register_prompt("qa", "one", model_config={"temperature": 0.1})
    reg.set_prompt_alias("qa", "production", 1)
    before = {
        "v": reg.load_prompt("qa", version=1),
        "a": reg.load_prompt("prompts:/qa@production"),
        "l": reg.load_prompt("qa"),
    }
    write(reg)
    after = {
        "v": reg.load_prompt("qa", version=1, allow_missing=True),
        "a": reg.load_prompt("prompts:/qa@production", allow_missing=True),
        "l": reg.load_prompt("qa", allow_missing=True),
    }
    fresh = {
        "v": reg.load_prompt("qa", version=1, allow_missing=True, cache_ttl_seconds=0),
        "a": reg.load_prompt("prompts:/qa@production", allow_missing=True, cache_ttl_seconds=0),
        "l": reg.load_prompt("qa", allow_missing=True, cache_ttl_seconds=0),
    }
    assert after == fresh
    assert any(before[k] != fresh[k] for k in before)  # the write did change something


def test_invalidation_is_by_exact_name(sqlite_registry: Registry) -> None:
    reg = sqlite_registry
    for name in ("qa", "qa-v2", "qa/x", "q"):
        reg.register_prompt(name, "t")
    cached = {name: reg.load_prompt(name, version=1) for name in ("qa", "qa-v2", "qa/x", "q")}
    reg.set_prompt_version_tag("qa", 1, "k", "v")
    assert reg.load_prompt("qa", version=1) is not cached["qa"]
    for name in ("qa-v2", "qa/x", "q"):
        assert reg.load_prompt(name, version=1) is cached[name]


def test_cache_is_bounded_lru(sqlite_uri: str) -> None:
    reg = prompthouse.connect(sqlite_uri, cache_max_entries=3)
    try:
        for i in range(5):
            reg.register_prompt(f"p{i}", "t")
        first = reg.load_prompt("p0", version=1)
        for i in range(1, 3):
            reg.load_prompt(f"p{i}", version=1)
        assert reg.load_prompt("p0", version=1) is first  # p0 is now most recent
        reg.load_prompt("p3", version=1)  # evicts p1, the least recently used
        assert len(reg.cache) == 3
        assert reg.load_prompt("p0", version=1) is first
        hits = reg.cache.hits
        reg.load_prompt("p1", version=1)
        assert reg.cache.hits == hits  # a miss: p1 was evicted
    finally:
        reg.close()


def test_registries_do_not_share_entries(tmp_path) -> None:
    one = prompthouse.connect(f"sqlite:///{tmp_path}/one.db")
    two = prompthouse.connect(f"sqlite:///{tmp_path}/two.db")
    try:
        one.register_prompt("qa", "from one")
        two.register_prompt("qa", "from two")
        assert one.load_prompt("qa", version=1).template == "from one"
        assert two.load_prompt("qa", version=1).template == "from two"
    finally:
        one.close()
        two.close()


def test_a_load_racing_a_write_cannot_cache_stale_data() -> None:
    cache = PromptCache(10)
    generation = cache.generation("qa")  # a load starts...
    cache.invalidate("qa")  # ...a write lands meanwhile...
    cache.put(("qa", 1), "qa", "stale", None, generation)  # ...the load finishes
    assert cache.get(("qa", 1)) is None
    cache.put(("qa", 1), "qa", "fresh", None, cache.generation("qa"))
    assert cache.get(("qa", 1)) == "fresh"
