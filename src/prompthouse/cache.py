"""The in-process prompt cache behind ``load_prompt``: bounded LRU with per-entry TTL.

Entries are grouped by prompt name so a write invalidates exactly that name's entries
(never by prefix: writing ``qa`` leaves ``qa-v2`` and ``qa/x`` cached). Each name has a
generation number; a load that started before a write cannot put its (now stale)
answer into the cache after the write invalidated it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

__all__ = ["PromptCache"]


class PromptCache:
    """A thread-safe LRU of ``key -> (value, expires_at)`` grouped by prompt name."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[Any, float | None, str]] = OrderedDict()
        self._by_name: dict[str, set[Hashable]] = {}
        self._generation: dict[str, int] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable) -> Any | None:
        """The cached value, or ``None`` if absent or expired (an expired one is dropped)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            expires = entry[1]
            if expires is not None and time.monotonic() >= expires:
                self._drop(key, entry[2])
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[0]

    def generation(self, name: str) -> int:
        """Read before loading ``name`` from the store; pass to :meth:`put`."""
        return self._generation.get(name, 0)

    def put(self, key: Hashable, name: str, value: Any, ttl_seconds: float | None,
            generation: int) -> None:
        """Cache ``value`` unless ``name`` was invalidated since ``generation`` was read."""
        if self.max_entries <= 0:
            return
        expires = None if ttl_seconds is None else time.monotonic() + ttl_seconds
        with self._lock:
            if self._generation.get(name, 0) != generation:
                return
            self._entries[key] = (value, expires, name)
            self._entries.move_to_end(key)
            self._by_name.setdefault(name, set()).add(key)
            while len(self._entries) > self.max_entries:
                old_key, (_, _, old_name) = self._entries.popitem(last=False)
                self._forget(old_key, old_name)

    def invalidate(self, name: str) -> None:
        """Drop every entry of prompt ``name`` (and only of that exact name)."""
        with self._lock:
            self._generation[name] = self._generation.get(name, 0) + 1
            for key in self._by_name.pop(name, ()):
                self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            for name in self._by_name:
                self._generation[name] = self._generation.get(name, 0) + 1
            self._entries.clear()
            self._by_name.clear()

    def _drop(self, key: Hashable, name: str) -> None:
        self._entries.pop(key, None)
        self._forget(key, name)

    def _forget(self, key: Hashable, name: str) -> None:
        keys = self._by_name.get(name)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._by_name[name]
