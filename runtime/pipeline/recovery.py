"""The periodic sweep: nothing accepted stays stuck where no task will look for it.

Run by `pipeline_sweep_task` (Celery beat, every PIPELINE_SWEEP_S):
1. in-flight lists whose lease expired (their task is gone: a killed worker, a lost message,
   a retry that could not be published) go back to the front of their buffer, one recovery
   counted against their items, and a flush is scheduled;
2. items over PIPELINE_INFLIGHT_MAX_ATTEMPTS recoveries become dead letters, counted failed;
3. buffers holding items with no flush on its way get one;
4. durable retries that are due and whose task message was lost are published again.
"""

from __future__ import annotations

import json
import logging

from django.db import transaction
from django.utils import timezone

from ..choices import PipelineStage
from ..models import FunctionInstance, PendingRetry
from . import dedupe, queue, retries, store
from .dead_letters import items_dead
from .queue import flush_schedule

log = logging.getLogger(__name__)
WORKER_LOST = {
    "type": "WorkerLost",
    "message": "the task running this item stopped before finishing it, more times than "
    "PIPELINE_INFLIGHT_MAX_ATTEMPTS allows (e.g. the item crashes its worker)",
}


def pipeline_sweep() -> dict:
    """One sweep; returns what it did (for logs and tests)."""
    out = {"recovered": 0, "dead": 0, "flushes": 0, "retries": 0}
    if store.buffered():
        out["recovered"] = _leases_recover()
        out["dead"] = dead_lists_collect()
        for stage, key in store.buffers_waiting():
            flush_schedule(stage, key, now=True)
            out["flushes"] += 1
    out["retries"] = retries_republish()
    return out


def _leases_recover() -> int:
    recovered = 0
    for stage, key, task_id in store.leases_expired():
        held = store.inflight_message_ids(stage, key, task_id) if stage == PipelineStage.DESTINATION else []
        requeued, died = store.inflight_release(stage, key, task_id, count=True, only_expired=True)
        if held and (requeued or died):
            claims_release(int(key), held, task_id)
        if requeued:
            log.warning("recovered %d items of %s:%s from lost task %s", requeued, stage, key, task_id)
            recovered += requeued
            flush_schedule(stage, key, now=True)
    return recovered


def claims_release(instance_id: int, message_ids: list[str], token: str) -> None:
    """Let go of the messageId claims a task that is gone held on its batch, so the task that
    takes the batch next delivers it now instead of after PIPELINE_CLAIM_TTL_S."""
    public_id = FunctionInstance.objects.filter(pk=instance_id).values_list("public_id", flat=True).first()
    if public_id is None:
        return
    try:
        dedupe.claims_release(public_id, message_ids, token)
    except store.redis.RedisError:
        log.warning("could not release the claims of lost task %s; they lapse on their own", token)


def dead_lists_collect() -> int:
    """Move items that exhausted their recoveries from Redis into the dead-letter table."""
    total = 0
    for stage, key in store.dead_keys():
        raw = store.dead_take(stage, key)
        if not raw:
            store.dead_forget(stage, key, 0)
            continue
        items = [json.loads(r) for r in raw]
        with transaction.atomic():
            items_dead(stage=stage, key=int(key), items=items, error=WORKER_LOST, attempts=None)
        store.dead_forget(stage, key, len(raw))
        total += len(raw)
    return total


def retries_republish() -> int:
    """Publish again the task of every due retry whose message seems lost."""
    count = 0
    for row in retries.retries_due_unheld():
        if queue.retry_publish(row, countdown=None):
            PendingRetry.objects.filter(pk=row.pk).update(published_at=timezone.now())
            count += 1
    if count:
        log.warning("republished %d retries whose task was lost", count)
    return count
