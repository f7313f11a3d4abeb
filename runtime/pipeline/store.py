"""Where the pipeline keeps work between stages: Redis lists (micro-batching); the dedupe marks
and messageId claims live in dedupe.py.

Buffered mode (Redis configured and Celery not eager): each stage appends items to a Redis
list per key and schedules one flush task, which drains many items at once. Draining moves
the items into a per-task "in-flight" list in one atomic script, and the task deletes that
list only when it is done, so a worker killed mid-batch leaves its items where the redelivered
task (same task id, acks_late) finds them again. Without Redis everything runs inline.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time

import redis
from django.conf import settings
from redis.cluster import RedisCluster

from functions_platform.celery import app as celery_app

from ..sandbox import jsoncodec
from . import store_legacy
from . import store_lua as lua
from .memory_mark import MemoryMark

# The in-flight list's own expiry is only a backstop: the lease below is what recovers it.
INFLIGHT_TTL_S = 7 * 24 * 3600
log = logging.getLogger(__name__)
_clients: dict[tuple[str, bool], redis.Redis | RedisCluster] = {}
_scripts: dict[int, dict] = {}
_lock = threading.Lock()


def buffered() -> bool:
    """True when stages hand work over through Redis lists (a real broker and Redis)."""
    return bool(settings.PIPELINE_REDIS_URL) and not celery_app.conf.task_always_eager


def client() -> redis.Redis | RedisCluster:
    """This process's Redis client for PIPELINE_REDIS_URL (thread-safe, pooled): a
    `RedisCluster` when PIPELINE_REDIS_CLUSTER is set, the URL then naming any of its nodes."""
    target = (settings.PIPELINE_REDIS_URL, settings.PIPELINE_REDIS_CLUSTER)
    with _lock:
        if target not in _clients:
            kind = RedisCluster if target[1] else redis.Redis
            _clients[target] = kind.from_url(target[0], socket_timeout=5, health_check_interval=30)
        return _clients[target]


def clustered() -> bool:
    """True when the pipeline's Redis is a Redis Cluster (its pipelines cannot carry scripts)."""
    return isinstance(client(), RedisCluster)


def script(source: str):
    """A registered Lua script (EVALSHA, falling back to EVAL once per Redis restart)."""
    r = client()
    with _lock:
        scripts = _scripts.setdefault(id(r), {})
        if source not in scripts:
            scripts[source] = r.register_script(source)
        return scripts[source]


def _then_index(source: str, *, keys: list, args: list, stage: str, key: str):
    """Run the Lua `source` on one buffer's keys, then add the buffer to the index (after its
    items: see buffers_waiting): one round trip on a single Redis, two on a cluster, whose
    pipelines refuse scripts. Returns the script's answer."""
    if clustered():
        answer = script(source)(keys=keys, args=args)
        client().sadd(_active(), f"{stage}:{key}")
        return answer
    try:
        return _pushed_and_indexed(script(source).sha, keys, args, f"{stage}:{key}")
    except redis.exceptions.NoScriptError:
        # A restarted Redis forgot its scripts and nothing ran: load the script, run once more.
        client().script_load(source)
        return _pushed_and_indexed(script(source).sha, keys, args, f"{stage}:{key}")


def _pushed_and_indexed(sha: str, keys: list, args: list, member: str):
    # EVALSHA by hand: a Script in a pipeline makes redis-py ask SCRIPT EXISTS first, one more
    # round trip on every push.
    pipe = client().pipeline(transaction=False)
    pipe.evalsha(sha, len(keys), *keys, *args)
    pipe.sadd(_active(), member)
    return pipe.execute()[0]


def key_prefix() -> str:
    # Separate prefixes let several stacks (e.g. parallel test runs) share one Redis database.
    return settings.PIPELINE_KEY_PREFIX


def _active() -> str:
    """The index of every buffer in use ("stage:key" members): the one key all share."""
    return f"{key_prefix()}:active"


def _tag(stage: str, key: str) -> str:
    # A Redis Cluster hash tag: every key of one buffer lands on one slot (store_lua.py).
    return "{" + f"{stage}:{key}" + "}"


def _keys(stage: str, key: str) -> tuple[str, str]:
    tag = _tag(stage, key)
    return f"{key_prefix()}:buf:{tag}", f"{key_prefix()}:sched:{tag}"


_memory = MemoryMark()


def memory_full() -> bool:
    """True when Redis is past PIPELINE_REDIS_MEMORY_HIGH of its maxmemory: ingest then answers
    503, keeping the rest for workers to drain (their writes need room too). On a cluster, when
    any primary is (a push to one of its slots would be refused). See memory_mark.py."""
    return _memory.reached(lambda: node_infos("memory"), settings.PIPELINE_REDIS_MEMORY_HIGH)


def node_infos(section: str) -> list[dict]:
    """INFO `section` of the pipeline's Redis: one dict, or one per primary of a cluster."""
    if not clustered():
        return [client().info(section)]
    answer = client().info(section, target_nodes=RedisCluster.PRIMARIES)
    # redis-py answers a dict per node, or the bare dict when the cluster has one primary.
    if all(isinstance(value, dict) for value in answer.values()):
        return list(answer.values())
    return [answer]


def buffer_push(stage: str, key: str, items: list, *, batch: int) -> int:
    """Append JSON items; returns 2 (flush now), 1 (schedule a delayed flush) or 0."""
    buf, sched = _keys(stage, key)
    wait_ms = max(1, int(settings.PIPELINE_FLUSH_WAIT_S * 1000))
    # The flag outlives the flush delay so one window schedules one flush; the sweeper
    # covers a flag whose flush was lost.
    # Lone surrogates (a function's output may hold them) stay as escapes, as json wrote them.
    encoded = [jsoncodec.dumps_bytes(i, escape_surrogates=True) for i in items]
    args = [batch, wait_ms * 5, *encoded]
    decision = int(_then_index(lua.PUSH, keys=[buf, sched], args=args, stage=stage, key=key))
    _memory.pushed(encoded)
    return decision


def _lease_member(stage: str, key: str, task_id: str) -> str:
    return f"{stage}:{key}:{task_id}"


def _recovery_keys(stage: str, key: str) -> list[str]:
    """recov (hash of item sha1 -> recoveries) and dead (items over the limit)."""
    tag = _tag(stage, key)
    return [f"{key_prefix()}:recov:{tag}", f"{key_prefix()}:dead:{tag}"]


def _lease_ms() -> int:
    return int(settings.PIPELINE_INFLIGHT_LEASE_S * 1000)


def buffer_drain(stage: str, key: str, task_id: str, *, limit: int) -> list:
    """Move up to `limit` items into this task's in-flight list (leased) and return them.

    A task redelivered after its worker died gets its own in-flight items back, minus those
    recovered more than PIPELINE_INFLIGHT_MAX_ATTEMPTS times (moved to the dead list).
    """
    buf, sched = _keys(stage, key)
    raw = script(lua.DRAIN)(
        keys=[buf, _inflight(stage, key, task_id), sched, _leases(stage, key), *_recovery_keys(stage, key)],
        args=[
            limit,
            INFLIGHT_TTL_S,
            _lease_member(stage, key, task_id),
            _lease_ms(),
            settings.PIPELINE_INFLIGHT_MAX_ATTEMPTS,
        ],
    )
    # One parse for the whole round (the items are JSON values this module wrote): half the
    # cost of a json.loads per item.
    return jsoncodec.loads(b"[" + b",".join(raw) + b"]") if raw else []


def buffer_done(stage: str, key: str, task_id: str) -> int:
    """Forget this task's in-flight items (they are delivered or handed on); returns backlog."""
    return int(
        script(lua.DONE)(
            keys=[
                _inflight(stage, key, task_id),
                _leases(stage, key),
                _recovery_keys(stage, key)[0],
                _keys(stage, key)[0],
            ],
            args=[_lease_member(stage, key, task_id)],
        )
    )


def inflight_release(stage: str, key: str, task_id: str, *, count: bool, only_expired: bool = False) -> tuple:
    """Return a task's in-flight items to the front of their buffer; (requeued, dead-listed).

    `count` adds one recovery to each item (a crash or an unexpected error); infrastructure
    errors pass False and never use up attempts.
    """
    buf, _ = _keys(stage, key)
    recov, dead = _recovery_keys(stage, key)
    requeued, died = _then_index(
        lua.RELEASE,
        keys=[buf, _inflight(stage, key, task_id), _leases(stage, key), recov, dead],
        args=[
            1 if count else 0,
            _lease_member(stage, key, task_id),
            settings.PIPELINE_INFLIGHT_MAX_ATTEMPTS,
            1 if only_expired else 0,
        ],
        stage=stage,
        key=key,
    )
    return int(requeued), int(died)


def lease_renew(stage: str, key: str, task_id: str) -> None:
    """Push the in-flight list's lease forward (the task is alive and working on it)."""
    script(lua.RENEW)(keys=[_leases(stage, key)], args=[_lease_member(stage, key, task_id), _lease_ms()])


class _Heartbeat:
    """One thread per process renewing the leases its running batches hold.

    Starting a thread per batch cost more than the batch's own Redis calls; this one starts
    with the first lease a process holds (after a prefork worker forked it) and renews each
    held lease every third of the lease's length, counted from when it was taken.
    """

    def __init__(self):
        self.held: dict[int, list] = {}  # handle -> [stage, key, task_id, next renewal]
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.thread: threading.Thread | None = None
        self.pid = 0
        self.planned = 0.0  # when the thread wakes next (monotonic)

    def hold(self, stage: str, key: str, task_id: str) -> int:
        entry = [stage, key, task_id, time.monotonic() + settings.PIPELINE_INFLIGHT_LEASE_S / 3]
        with self.lock:
            self.held[id(entry)] = entry
            if self.thread is None or not self.thread.is_alive() or self.pid != os.getpid():
                self.pid = os.getpid()
                self.thread = threading.Thread(target=self._run, name="inflight-lease", daemon=True)
                self.thread.start()
            early = entry[3] < self.planned
        if early:  # only a shorter lease than the thread planned for: waking it costs a switch
            self.wake.set()
        return id(entry)

    def drop(self, handle: int) -> None:
        with self.lock:
            self.held.pop(handle, None)

    def _run(self) -> None:
        while True:
            self.wake.clear()  # before reading `held`: a lease taken from here on wakes the wait
            now = time.monotonic()
            interval = settings.PIPELINE_INFLIGHT_LEASE_S / 3
            with self.lock:
                due = [e for e in self.held.values() if e[3] <= now]
                for entry in due:
                    entry[3] = now + interval
                soonest = min((e[3] for e in self.held.values()), default=now + interval)
                self.planned = soonest
            for stage, key, task_id, _ in due:
                try:
                    lease_renew(stage, key, task_id)
                except redis.RedisError:
                    log.warning("could not renew the lease of %s:%s:%s", stage, key, task_id)
            self.wake.wait(max(0.0, soonest - time.monotonic()))


_heartbeat = _Heartbeat()


@contextlib.contextmanager
def lease_kept(stage: str, key: str, task_id: str):
    """Keep the lease renewed while the body runs (this process's heartbeat thread)."""
    handle = _heartbeat.hold(stage, key, task_id)
    try:
        yield
    finally:
        _heartbeat.drop(handle)


def _buffers() -> list[tuple[str, str]]:
    """(stage, key) of every buffer in the index."""
    # The untagged layout never ran on a cluster (its scripts spanned slots): nothing to adopt.
    if not _adopted.get(key_prefix()) and not clustered():
        store_legacy.adopt(client(), _layout())
        _adopted[key_prefix()] = True
    return [tuple(m.decode().split(":", 1)) for m in client().smembers(_active())]


_adopted: dict[str, bool] = {}


def _layout() -> store_legacy.Layout:
    return store_legacy.Layout(
        prefix=key_prefix(),
        index=_active(),
        buffer=lambda stage, key: _keys(stage, key)[0],
        dead=lambda stage, key: _recovery_keys(stage, key)[1],
        inflight=_inflight,
        leases=_leases,
        prepend=script(lua.LEGACY_PREPEND),
        dedupe_ttl_s=settings.PIPELINE_DEDUPE_TTL_S,
    )


def _per_buffer(read, buffers: list[tuple[str, str]]) -> list:
    """`read(pipe, stage, key)` for each buffer in one round trip (per node on a cluster)."""
    pipe = client().pipeline(transaction=False)
    for stage, key in buffers:
        read(pipe, stage, key)
    return pipe.execute() if buffers else []


def leases_expired(limit: int = 200) -> list[tuple[str, str, str]]:
    """(stage, key, task_id) of in-flight lists whose lease ran out: their task is gone."""
    seconds, micros = client().time()  # Redis's clock, the one the leases were written with
    now_ms = seconds * 1000 + micros // 1000

    def read(pipe, stage, key):
        pipe.zrangebyscore(_leases(stage, key), "-inf", now_ms, start=0, num=limit)

    found = [m for members in _per_buffer(read, _buffers()) for m in members]
    return [tuple(m.decode().split(":", 2)) for m in found[:limit]]


def dead_keys() -> list[tuple[str, str]]:
    """(stage, key) of dead lists holding items that exhausted their recoveries."""
    buffers = _buffers()
    lengths = _per_buffer(lambda pipe, stage, key: pipe.llen(_recovery_keys(stage, key)[1]), buffers)
    return [buffer for buffer, length in zip(buffers, lengths, strict=True) if length]


def dead_take(stage: str, key: str, *, limit: int = 500) -> list[str]:
    """The first `limit` raw items of a dead list (removed later with `dead_forget`)."""
    return [r.decode() for r in client().lrange(_recovery_keys(stage, key)[1], 0, limit - 1)]


def dead_forget(stage: str, key: str, count: int) -> None:
    """Drop the first `count` items of a dead list (they are in the dead-letter table now)."""
    client().ltrim(_recovery_keys(stage, key)[1], count, -1)


def _inflight(stage: str, key: str, task_id: str) -> str:
    return f"{key_prefix()}:inflight:{_tag(stage, key)}:{task_id}"


def _leases(stage: str, key: str) -> str:
    return f"{key_prefix()}:leases:{_tag(stage, key)}"


def buffers_waiting() -> list[tuple[str, str]]:
    """(stage, key) of every buffer holding items with no flush scheduled (for the sweeper).

    Also drops from the index the buffers with nothing left (no items, flag, lease or dead
    item). A push adds its buffer to the index after its items, so a push racing the removal
    is seen by the second look, which puts the buffer back.
    """
    buffers = _buffers()
    lengths = _per_buffer(lambda pipe, stage, key: _buffer_state(pipe, stage, key), buffers)
    out = []
    for (stage, key), (items, scheduled) in zip(
        buffers, zip(lengths[::2], lengths[1::2], strict=True), strict=True
    ):
        if items and not scheduled:
            out.append((stage, key))
        elif not items:
            _index_drop_if_idle(stage, key)
    return out


def _buffer_state(pipe, stage: str, key: str) -> None:
    buf, sched = _keys(stage, key)
    pipe.llen(buf)
    pipe.exists(sched)


def _idle(stage: str, key: str) -> bool:
    buf, sched = _keys(stage, key)
    return bool(script(lua.IDLE)(keys=[buf, sched, _leases(stage, key), _recovery_keys(stage, key)[1]]))


def _index_drop_if_idle(stage: str, key: str) -> None:
    member = f"{stage}:{key}"
    if _idle(stage, key):
        client().srem(_active(), member)
        if not _idle(stage, key):
            client().sadd(_active(), member)


def buffer_depths() -> tuple[dict, dict]:
    """Items waiting per stage (the indexed buffers) and items in flight per stage."""
    buffers = _buffers()
    lengths = _per_buffer(lambda pipe, stage, key: pipe.llen(_keys(stage, key)[0]), buffers)
    waiting: dict[str, int] = {}
    for (stage, _), length in zip(buffers, lengths, strict=True):
        waiting[stage] = waiting.get(stage, 0) + int(length)
    held = _per_buffer(lambda pipe, stage, key: pipe.zrange(_leases(stage, key), 0, -1), buffers)
    lists = [tuple(m.decode().split(":", 2)) for members in held for m in members]
    counts = _per_buffer(
        lambda pipe, stage, key_task: pipe.llen(_inflight(stage, *key_task)),
        [(stage, (key, task)) for stage, key, task in lists],
    )
    taken: dict[str, int] = {}
    for (stage, _, _), length in zip(lists, counts, strict=True):
        taken[stage] = taken.get(stage, 0) + int(length)
    return waiting, taken


def inflight_message_ids(stage: str, key: str, task_id: str) -> list[str]:
    """The messageIds of a task's in-flight items (read before the list is given back)."""
    raw = client().lrange(_inflight(stage, key, task_id), 0, -1)
    out = []
    for item in raw:
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            message_id = json.loads(item).get("messageId")
            if isinstance(message_id, str):
                out.append(message_id)
    return out
