"""The function's own latency per instance and version, kept for an hour or two, so the watch
after a plain deploy can compare the new version's p95 with the old one's (the delivery
counters hold end-to-end latency, which queueing dominates).

Noted after every delivery batch that runs the deployed version (`split.canary_run`). In
buffered mode a process adds its batches up in memory and writes them at most once a second,
in one pipelined Redis call (a hash of histogram buckets per 10-minute slot, expiring after two
hours); embedded mode (one process) keeps them in memory. A figure that cannot be kept is
skipped: a delivery never fails over it.
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
FLUSH_S = 1.0
_local: dict[str, dict[str, int]] = {}
_pending: dict[str, dict[str, int]] = {}
_flushed_at = 0.0
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
    global _flushed_at
    with _lock:
        _add(_pending.setdefault(key, {}), histogram)
        if time.monotonic() - _flushed_at < FLUSH_S:
            return
        batch, _flushed_at = dict(_pending), time.monotonic()
        _pending.clear()
    flush(batch)


def flush(batch: dict[str, dict[str, int]] | None = None) -> None:
    """Write the added-up histograms to Redis (default: this process's pending ones)."""
    if batch is None:
        with _lock:
            batch = dict(_pending)
            _pending.clear()
    if not batch:
        return
    try:
        pipe = store.client().pipeline(transaction=False)
        for key, histogram in batch.items():
            for label, count in histogram.items():
                pipe.hincrby(key, label, count)
            pipe.expire(key, KEEP_S)
        pipe.execute()
    except (redis.RedisError, OSError):
        log.warning("could not keep %d latency figures", len(batch), exc_info=True)


def _add(row: dict[str, int], histogram: dict[str, int]) -> None:
    for label, count in histogram.items():
        row[label] = row.get(label, 0) + count


def _note_local(key: str, histogram: dict[str, int]) -> None:
    oldest = int(time.time() // SLOT_S) - KEEP_S // SLOT_S
    with _lock:
        if len(_local) > 10_000:  # slots of instances long gone
            for stale in [k for k in _local if int(k.rsplit(":", 1)[1]) < oldest]:
                del _local[stale]
        _add(_local.setdefault(key, {}), histogram)


def histogram_between(*, instance_id: int, version_id: int, since: float, until: float) -> dict[str, int]:
    """The version's latency histogram on the instance over the slots overlapping [since, until)."""
    keys = [
        _key(instance_id, version_id, slot) for slot in range(int(since // SLOT_S), int(until // SLOT_S) + 1)
    ]
    if not store.buffered():
        with _lock:
            rows = [dict(_local.get(key, {})) for key in keys]
    else:
        flush()  # this process's latest batches count too
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
