"""The in-process prompt cache behind ``load_prompt``: bounded LRU with per-entry TTL.

Entries are grouped by prompt name so a write invalidates exactly that name's entries
(never by prefix: writing ``qa`` leaves ``qa-v2`` and ``qa/x`` cached). Each name has a
generation number; a load that started before a write cannot put its (now stale)
answer into the cache after the write invalidated it.

The embedded :class:`~prompthouse.registry.Registry` uses :meth:`PromptCache.get`, which
drops an expired entry. The remote SDK uses stale-while-revalidate instead:
:meth:`PromptCache.get_or_claim` keeps serving an expired entry and hands the refresh of
that key to exactly one caller at a time (see :mod:`prompthouse.remote`).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, NamedTuple

__all__ = ["Claim", "PromptCache"]


class _Entry(NamedTuple):
    value: Any
    expires: float | None  # clock reading after which the entry is stale; None: never
    name: str
    etag: str | None
    ttl: float | None


class Claim(NamedTuple):
    """A stale entry whose refresh the caller now owns (see :meth:`PromptCache.get_or_claim`).

    ``generation`` was read when the claim was made: pass it to :meth:`PromptCache.put`
    or :meth:`PromptCache.renew`, and call :meth:`PromptCache.end_refresh` when done.
    """

    key: Hashable
    name: str
    etag: str | None
    ttl: float | None
    generation: int


class PromptCache:
    """A thread-safe LRU of ``key -> value`` with TTLs, grouped by prompt name.

    ``clock`` (default :func:`time.monotonic`) is read for every expiry decision; tests
    inject a controllable one.
    """

    def __init__(self, max_entries: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._by_name: dict[str, set[Hashable]] = {}
        self._generation: dict[str, int] = {}
        self._refreshing: set[Hashable] = set()
        self._refresh_after: dict[Hashable, float] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.stale_hits = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def refreshing(self) -> int:
        """How many claimed refreshes are still running."""
        return len(self._refreshing)

    def get(self, key: Hashable) -> Any | None:
        """The cached value, or ``None`` if absent or expired (an expired one is dropped)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            expires = entry[1]
            if expires is not None and self.clock() >= expires:
                self._drop(key, entry[2])
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[0]

    def get_or_claim(self, key: Hashable) -> tuple[Any, Claim | None] | None:
        """Stale-while-revalidate lookup: ``None`` on a miss, else ``(value, claim)``.

        An expired entry is returned, not dropped. ``claim`` is ``None`` unless the entry
        is stale, nobody is refreshing it already, and no failed refresh asked to wait
        (:meth:`end_refresh`): then this caller owns its refresh.
        """
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            expires = entry[1]
            if expires is None or (now := self.clock()) < expires:
                self.hits += 1
                return entry[0], None
            self.stale_hits += 1
            if key in self._refreshing or now < self._refresh_after.get(key, now):
                return entry[0], None
            self._refreshing.add(key)
            name = entry[2]
            return entry[0], Claim(key, name, entry[3], entry[4],
                                   self._generation.get(name, 0))

    def end_refresh(self, key: Hashable, retry_in: float | None = None) -> None:
        """Release a claim; ``retry_in`` seconds must pass before the next one is granted."""
        with self._lock:
            self._refreshing.discard(key)
            if retry_in:
                self._refresh_after[key] = self.clock() + retry_in
            else:
                self._refresh_after.pop(key, None)

    def generation(self, name: str) -> int:
        """Read before loading ``name`` from the store; pass to :meth:`put`."""
        return self._generation.get(name, 0)

    def put(self, key: Hashable, name: str, value: Any, ttl_seconds: float | None,
            generation: int, etag: str | None = None) -> None:
        """Cache ``value`` unless ``name`` was invalidated since ``generation`` was read."""
        if self.max_entries <= 0:
            return
        expires = None if ttl_seconds is None else self.clock() + ttl_seconds
        with self._lock:
            if self._generation.get(name, 0) != generation:
                return
            self._entries[key] = _Entry(value, expires, name, etag, ttl_seconds)
            self._entries.move_to_end(key)
            self._by_name.setdefault(name, set()).add(key)
            while len(self._entries) > self.max_entries:
                old_key, old = self._entries.popitem(last=False)
                self._refresh_after.pop(old_key, None)
                self._forget(old_key, old.name)

    def renew(self, key: Hashable, generation: int, etag: str | None) -> bool:
        """Make a cached entry fresh again for its TTL (the server answered 304).

        Only if ``key`` still holds the answer with ``etag`` and its name was not
        invalidated since ``generation`` was read; returns whether it was renewed.
        """
        with self._lock:
            entry = self._entries.get(key)
            if (entry is None or entry.etag != etag
                    or self._generation.get(entry.name, 0) != generation):
                return False
            expires = None if entry.ttl is None else self.clock() + entry.ttl
            self._entries[key] = entry._replace(expires=expires)
            return True

    def evict(self, key: Hashable, generation: int | None = None) -> None:
        """Drop one entry (its prompt, version or alias is gone).

        With ``generation``: only if its name was not invalidated since that was read
        (an entry put after a write is newer than the answer that asked to evict).
        """
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and (
                generation is None or self._generation.get(entry.name, 0) == generation
            ):
                self._drop(key, entry.name)

    def invalidate(self, name: str) -> None:
        """Drop every entry of prompt ``name`` (and only of that exact name)."""
        with self._lock:
            self._generation[name] = self._generation.get(name, 0) + 1
            for key in self._by_name.pop(name, ()):
                self._entries.pop(key, None)
                self._refresh_after.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            for name in self._by_name:
                self._generation[name] = self._generation.get(name, 0) + 1
            self._entries.clear()
            self._by_name.clear()
            self._refresh_after.clear()

    def _drop(self, key: Hashable, name: str) -> None:
        self._entries.pop(key, None)
        self._refresh_after.pop(key, None)
        self._forget(key, name)

    def _forget(self, key: Hashable, name: str) -> None:
        keys = self._by_name.get(name)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._by_name[name]
