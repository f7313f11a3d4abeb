"""The stage queue: handing work from one stage to the next (enqueue, flush, retry later).

Each stage (runtime.choices.PipelineStage) has one flush task, looked up by its registered
name (FLUSH_TASKS; RuntimeConfig.ready imports runtime.tasks, which registers them), so the
pipeline never imports the tasks module that calls into it.
"""

from __future__ import annotations

import logging
import time

import redis
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import KombuError

from functions_platform.celery import app as celery_app

from ..choices import PipelineStage
from . import dead_letters, retries, store
from .errors import QueueUnavailable, is_infrastructure

__all__ = ["FLUSH_TASKS", "QueueUnavailable", "enqueue", "flush", "flush_schedule", "retry_later"]

log = logging.getLogger(__name__)
QUEUE_ERRORS = (redis.RedisError, KombuError, OSError)
PUBLISH = {"retry": True, "retry_policy": {"max_retries": 2, "interval_start": 0, "interval_step": 0.2}}
MAX_FLUSH_ROUNDS = 5
# The flush task of each stage, by its registered name (runtime/tasks.py names them from here).
FLUSH_TASKS = {
    PipelineStage.SOURCE: "runtime.source_flush",
    PipelineStage.ROUTE: "runtime.route_flush",
    PipelineStage.DESTINATION: "runtime.delivery_flush",
}


def _task(stage: str):
    return celery_app.tasks[FLUSH_TASKS[stage]]


def flush_schedule(stage: str, key, *, now: bool) -> None:
    """Publish a flush task; a failure is only logged because the sweeper retries it."""
    countdown = None if now else settings.PIPELINE_FLUSH_WAIT_S
    try:
        _task(stage).apply_async(args=[int(key)], countdown=countdown, **PUBLISH)
    except QUEUE_ERRORS:
        log.warning("could not schedule a %s flush for %s; the sweeper will", stage, key, exc_info=True)


def _max_countdown() -> float:
    # A Redis broker redelivers a task it has not seen acknowledged within the visibility
    # timeout, delayed (ETA) tasks included: long retry delays hop in shorter countdowns.
    # Live workers refresh the messages they hold (functions_platform.celery.UnackedHeartbeat),
    # so a hop need not be shorter than 5 minutes however short the timeout is.
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600)
    return max(300.0, visibility / 2)


def retry_later(stage: str, key: int, kwargs: dict, delay: float) -> None:
    """Try `kwargs["items"]` again after `delay` seconds (with its `attempt` and `first_at`).

    Buffered mode keeps the batch in a durable `PendingRetry` row and publishes a countdown
    task carrying only its id (the sweep republishes it if that message is lost). Without
    Redis (embedded mode) the task carries the items.
    """
    if store.buffered():
        row = retries.retry_schedule(
            stage=stage,
            key=key,
            items=kwargs["items"],
            attempt=kwargs.get("attempt", 1),
            first_at=kwargs.get("first_at"),
            delay=delay,
        )
        transaction.on_commit(lambda: retry_publish(row, countdown=delay))
        return
    kwargs = {**kwargs, "not_before": time.time() + delay}
    _task(stage).apply_async(args=[key], kwargs=kwargs, countdown=min(delay, _max_countdown()))


def retry_publish(row, *, countdown: float | None) -> bool:
    """Publish the task that runs a PendingRetry row; False (logged) when the broker refused."""
    countdown = None if countdown is None else min(max(0.0, countdown), _max_countdown())
    try:
        _task(row.stage).apply_async(
            args=[row.key], kwargs={"retry_id": row.pk}, countdown=countdown, **PUBLISH
        )
        return True
    except QUEUE_ERRORS:
        log.warning("could not publish retry %s; the sweep will", row.pk, exc_info=True)
        return False


def deferred(stage: str, key: int, kwargs: dict) -> bool:
    """True (and re-published) when a retry task carrying its items woke before its time.

    Eager (embedded) mode cannot wait: its retries run at once, up to the policy's limits.
    """
    if celery_app.conf.task_always_eager:
        return False
    remaining = (kwargs.get("not_before") or 0) - time.time()
    if remaining <= 0.5:
        return False
    kwargs = {k: v for k, v in kwargs.items() if k != "not_before"}
    _task(stage).apply_async(
        args=[key],
        kwargs={**kwargs, "not_before": time.time() + remaining},
        countdown=min(remaining, _max_countdown()),
    )
    return True


def enqueue(stage: str, key: int, items: list, *, batch: int) -> None:
    """Queue items for a stage: a Redis buffer (buffered mode) or tasks carrying the items."""
    try:
        if store.buffered():
            if store.memory_full():
                raise QueueUnavailable("the pipeline's Redis is nearly out of memory")
            decision = store.buffer_push(stage, str(key), items, batch=batch)
            if decision:
                flush_schedule(stage, key, now=decision == 2)
            return
        for start in range(0, len(items), batch):
            _task(stage).apply_async(args=[key], kwargs={"items": items[start : start + batch]}, **PUBLISH)
    except QUEUE_ERRORS as e:
        raise QueueUnavailable(str(e)) from e


def stage_run(stage: str, key: int, task_id: str, retry: dict, handler, *, limit) -> None:
    """The body of a flush task; `handler(items, attempt, first_at)` does the stage's work.

    A durable retry (`retry_id`) runs its row, a task carrying items runs them (a retry that
    woke early waits again), and otherwise the stage's buffer is drained in rounds of
    `limit()` items.
    """
    if retry.get("retry_id") is not None:
        _retry_run(stage, key, task_id, retry["retry_id"], handler)
        return
    if deferred(stage, key, retry):
        return
    if retry.get("items") is not None:
        handler(retry["items"], retry.get("attempt", 0), retry.get("first_at"))
        return
    flush(stage, key, task_id, lambda items: handler(items, 0, None), limit=limit())


def _retry_run(stage: str, key: int, task_id: str, retry_id: int, handler) -> None:
    row = retries.retry_claim(retry_id=retry_id, token=task_id)
    if row is None:
        return  # done already, or a live task holds it
    if row.failures > settings.PIPELINE_INFLIGHT_MAX_ATTEMPTS:
        _retry_dead(row, RuntimeError("its task stopped before finishing it (the worker died)"))
        return
    remaining = (row.due_at - timezone.now()).total_seconds()
    if remaining > 0.5:
        retries.retry_postpone(retry_id=row.pk)
        retry_publish(row, countdown=remaining)
        return
    try:
        handler(row.items, row.attempt, row.first_at)
    except BaseException as error:
        failures = retries.retry_unclaim(retry_id=row.pk, failed=not is_infrastructure(error))
        if failures > settings.PIPELINE_INFLIGHT_MAX_ATTEMPTS:
            row.failures = failures
            _retry_dead(row, error)
            return
        raise
    retries.retry_finish(retry_id=row.pk)


def _retry_dead(row, error: BaseException) -> None:
    message = f"the retry failed {row.failures} times, last: {type(error).__name__}: {error}"
    with transaction.atomic():
        dead_letters.items_dead(
            stage=row.stage,
            key=row.key,
            items=row.items,
            error={"type": type(error).__name__, "message": message},
            attempts=row.attempt,
        )
        retries.retry_finish(retry_id=row.pk)


def flush(stage: str, key: int, task_id: str, handler, *, limit: int) -> int:
    """Drain a buffer in rounds of `limit` items, handing each round to `handler(items)`."""
    handled = 0
    for _ in range(MAX_FLUSH_ROUNDS):
        items = store.buffer_drain(stage, str(key), task_id, limit=limit)
        if not items:
            return handled
        _run_leased(stage, key, task_id, handler, items)
        handled += len(items)
        if store.buffer_done(stage, str(key), task_id) == 0:
            return handled
    flush_schedule(stage, key, now=True)
    return handled


def _run_leased(stage: str, key: int, task_id: str, handler, items: list) -> None:
    """Run one drained batch while its lease is renewed; on any error give the batch back."""
    with store.lease_kept(stage, str(key), task_id):
        try:
            handler(items)
        except BaseException as error:
            _give_back(stage, key, task_id, error)
            raise


def _give_back(stage: str, key: int, task_id: str, error: BaseException) -> None:
    # An infrastructure error costs no attempt (the task retries); anything else counts one,
    # so a batch that fails every time ends in the dead letters, not in a loop.
    infra = is_infrastructure(error)
    try:
        store.inflight_release(stage, str(key), task_id, count=not infra)
    except QUEUE_ERRORS:
        log.warning("could not give back %s:%s; its lease will expire and the sweep will", stage, key)
        return
    if not infra:
        log.exception("a %s flush for %s failed; its batch is back in the buffer", stage, key)
        flush_schedule(stage, key, now=False)
