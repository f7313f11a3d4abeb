"""Where the source debugger keeps recent traffic: capped Redis lists, or process memory.

With `PIPELINE_REDIS_URL` (production, and the test suite) each source has a few Redis lists,
newest first, trimmed to their depth on every write, plus one counters hash per day; a write
is one pipelined round trip whatever it holds. Without Redis (embedded mode: `make run`) the
same structures live in this process's memory, which is enough for the single `runserver`
process that both ingests and serves the debugger.
"""

from __future__ import annotations

import threading
from collections import deque

from django.conf import settings

from ..pipeline import store as pipeline_store


class Writes:
    """The writes of one recording, sent together (one Redis round trip)."""

    def __init__(self):
        self.lists: list[tuple[str, list[str], int]] = []
        self.counts: list[tuple[str, str, int]] = []

    def push(self, key: str, items: list[str], cap: int) -> None:
        """Add `items` (oldest first) to the front of `key`, keeping its newest `cap`."""
        if items:
            self.lists.append((key, items, cap))

    def count(self, key: str, field: str, amount: int) -> None:
        """Add `amount` to the counter `field` of the hash `key`."""
        if amount:
            self.counts.append((key, field, amount))


class RedisBackend:
    """Capped lists and counter hashes in the pipeline's Redis."""

    def write(self, writes: Writes, ttl_s: int) -> None:
        pipe = pipeline_store.client().pipeline(transaction=False)
        for key, items, cap in writes.lists:
            pipe.lpush(key, *items)
            pipe.ltrim(key, 0, cap - 1)
            pipe.expire(key, ttl_s)
        for key, field, amount in writes.counts:
            pipe.hincrby(key, field, amount)
        for key in {key for key, _, _ in writes.counts}:
            pipe.expire(key, ttl_s)
        pipe.execute()

    def read(self, keys: list[str], limit: int) -> list[list[bytes]]:
        pipe = pipeline_store.client().pipeline(transaction=False)
        for key in keys:
            pipe.lrange(key, 0, limit - 1)
        return pipe.execute()

    def counters(self, keys: list[str]) -> list[dict]:
        pipe = pipeline_store.client().pipeline(transaction=False)
        for key in keys:
            pipe.hgetall(key)
        return [{k.decode(): int(v) for k, v in row.items()} for row in pipe.execute()]

    def clear(self, prefix: str) -> None:
        r = pipeline_store.client()
        for key in r.scan_iter(match=f"{prefix}*", count=500):
            r.delete(key)


class MemoryBackend:
    """The same structures in this process (embedded mode); expiry is not kept."""

    def __init__(self):
        self._lists: dict[str, deque] = {}
        self._hashes: dict[str, dict] = {}
        self._lock = threading.Lock()

    def write(self, writes: Writes, ttl_s: int) -> None:
        with self._lock:
            for key, items, cap in writes.lists:
                kept = self._lists.get(key)
                if kept is None or kept.maxlen != cap:
                    kept = self._lists[key] = deque(kept or (), maxlen=cap)
                kept.extendleft(items)
            for key, field, amount in writes.counts:
                row = self._hashes.setdefault(key, {})
                row[field] = row.get(field, 0) + amount

    def read(self, keys: list[str], limit: int) -> list[list[str]]:
        with self._lock:
            return [list(self._lists.get(key, ()))[:limit] for key in keys]

    def counters(self, keys: list[str]) -> list[dict]:
        with self._lock:
            return [dict(self._hashes.get(key, {})) for key in keys]

    def clear(self, prefix: str) -> None:
        with self._lock:
            for table in (self._lists, self._hashes):
                for key in [k for k in table if k.startswith(prefix)]:
                    del table[key]


_memory = MemoryBackend()
_redis = RedisBackend()


def backend() -> RedisBackend | MemoryBackend:
    """Redis when the pipeline has one, else this process's memory."""
    return _redis if settings.PIPELINE_REDIS_URL else _memory


def prefix(source_id=None) -> str:
    """The keys of one source (or, without one, of every source) start with this."""
    base = f"{settings.PIPELINE_KEY_PREFIX}:dbg:"
    return base if source_id is None else f"{base}{int(source_id)}:"
