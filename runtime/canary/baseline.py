"""The function's own latency per instance and version, kept for an hour or two, so the watch
after a plain deploy can compare the new version's p95 with the old one's (the delivery
counters hold end-to-end latency, which queueing dominates).

Noted after every delivery batch that runs the deployed version (`split.canary_run`): one
pipelined Redis call per batch in buffered mode (a hash of histogram buckets per 10-minute
slot, expiring after two hours), a process-local dict in embedded mode (one process). A figure
that cannot be kept is skipped: a delivery never fails over it.
"""

from __future__ import annotations

import logging
import threading
import time

import redis
from django.conf import settings

from ..pipeline import store

log = logging.getLogger(__name__)

SLOT_S = 600
KEEP_S = 2 * 3600
_local: dict[str, dict[str, int]] = {}
_lock = threading.Lock()


def _key(instance_id: int, version_id: int, slot: int) -> str:
    return f"{settings.PIPELINE_KEY_PREFIX}:fnlat:{instance_id}:{version_id}:{slot}"


def note(*, instance_id: int, version_id: int, histogram: dict[str, int]) -> None:
    """Add one batch's latency histogram (bucket label -> count) to the current slot."""
    if not histogram:
        return
    key = _key(instance_id, version_id, int(time.time() // SLOT_S))
    if not store.buffered():
        _note_local(key, histogram)
        return
    try:
        pipe = store.client().pipeline(transaction=False)
        for label, count in histogram.items():
            pipe.hincrby(key, label, count)
        pipe.expire(key, KEEP_S)
        pipe.execute()
    except (redis.RedisError, OSError):
        log.warning("could not keep the latency of instance %s", instance_id, exc_info=True)


def _note_local(key: str, histogram: dict[str, int]) -> None:
    oldest = int(time.time() // SLOT_S) - KEEP_S // SLOT_S
    with _lock:
        if len(_local) > 10_000:  # slots of instances long gone
            for stale in [k for k in _local if int(k.rsplit(":", 1)[1]) < oldest]:
                del _local[stale]
        row = _local.setdefault(key, {})
        for label, count in histogram.items():
            row[label] = row.get(label, 0) + count


def histogram_between(*, instance_id: int, version_id: int, since: float, until: float) -> dict[str, int]:
    """The version's latency histogram on the instance over the slots overlapping [since, until)."""
    keys = [
        _key(instance_id, version_id, slot) for slot in range(int(since // SLOT_S), int(until // SLOT_S) + 1)
    ]
    if not store.buffered():
        with _lock:
            rows = [dict(_local.get(key, {})) for key in keys]
    else:
        try:
            pipe = store.client().pipeline(transaction=False)
            for key in keys:
                pipe.hgetall(key)
            rows = [{k.decode(): int(v) for k, v in row.items()} for row in pipe.execute()]
        except (redis.RedisError, OSError):
            log.warning("could not read the latency of instance %s", instance_id, exc_info=True)
            return {}
    merged: dict[str, int] = {}
    for row in rows:
        for label, count in row.items():
            merged[label] = merged.get(label, 0) + count
    return merged
