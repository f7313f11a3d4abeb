"""Where the pipeline keeps work between stages: Redis lists (micro-batching) and dedupe marks.

Buffered mode (Redis configured and Celery not eager): each stage appends items to a Redis
list per key and schedules one flush task, which drains many items at once. Draining moves
the items into a per-task "in-flight" list in one atomic script, and the task deletes that
list only when it is done, so a worker killed mid-batch leaves its items where the redelivered
task (same task id, acks_late) finds them again. Without Redis everything runs inline.
"""

from __future__ import annotations

import json
import threading
import time

import redis
from django.conf import settings
from django.utils import timezone

from functions_platform.celery import app as celery_app

from ..models import DeliveredMessage

INFLIGHT_TTL_S = 7 * 24 * 3600
# Append, then say whether to flush now (2: this push filled another whole batch), later (1:
# first item of a wait window) or not at all (0: a flush is already on its way). Only batch
# boundaries publish, so a backlog never turns every push into one more task.
_PUSH = """
local before = redis.call('LLEN', KEYS[1])
local after = redis.call('RPUSH', KEYS[1], unpack(ARGV, 4))
redis.call('SADD', KEYS[3], ARGV[3])
local batch = tonumber(ARGV[1])
if math.floor(after / batch) > math.floor(before / batch) then return 2 end
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[2]) then return 1 end
return 0
"""
# A redelivered task first finishes its own in-flight items; otherwise take up to ARGV[1].
_DRAIN = """
local mine = redis.call('LRANGE', KEYS[2], 0, -1)
if #mine > 0 then return mine end
redis.call('DEL', KEYS[3])
local items = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #items > 0 then
  redis.call('LTRIM', KEYS[1], #items, -1)
  redis.call('RPUSH', KEYS[2], unpack(items))
  redis.call('EXPIRE', KEYS[2], ARGV[2])
end
return items
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


def buffer_push(stage: str, key: str, items: list, *, batch: int) -> int:
    """Append JSON items; returns 2 (flush now), 1 (schedule a delayed flush) or 0."""
    buf, sched = _keys(stage, key)
    wait_ms = max(1, int(settings.PIPELINE_FLUSH_WAIT_S * 1000))
    # The flag outlives the flush delay so one window schedules one flush; the sweeper
    # covers a flag whose flush was lost.
    encoded = [json.dumps(i, separators=(",", ":")) for i in items]
    return int(
        _script(_PUSH)(keys=[buf, sched, _active()], args=[batch, wait_ms * 5, f"{stage}:{key}", *encoded])
    )


def buffer_drain(stage: str, key: str, task_id: str, *, limit: int) -> list:
    """Move up to `limit` items into this task's in-flight list and return them decoded."""
    buf, sched = _keys(stage, key)
    raw = _script(_DRAIN)(keys=[buf, _inflight(stage, key, task_id), sched], args=[limit, INFLIGHT_TTL_S])
    return [json.loads(r) for r in raw]


def buffer_done(stage: str, key: str, task_id: str) -> int:
    """Forget this task's in-flight items (they are delivered or handed on); returns backlog."""
    pipe = client().pipeline(transaction=False)
    pipe.delete(_inflight(stage, key, task_id))
    pipe.llen(_keys(stage, key)[0])
    return int(pipe.execute()[1])


def _inflight(stage: str, key: str, task_id: str) -> str:
    return f"{_prefix()}:inflight:{stage}:{key}:{task_id}"


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
