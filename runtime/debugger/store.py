"""Where the source debugger keeps recent traffic: capped Redis lists, or process memory.

With `PIPELINE_REDIS_URL` (production, and the test suite) each source has a few Redis lists,
newest first, trimmed to their depth on every write, plus one counters hash per day; a write
is one pipelined round trip whatever it holds. Recordings are not written at once but kept in
this process and flushed every DEBUGGER_FLUSH_S (0.2 s) by a thread of its own (`Pending`):
many requests' recordings become one round trip with one LPUSH per list, items past a list's
depth are dropped before they are ever serialised, and the request or task that recorded waits
for none of it. A read in this process flushes first; another process sees a recording at most
DEBUGGER_FLUSH_S later (and a process that dies loses at most that much). Without Redis (embedded mode: `make run`) the
same structures live in a SQLite file of their own (DEBUGGER_SQLITE_PATH), one transaction a
write, so every web process of `make run` sees the same traffic.
"""

from __future__ import annotations

import atexit
import logging
import os
import sqlite3
import threading
import time

from django.conf import settings

from ..pipeline import store as pipeline_store
from ..sandbox import jsoncodec

log = logging.getLogger(__name__)


def dump(value) -> str:
    """A record as kept (compact JSON; a str is kept as it is)."""
    return value if isinstance(value, str) else jsoncodec.dumps(value, default=str)


class Writes:
    """The writes of one recording, sent together (one Redis round trip)."""

    def __init__(self):
        self.lists: list[tuple[str, list[str], int]] = []
        self.counts: list[tuple[str, str, int]] = []

    def push(self, key: str, items: list, cap: int) -> None:
        """Add `items` (oldest first) to the front of `key`, keeping its newest `cap`. An item
        is a str or a record (serialised by `dump` when written: it must not change after)."""
        if items:
            self.lists.append((key, items, cap))

    def count(self, key: str, field: str, amount: int) -> None:
        """Add `amount` to the counter `field` of the hash `key`."""
        if amount:
            self.counts.append((key, field, amount))


class RedisBackend:
    """Capped lists and counter hashes in the pipeline's Redis."""

    def record(self, writes: Writes, ttl_s: int) -> None:
        """Keep a recording for the next flush (written now with DEBUGGER_FLUSH_S = 0)."""
        if settings.DEBUGGER_FLUSH_S > 0:
            _pending.add(writes, ttl_s)
        else:
            self.write(writes, ttl_s)

    def write(self, writes: Writes, ttl_s: int, client=None) -> None:
        pipe = (client or pipeline_store.client()).pipeline(transaction=False)
        for key, items, cap in writes.lists:
            pipe.lpush(key, *[dump(item) for item in items[-cap:]])
            pipe.ltrim(key, 0, cap - 1)
            pipe.expire(key, ttl_s)
        for key, field, amount in writes.counts:
            pipe.hincrby(key, field, amount)
        for key in {key for key, _, _ in writes.counts}:
            pipe.expire(key, ttl_s)
        pipe.execute()

    def read(self, keys: list[str], limit: int) -> list[list[bytes]]:
        _pending.flush()
        pipe = pipeline_store.client().pipeline(transaction=False)
        for key in keys:
            pipe.lrange(key, 0, limit - 1)
        return pipe.execute()

    def counters(self, keys: list[str]) -> list[dict]:
        _pending.flush()
        pipe = pipeline_store.client().pipeline(transaction=False)
        for key in keys:
            pipe.hgetall(key)
        return [{k.decode(): int(v) for k, v in row.items()} for row in pipe.execute()]

    def clear(self, prefix: str) -> None:
        _pending.discard(prefix)
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

    def record(self, writes: Writes, ttl_s: int) -> None:
        self.write(writes, ttl_s)

    def write(self, writes: Writes, ttl_s: int) -> None:
        db = self._db()
        with db:
            db.execute("BEGIN IMMEDIATE")
            for key, items, cap in writes.lists:
                db.executemany(
                    "INSERT INTO lists (key, item) VALUES (?, ?)", [(key, dump(i)) for i in items[-cap:]]
                )
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


class Pending:
    """This process's recordings waiting for their flush to Redis, merged per list and counter.

    `add` only appends under a lock (a list keeps at most twice its cap between flushes);
    a daemon thread, started by the first recording of each process, flushes every
    DEBUGGER_FLUSH_S; reads flush first. A failed flush is logged and every recording in it
    counted in `errors`, as a failed write was.
    """

    def __init__(self):
        self._reset()

    def _reset(self) -> None:
        self.lock = threading.Lock()
        self.lists: dict[str, list] = {}  # key -> [items, cap]
        self.counts: dict[tuple[str, str], int] = {}
        self.recordings = 0
        self.ttl_s = 0
        self.client = None
        self.thread: threading.Thread | None = None
        self.errors = 0

    def add(self, writes: Writes, ttl_s: int) -> None:
        client = pipeline_store.client()
        if self.client is not None and self.client is not client:
            self.flush()  # what waits goes to the Redis it was recorded for
        with self.lock:
            self.client, self.ttl_s = client, max(self.ttl_s, ttl_s)
            for key, items, cap in writes.lists:
                entry = self.lists.get(key)
                if entry is None:
                    self.lists[key] = [list(items), cap]
                else:
                    entry[0].extend(items)
                    entry[1] = cap
                    if len(entry[0]) > 2 * cap:
                        del entry[0][:-cap]
            for key, field, amount in writes.counts:
                self.counts[key, field] = self.counts.get((key, field), 0) + amount
            self.recordings += 1
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="debugger-flush", daemon=True)
                self.thread.start()

    def _take(self, prefix: str = ""):
        with self.lock:
            if not self.recordings:
                return None
            lists, counts, recordings = self.lists, self.counts, self.recordings
            self.lists, self.counts, self.recordings = {}, {}, 0
            if prefix:  # keep what belongs elsewhere
                self.lists = {k: v for k, v in lists.items() if not k.startswith(prefix)}
                self.counts = {k: v for k, v in counts.items() if not k[0].startswith(prefix)}
                self.recordings = recordings if (self.lists or self.counts) else 0
                return None
            return lists, counts, recordings, self.client, self.ttl_s

    def flush(self) -> None:
        taken = self._take()
        if taken is None:
            return
        lists, counts, recordings, client, ttl_s = taken
        writes = Writes()
        for key, (items, cap) in lists.items():
            writes.push(key, items, cap)
        for (key, field), amount in counts.items():
            writes.count(key, field, amount)
        try:
            _redis.write(writes, ttl_s, client)
        except Exception:
            self.errors += recordings
            log.warning("source debugger: a flush of %d recordings failed", recordings, exc_info=True)

    def discard(self, prefix: str) -> None:
        """Drop what waits for keys starting with `prefix` (they are being cleared)."""
        self._take(prefix)

    def _run(self) -> None:
        while True:
            time.sleep(max(0.01, float(settings.DEBUGGER_FLUSH_S or 0.2)))
            try:
                self.flush()
            except Exception:  # never let the thread die
                log.warning("source debugger: flush failed", exc_info=True)


_sqlite = SQLiteBackend()
_redis = RedisBackend()
_pending = Pending()
os.register_at_fork(after_in_child=_pending._reset)  # a child starts empty, with its own thread
atexit.register(_pending.flush)


def flush() -> None:
    """Write what this process recorded and has not written yet."""
    _pending.flush()


def flush_errors() -> int:
    """Recordings this process lost in failed flushes."""
    return _pending.errors


def backend() -> RedisBackend | SQLiteBackend:
    """Redis when the pipeline has one, else the SQLite file (embedded mode)."""
    return _redis if settings.PIPELINE_REDIS_URL else _sqlite


def prefix(source_id=None) -> str:
    """The keys of one source (or, without one, of every source) start with this."""
    base = f"{settings.PIPELINE_KEY_PREFIX}:dbg:"
    return base if source_id is None else f"{base}{int(source_id)}:"
