"""Where the pipeline keeps work between stages: Redis lists (micro-batching) and dedupe marks.

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
from django.utils import timezone

from functions_platform.celery import app as celery_app

from ..models import DeliveredMessage

# The in-flight list's own expiry is only a backstop: the lease below is what recovers it.
INFLIGHT_TTL_S = 7 * 24 * 3600
# Append, then say whether to flush now (2: this push filled another whole batch), later (1:
# first item of a wait window) or not at all (0: a flush is already on its way). Only batch
# boundaries publish, so a backlog never turns every push into one more task; and once two
# whole batches wait, the tasks already published for them drain the rest (a flush takes up
# to MAX_FLUSH_ROUNDS batches and publishes another while a backlog remains).
_PUSH = """
local before = redis.call('LLEN', KEYS[1])
local after = redis.call('RPUSH', KEYS[1], unpack(ARGV, 4))
redis.call('SADD', KEYS[3], ARGV[3])
local batch = tonumber(ARGV[1])
if before < 2 * batch and math.floor(after / batch) > math.floor(before / batch) then return 2 end
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[2]) then return 1 end
return 0
"""
# Shared Lua: the server's clock in ms, and "count one more recovery of these items; return the
# ones still allowed and move the others (over ARGV max) to the dead list" (KEYS: recov, dead).
_LUA_LIB = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function count_recovery(items, recov, dead, deadkeys, member, max)
  local keep = {}
  for _, item in ipairs(items) do
    local n = redis.call('HINCRBY', recov, redis.sha1hex(item), 1)
    if n > max then
      redis.call('RPUSH', dead, item)
      redis.call('SADD', deadkeys, member)
      redis.call('HDEL', recov, redis.sha1hex(item))
    else
      keep[#keep + 1] = item
    end
  end
  redis.call('EXPIRE', recov, 7 * 24 * 3600)
  return keep
end
"""
# Take a batch into this task's in-flight list under a lease. A task that finds its own
# in-flight list (a redelivery after its worker died) resumes it, one recovery counted.
# KEYS: buf, inflight, sched, leases, recov, dead, deadkeys.
# ARGV: limit, ttl, lease member, lease ms, max recoveries, stage:key.
_DRAIN = (
    _LUA_LIB
    + """
local mine = redis.call('LRANGE', KEYS[2], 0, -1)
if #mine > 0 then
  local keep = count_recovery(mine, KEYS[5], KEYS[6], KEYS[7], ARGV[6], tonumber(ARGV[5]))
  redis.call('DEL', KEYS[2])
  if #keep > 0 then
    redis.call('RPUSH', KEYS[2], unpack(keep))
    redis.call('ZADD', KEYS[4], now_ms() + tonumber(ARGV[4]), ARGV[3])
  else
    redis.call('ZREM', KEYS[4], ARGV[3])
  end
  return keep
end
redis.call('DEL', KEYS[3])
local items = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #items > 0 then
  -- Copy before trimming: a Redis out of memory refuses the RPUSH and the items stay put.
  redis.call('RPUSH', KEYS[2], unpack(items))
  redis.call('LTRIM', KEYS[1], #items, -1)
  redis.call('EXPIRE', KEYS[2], ARGV[2])
  redis.call('ZADD', KEYS[4], now_ms() + tonumber(ARGV[4]), ARGV[3])
end
return items
"""
)
# Give an in-flight list back to the front of its buffer (ARGV[1] = 1: count a recovery, or
# 0 for an infrastructure error, which never uses up attempts). With ARGV[4] = 1 only when its
# lease has expired (the sweep; the task may have renewed it meanwhile). Returns
# {requeued, dead}. KEYS: buf, inflight, leases, recov, dead, deadkeys, active.
_RELEASE = (
    _LUA_LIB
    + """
if ARGV[4] == '1' then
  local score = redis.call('ZSCORE', KEYS[3], ARGV[2])
  if score and tonumber(score) > now_ms() then return {0, 0} end
end
local items = redis.call('LRANGE', KEYS[2], 0, -1)
local before = redis.call('LLEN', KEYS[5])
if ARGV[1] == '1' then items = count_recovery(items, KEYS[4], KEYS[5], KEYS[6], ARGV[5], tonumber(ARGV[3])) end
-- Back into the buffer before the in-flight list goes (a refused write loses nothing).
if #items > 0 then
  local reversed = {}
  for i = #items, 1, -1 do reversed[#reversed + 1] = items[i] end
  redis.call('LPUSH', KEYS[1], unpack(reversed))
  redis.call('SADD', KEYS[7], ARGV[5])
end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[2])
return {#items, redis.call('LLEN', KEYS[5]) - before}
"""
)
_RENEW = (
    _LUA_LIB
    + """
return redis.call('ZADD', KEYS[1], 'XX', now_ms() + tonumber(ARGV[2]), ARGV[1])
"""
)
# Done: forget the in-flight list, its lease and any recovery counts of its items.
# KEYS: inflight, leases, recov, buf. ARGV: lease member. Returns the buffer's backlog.
_DONE = """
if redis.call('HLEN', KEYS[3]) > 0 then
  for _, item in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
    redis.call('HDEL', KEYS[3], redis.sha1hex(item))
  end
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('LLEN', KEYS[4])
"""
# Which of ARGV (messageIds) are members of any of KEYS (the hourly delivered sets).
_SEEN = """
local hits = {}
for i = 1, #ARGV do hits[i] = 0 end
for _, key in ipairs(KEYS) do
  local found = redis.call('SMISMEMBER', key, unpack(ARGV))
  for i = 1, #ARGV do if found[i] == 1 then hits[i] = 1 end end
end
return hits
"""
log = logging.getLogger(__name__)
# Claim each messageId for one delivery: 0 = delivered already (in a window set), 1 = claimed
# by ARGV[1] (free, or already this token's), 2 = held by another token. ARGV: token, ttl ms,
# claim key prefix, messageIds. KEYS: the hourly delivered sets.
_CLAIM = """
local n = #ARGV - 3
local out = {}
for i = 1, n do out[i] = 1 end
-- One SMISMEMBER per window set for the whole batch (not one SISMEMBER per id and set).
for _, key in ipairs(KEYS) do
  local found = redis.call('SMISMEMBER', key, unpack(ARGV, 4))
  for i = 1, n do if found[i] == 1 then out[i] = 0 end end
end
for i = 1, n do
  if out[i] == 1 then
    local ckey = ARGV[3] .. ARGV[i + 3]
    local holder = redis.call('GET', ckey)
    if holder and holder ~= ARGV[1] then
      out[i] = 2
    else
      redis.call('SET', ckey, ARGV[1], 'PX', ARGV[2])
    end
  end
end
return out
"""
# Let go of the claims (KEYS) that ARGV[1] still holds; a claim another task took since stays.
_UNCLAIM = """
local n = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('DEL', key)
    n = n + 1
  end
end
return n
"""
_clients: dict[str, redis.Redis] = {}
_scripts: dict[int, dict] = {}
_lock = threading.Lock()


def buffered() -> bool:
    """True when stages hand work over through Redis lists (a real broker and Redis)."""
    return bool(settings.PIPELINE_REDIS_URL) and not celery_app.conf.task_always_eager


def client() -> redis.Redis:
    """This process's Redis client for PIPELINE_REDIS_URL (thread-safe, pooled)."""
    url = settings.PIPELINE_REDIS_URL
    with _lock:
        if url not in _clients:
            _clients[url] = redis.Redis.from_url(url, socket_timeout=5, health_check_interval=30)
        return _clients[url]


def _script(source: str):
    """A registered Lua script (EVALSHA, falling back to EVAL once per Redis restart)."""
    r = client()
    with _lock:
        scripts = _scripts.setdefault(id(r), {})
        if source not in scripts:
            scripts[source] = r.register_script(source)
        return scripts[source]


def _prefix() -> str:
    # Separate prefixes let several stacks (e.g. parallel test runs) share one Redis database.
    return settings.PIPELINE_KEY_PREFIX


def _active() -> str:
    return f"{_prefix()}:active"


def _keys(stage: str, key: str) -> tuple[str, str]:
    return f"{_prefix()}:buf:{stage}:{key}", f"{_prefix()}:sched:{stage}:{key}"


MEMORY_CHECK_S = 1.0
_COMPACT = json.JSONEncoder(separators=(",", ":"))  # one encoder, not one per json.dumps call
_memory_seen = {"until": 0.0, "full": False}


def memory_full() -> bool:
    """True when Redis is past PIPELINE_REDIS_MEMORY_HIGH of its maxmemory: ingest then answers
    503, keeping the rest for workers to drain (their writes need room too)."""
    now = time.monotonic()
    if now >= _memory_seen["until"]:
        info = client().info("memory")
        limit = int(info.get("maxmemory") or 0)
        used = int(info.get("used_memory") or 0)
        high = limit * settings.PIPELINE_REDIS_MEMORY_HIGH
        # A reading lasts a second (INFO per request cost more than the push); close to the
        # mark a tenth of one, so ingest overshoots it by little.
        _memory_seen.update(
            until=now + (MEMORY_CHECK_S if not limit or used < high * 0.8 else MEMORY_CHECK_S / 10),
            full=bool(limit) and used >= high,
        )
    return _memory_seen["full"]


def buffer_push(stage: str, key: str, items: list, *, batch: int) -> int:
    """Append JSON items; returns 2 (flush now), 1 (schedule a delayed flush) or 0."""
    buf, sched = _keys(stage, key)
    wait_ms = max(1, int(settings.PIPELINE_FLUSH_WAIT_S * 1000))
    # The flag outlives the flush delay so one window schedules one flush; the sweeper
    # covers a flag whose flush was lost.
    encoded = [_COMPACT.encode(i) for i in items]
    return int(
        _script(_PUSH)(keys=[buf, sched, _active()], args=[batch, wait_ms * 5, f"{stage}:{key}", *encoded])
    )


def _lease_member(stage: str, key: str, task_id: str) -> str:
    return f"{stage}:{key}:{task_id}"


def _recovery_keys(stage: str, key: str) -> list[str]:
    """recov (hash of item sha1 -> recoveries), dead (items over the limit), deadkeys (set)."""
    return [f"{_prefix()}:recov:{stage}:{key}", f"{_prefix()}:dead:{stage}:{key}", f"{_prefix()}:deadkeys"]


def _lease_ms() -> int:
    return int(settings.PIPELINE_INFLIGHT_LEASE_S * 1000)


def buffer_drain(stage: str, key: str, task_id: str, *, limit: int) -> list:
    """Move up to `limit` items into this task's in-flight list (leased) and return them.

    A task redelivered after its worker died gets its own in-flight items back, minus those
    recovered more than PIPELINE_INFLIGHT_MAX_ATTEMPTS times (moved to the dead list).
    """
    buf, sched = _keys(stage, key)
    raw = _script(_DRAIN)(
        keys=[buf, _inflight(stage, key, task_id), sched, _leases(), *_recovery_keys(stage, key)],
        args=[
            limit,
            INFLIGHT_TTL_S,
            _lease_member(stage, key, task_id),
            _lease_ms(),
            settings.PIPELINE_INFLIGHT_MAX_ATTEMPTS,
            f"{stage}:{key}",
        ],
    )
    return [json.loads(r) for r in raw]


def buffer_done(stage: str, key: str, task_id: str) -> int:
    """Forget this task's in-flight items (they are delivered or handed on); returns backlog."""
    return int(
        _script(_DONE)(
            keys=[
                _inflight(stage, key, task_id),
                _leases(),
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
    recov, dead, deadkeys = _recovery_keys(stage, key)
    requeued, died = _script(_RELEASE)(
        keys=[buf, _inflight(stage, key, task_id), _leases(), recov, dead, deadkeys, _active()],
        args=[
            1 if count else 0,
            _lease_member(stage, key, task_id),
            settings.PIPELINE_INFLIGHT_MAX_ATTEMPTS,
            1 if only_expired else 0,
            f"{stage}:{key}",
        ],
    )
    return int(requeued), int(died)


def lease_renew(stage: str, key: str, task_id: str) -> None:
    """Push the in-flight list's lease forward (the task is alive and working on it)."""
    _script(_RENEW)(keys=[_leases()], args=[_lease_member(stage, key, task_id), _lease_ms()])


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

    def hold(self, stage: str, key: str, task_id: str) -> int:
        entry = [stage, key, task_id, time.monotonic() + settings.PIPELINE_INFLIGHT_LEASE_S / 3]
        with self.lock:
            self.held[id(entry)] = entry
            if self.thread is None or not self.thread.is_alive() or self.pid != os.getpid():
                self.pid = os.getpid()
                self.thread = threading.Thread(target=self._run, name="inflight-lease", daemon=True)
                self.thread.start()
        self.wake.set()  # the thread recomputes its sleep (a shorter lease may be due first)
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


def leases_expired(limit: int = 200) -> list[tuple[str, str, str]]:
    """(stage, key, task_id) of in-flight lists whose lease ran out: their task is gone."""
    seconds, micros = client().time()  # Redis's clock, the one the leases were written with
    members = client().zrangebyscore(_leases(), "-inf", seconds * 1000 + micros // 1000, start=0, num=limit)
    return [tuple(m.decode().split(":", 2)) for m in members]


def dead_keys() -> list[tuple[str, str]]:
    """(stage, key) of dead lists holding items that exhausted their recoveries."""
    return [tuple(m.decode().split(":", 1)) for m in client().smembers(f"{_prefix()}:deadkeys")]


def dead_take(stage: str, key: str, *, limit: int = 500) -> list[str]:
    """The first `limit` raw items of a dead list (removed later with `dead_forget`)."""
    return [r.decode() for r in client().lrange(_recovery_keys(stage, key)[1], 0, limit - 1)]


def dead_forget(stage: str, key: str, count: int) -> None:
    """Drop the first `count` items of a dead list (they are in the dead-letter table now)."""
    r = client()
    dead = _recovery_keys(stage, key)[1]
    r.ltrim(dead, count, -1)
    if r.llen(dead) == 0:
        r.srem(f"{_prefix()}:deadkeys", f"{stage}:{key}")


def _inflight(stage: str, key: str, task_id: str) -> str:
    return f"{_prefix()}:inflight:{stage}:{key}:{task_id}"


def _leases() -> str:
    return f"{_prefix()}:leases"


def buffers_waiting() -> list[tuple[str, str]]:
    """(stage, key) of every buffer holding items with no flush scheduled (for the sweeper)."""
    r = client()
    out = []
    for member in r.smembers(_active()):
        stage, key = member.decode().split(":", 1)
        buf, sched = _keys(stage, key)
        if r.llen(buf) == 0:
            r.srem(_active(), member)
        elif not r.exists(sched):
            out.append((stage, key))
    return out


# --- duplicate suppression: messageIds delivered to an instance within the window ----------
# Redis: one set per instance and hour, so a check is one script over ~25 sets and a mark is
# one SADD, whatever the batch size.


def _dedupe_keys(instance_key: str) -> list[str]:
    """Hourly Redis sets covering the dedupe window (newest last)."""
    hours = max(1, -(-settings.PIPELINE_DEDUPE_TTL_S // 3600))
    now = int(time.time() // 3600)
    return [f"{_prefix()}:dlv:{instance_key}:{h}" for h in range(now - hours, now + 1)]


def delivery_claim(
    instance_key: str, instance_pk: int, message_ids: list[str], token: str
) -> tuple[set, set]:
    """Claim messageIds for delivery to this instance by `token` (a task id), atomically.

    Returns (claimed, busy): `claimed` may be delivered now (not delivered within the window,
    not held by another task, or held by this same token, as after a redelivery); `busy` are
    held by another live task. The rest were delivered already. A claim expires after
    PIPELINE_CLAIM_TTL_S, so a crashed holder delays its messages, never loses them.
    Embedded mode (no Redis) checks the DeliveredMessage table instead (one process).
    """
    if not message_ids:
        return set(), set()
    if not buffered():
        seen = delivered_filter(instance_key, instance_pk, message_ids)
        return {m for m in message_ids if m not in seen}, set()
    keys = _dedupe_keys(instance_key)
    ttl_ms = int(settings.PIPELINE_CLAIM_TTL_S * 1000)
    states = _script(_CLAIM)(
        keys=keys, args=[token, ttl_ms, f"{_prefix()}:claim:{instance_key}:", *message_ids]
    )
    claimed = {m for m, s in zip(message_ids, states, strict=True) if s == 1}
    busy = {m for m, s in zip(message_ids, states, strict=True) if s == 2}
    return claimed, busy


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


def claims_release(instance_key: str, message_ids: list[str], token: str) -> int:
    """Drop the claims `token` still holds on these messageIds of one instance (its batch went
    back to the buffer: whichever task takes it next must not wait PIPELINE_CLAIM_TTL_S for
    them to lapse). Claims another task holds are left alone. Returns how many went."""
    if not message_ids or not buffered():
        return 0
    prefix = f"{_prefix()}:claim:{instance_key}:"
    return int(_script(_UNCLAIM)(keys=[prefix + m for m in message_ids], args=[token]))


def delivery_settle(
    instance_key: str, instance_pk: int, *, delivered: list[str], released: list[str]
) -> None:
    """Mark `delivered` messageIds delivered and let go of every claim (both lists)."""
    if not buffered():
        delivered_mark(instance_key, instance_pk, delivered)
        return
    if not delivered and not released:
        return
    prefix = f"{_prefix()}:claim:{instance_key}:"
    pipe = client().pipeline(transaction=True)
    if delivered:
        key = _dedupe_keys(instance_key)[-1]
        pipe.sadd(key, *delivered)
        pipe.expire(key, settings.PIPELINE_DEDUPE_TTL_S + 3600)
    pipe.delete(*[prefix + m for m in (*delivered, *released)])
    pipe.execute()


def delivered_filter(instance_key: str, instance_pk: int, message_ids: list[str]) -> set[str]:
    """The subset of `message_ids` already delivered to this instance within the window."""
    if not message_ids:
        return set()
    if buffered():
        hits = client().eval(
            _SEEN, len(_dedupe_keys(instance_key)), *_dedupe_keys(instance_key), *message_ids
        )
        return {m for m, hit in zip(message_ids, hits, strict=True) if hit}
    since = timezone.now() - timezone.timedelta(seconds=settings.PIPELINE_DEDUPE_TTL_S)
    return set(
        DeliveredMessage.objects.filter(
            instance_id=instance_pk, message_id__in=message_ids, created_at__gte=since
        ).values_list("message_id", flat=True)
    )


def delivered_mark(instance_key: str, instance_pk: int, message_ids: list[str]) -> None:
    """Remember deliveries (after the fact: a crash in between means redelivery, not loss)."""
    if not message_ids:
        return
    if buffered():
        key = _dedupe_keys(instance_key)[-1]
        pipe = client().pipeline(transaction=False)
        pipe.sadd(key, *message_ids)
        pipe.expire(key, settings.PIPELINE_DEDUPE_TTL_S + 3600)
        pipe.execute()
        return
    DeliveredMessage.objects.filter(instance_id=instance_pk, message_id__in=message_ids).delete()
    DeliveredMessage.objects.bulk_create(
        [DeliveredMessage(instance_id=instance_pk, message_id=m) for m in message_ids],
        ignore_conflicts=True,
    )
