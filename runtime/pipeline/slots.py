"""Delivery slots: a slow or hung destination holds few worker processes (docs/pipeline.md).

Every delivery task holds a slot of its destination instance while it runs: a member of a
Redis sorted set scored by when its current round started. An instance is *slow* once a round
took PIPELINE_SLOW_DELIVERY_S or more (a flag that lives PIPELINE_SLOW_FLAG_S), or while
slow-running rounds are already under way; a slow instance may hold at most
PIPELINE_SLOW_INSTANCE_SLOTS slots across all workers, so the other destinations keep the rest
of the pool. A fast instance is not limited. A task that finds no slot leaves its events where
they are and comes back after PIPELINE_SLOT_WAIT_S. A holder that dies is forgotten once its
round is older than the lease (the longest a round can take, from the function's timeout).

Keys share a Redis Cluster hash tag per instance ({prefix:dst:<id>}), so the scripts below
touch one slot of a cluster.
"""

from __future__ import annotations

import math
import time

from django.conf import settings

from . import lookups, store

# KEYS: holders, slow flag. ARGV: token, lease_s, slow_s, limit. Time is the server's, so
# workers on several hosts agree whatever their clocks say.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local lease = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - lease)
redis.call('ZREM', KEYS[1], ARGV[1])
local busy
if redis.call('EXISTS', KEYS[2]) == 1 then
  busy = redis.call('ZCARD', KEYS[1])
else
  busy = redis.call('ZCOUNT', KEYS[1], '-inf', now - tonumber(ARGV[3]))
end
if busy >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('EXPIRE', KEYS[1], math.ceil(lease) + 1)
return 1
"""
# A new round of the same holder: it counts as started now (and is not a dead holder).
_RENEW = """
local t = redis.call('TIME')
redis.call('ZADD', KEYS[1], 'XX', tonumber(t[1]) + tonumber(t[2]) / 1e6, ARGV[1])
return 1
"""
# ARGV: token, verdict (1 slow, 0 fast, -1 nothing learnt), flag lifetime in seconds.
_RELEASE = """
redis.call('ZREM', KEYS[1], ARGV[1])
if ARGV[2] == '1' then redis.call('SET', KEYS[2], '1', 'EX', ARGV[3])
elseif ARGV[2] == '0' then redis.call('DEL', KEYS[2]) end
return 1
"""


def _keys(instance_id: int) -> tuple[str, str, str]:
    tag = f"{{{settings.PIPELINE_KEY_PREFIX}:dst:{instance_id}}}"
    return f"{tag}:slots", f"{tag}:slow", f"{tag}:slotwait"


def lease_s(instance) -> float:
    """The longest one delivery round of `instance` can take: inserts and function, plus slack."""
    calls = 1 + len(lookups.destination_inserts(instance))
    return calls * instance.function.timeout_ms / 1000 + 10


class Slot:
    """A held slot of one instance; `round()` marks each delivery round, `release()` ends it."""

    def __init__(self, instance_id: int, token: str):
        self.keys = _keys(instance_id)
        self.token = token
        self.started = time.monotonic()
        self.slowest = 0.0
        self.handled = 0
        self.rounds = 0

    def round(self, count: int) -> None:
        """A new round of `count` events begins (renews the lease; the first round's started
        with `acquire`, which wrote the same score a moment ago)."""
        first = self.rounds == 0
        self._close_round()
        if not first:
            store.script(_RENEW)(keys=self.keys[:1], args=[self.token])
        self.rounds += 1
        self.handled += count

    def _close_round(self) -> None:
        now = time.monotonic()
        self.slowest = max(self.slowest, now - self.started)
        self.started = now

    def release(self) -> None:
        self._close_round()
        if self.slowest >= settings.PIPELINE_SLOW_DELIVERY_S:
            verdict = "1"
        else:
            verdict = "0" if self.handled else "-1"
        flag_s = max(1, math.ceil(settings.PIPELINE_SLOW_FLAG_S))
        store.script(_RELEASE)(keys=self.keys[:2], args=[self.token, verdict, flag_s])


def acquire(instance, token: str) -> Slot | None:
    """A slot of `instance` for the task `token`, or None while the instance is slow and full."""
    keys = _keys(instance.pk)
    args = [
        token,
        lease_s(instance),
        settings.PIPELINE_SLOW_DELIVERY_S,
        settings.PIPELINE_SLOW_INSTANCE_SLOTS,
    ]
    if not store.script(_ACQUIRE)(keys=keys[:2], args=args):
        return None
    return Slot(instance.pk, token)


def wait_claim(instance_id: int) -> bool:
    """True for one of the slot-less flush tasks of an instance per wait period (it comes back);
    the others end, so a full instance does not multiply its tasks."""
    wait_ms = max(1, int(settings.PIPELINE_SLOT_WAIT_S * 800))
    return bool(store.client().set(_keys(instance_id)[2], "1", nx=True, px=wait_ms))
