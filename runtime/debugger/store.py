"""Where the source debugger keeps recent traffic: capped Redis lists, or process memory.

With `PIPELINE_REDIS_URL` (production, and the test suite) each source has a few Redis lists,
newest first, trimmed to their depth on every write, plus one counters hash per day; a write
is one pipelined round trip whatever it holds. Without Redis (embedded mode: `make run`) the
same structures live in a SQLite file of their own (DEBUGGER_SQLITE_PATH), one transaction a
write, so every web process of `make run` sees the same traffic.
"""

from __future__ import annotations

import sqlite3
import threading

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


class SQLiteBackend:
    """The same structures in a SQLite file of their own (embedded mode): shared by the web
    processes of `make run` (gunicorn runs two), unlike process memory; expiry is not kept."""

    SCHEMA = (
        "CREATE TABLE IF NOT EXISTS lists (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT, item TEXT)",
        "CREATE INDEX IF NOT EXISTS lists_key ON lists (key, id)",
        "CREATE TABLE IF NOT EXISTS hashes (key TEXT, field TEXT, value INTEGER, PRIMARY KEY (key, field))",
    )

    def __init__(self):
        self._local = threading.local()

    def _db(self) -> sqlite3.Connection:
        path = str(settings.DEBUGGER_SQLITE_PATH)
        db = getattr(self._local, "db", None)
        if db is None or self._local.path != path:
            db = sqlite3.connect(path, timeout=2, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            for statement in self.SCHEMA:
                db.execute(statement)
            self._local.db, self._local.path = db, path
        return db

    def write(self, writes: Writes, ttl_s: int) -> None:
        db = self._db()
        with db:
            db.execute("BEGIN IMMEDIATE")
            for key, items, cap in writes.lists:
                db.executemany("INSERT INTO lists (key, item) VALUES (?, ?)", [(key, i) for i in items])
                db.execute(
                    "DELETE FROM lists WHERE key = ? AND id <= "
                    "(SELECT id FROM lists WHERE key = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
                    (key, key, cap),
                )
            db.executemany(
                "INSERT INTO hashes VALUES (?, ?, ?) ON CONFLICT (key, field) DO UPDATE SET value = value + ?",
                [(key, field, amount, amount) for key, field, amount in writes.counts],
            )

    def read(self, keys: list[str], limit: int) -> list[list[str]]:
        db = self._db()
        query = "SELECT item FROM lists WHERE key = ? ORDER BY id DESC LIMIT ?"
        return [[row[0] for row in db.execute(query, (key, limit))] for key in keys]

    def counters(self, keys: list[str]) -> list[dict]:
        db = self._db()
        return [dict(db.execute("SELECT field, value FROM hashes WHERE key = ?", (key,))) for key in keys]

    def clear(self, prefix: str) -> None:
        db = self._db()
        with db:
            for table in ("lists", "hashes"):
                db.execute(f"DELETE FROM {table} WHERE substr(key, 1, ?) = ?", (len(prefix), prefix))


_sqlite = SQLiteBackend()
_redis = RedisBackend()


def backend() -> RedisBackend | SQLiteBackend:
    """Redis when the pipeline has one, else the SQLite file (embedded mode)."""
    return _redis if settings.PIPELINE_REDIS_URL else _sqlite


def prefix(source_id=None) -> str:
    """The keys of one source (or, without one, of every source) start with this."""
    base = f"{settings.PIPELINE_KEY_PREFIX}:dbg:"
    return base if source_id is None else f"{base}{int(source_id)}:"
