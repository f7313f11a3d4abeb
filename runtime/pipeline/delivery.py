"""Delivering a batch of events to one destination instance (after its insert functions)."""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone

from .. import metrics
from ..canary.split import canary_run
from ..choices import ErrorCategory, PipelineStage
from ..debugger.recorder import deliveries_record
from ..models import FunctionInstance
from . import dead_letters, dedupe, lookups, outcomes, queue, records, slots, store
from .invoke import Verdict, run_events
from .queue import QUEUE_ERRORS

log = logging.getLogger(__name__)
# Error log rows written per batch and instance: a failing batch of 400 must not write 400 rows.
MAX_ERROR_LOGS_PER_BATCH = 5


@dataclass
class Tally:
    """Counts and leftovers of one batch for one instance."""

    counts: dict = field(default_factory=lambda: dict.fromkeys(records.COUNTERS, 0))
    latencies: list = field(default_factory=list)
    errors: list = field(default_factory=list)  # (event, Verdict) final failures to log
    retry: list = field(default_factory=list)  # original events to try again
    retry_verdicts: list = field(default_factory=list)  # the Verdict of each `retry` entry
    dead: list = field(default_factory=list)  # (original event, Verdict) for the dead letters
    retry_after: float = 0.0  # the longest wait a RetryError asked for (Retry-After), seconds

    def add_failure(self, original: dict, verdict: Verdict) -> None:
        """Count a final error under its category's counter and keep it for the error log."""
        self.counts[outcomes.counter_of(verdict.category)] += 1
        self.errors.append((original, verdict))


def instance_for_delivery(instance_id: int) -> FunctionInstance | None:
    """The instance, if it exists, is enabled and has a deployed version."""
    return lookups.destination_instance(instance_id)


def batch_limit(instance_id: int) -> int:
    """How many buffered events one delivery round takes: the function's batch_max_count."""
    instance = instance_for_delivery(instance_id)
    return instance.function.batch_max_count if instance else 100


def delivery_flush(*, task_id: str, instance_id: int, retry: dict, come_back) -> None:
    """The body of a delivery task: deliver its events (or a buffer's) while holding a slot.

    Without a slot (the instance is slow and holds its share of the pool) nothing is taken:
    `come_back(seconds)` re-publishes this task for later; of the slot-less tasks draining
    the buffer only one per wait period does, the rest end (their events stay buffered).
    """
    instance = instance_for_delivery(instance_id)
    if instance is None or not store.buffered():
        _stage_run(task_id, instance_id, retry, lambda count: None)
        return
    if retry.get("retry_id") is None and queue.deferred(PipelineStage.DESTINATION, instance_id, retry):
        return  # a retry woke early: no slot needed
    slot = slots.acquire(instance, task_id)
    if slot is None:
        carries = retry.get("items") is not None or retry.get("retry_id") is not None
        if carries or slots.wait_claim(instance_id):
            come_back(settings.PIPELINE_SLOT_WAIT_S)
        else:
            # A task redelivered after its worker died may own an in-flight batch; ending
            # without it would strand the batch until its lease expires and a sweep finds it.
            # Its claims go with it, so the task that takes the batch need not wait for them.
            held = store.inflight_message_ids(PipelineStage.DESTINATION, str(instance_id), task_id)
            store.inflight_release(PipelineStage.DESTINATION, str(instance_id), task_id, count=False)
            dedupe.claims_release(dedupe_key(instance), held, task_id)
        return
    try:
        _stage_run(task_id, instance_id, retry, slot.round)
    finally:
        slot.release()


def _stage_run(task_id: str, instance_id: int, retry: dict, on_round) -> None:
    def handler(batch: list[dict], attempt: int, first_at: float | None) -> dict:
        on_round(len(batch))
        return deliver(
            instance_id=instance_id, events=batch, attempt=attempt, first_at=first_at, token=task_id
        )

    queue.stage_run(
        PipelineStage.DESTINATION,
        instance_id,
        task_id,
        retry,
        handler,
        limit=lambda: batch_limit(instance_id),
    )


def retry_after_s(error: dict | None) -> float:
    """The wait a RetryError asked for (`new RetryError(msg, {retryAfter})`), 0 when none."""
    value = (error or {}).get("retryAfter")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value)
    return 0.0


def deliver(
    *,
    instance_id: int,
    events: list[dict],
    attempt: int = 0,
    first_at: float | None = None,
    token: str | None = None,
) -> dict:
    """Run a batch through the instance's inserts and function; record, retry, dedupe.

    Each messageId is claimed for `token` (the task id) before the call, so concurrent tasks
    never both deliver it; one held by another task is tried again shortly. Returns the counts
    (for tests and logs). A disabled or deleted instance receives nothing.
    """
    instance = instance_for_delivery(instance_id)
    if instance is None:
        return {}
    first_at = first_at or time.time()
    token = token or uuid.uuid4().hex
    pending, busy = _fresh(instance, events, token)
    _busy_later(instance, busy, attempt, first_at)
    claimed = [e["messageId"] for e in pending]
    # Copies deferred for another task's claim are not duplicates (yet): the debugger skips them.
    seen = [e for e in events if all(e is not b for b in busy)]
    try:
        return _deliver_claimed(instance, seen, pending, attempt, first_at, claimed)
    except BaseException:
        with contextlib.suppress(*QUEUE_ERRORS):
            dedupe.delivery_settle(dedupe_key(instance), instance.pk, delivered=[], released=claimed)
        raise


def _deliver_claimed(
    instance, events, pending: list[dict], attempt: int, first_at: float, claimed: list
) -> dict:
    tally = Tally()
    pairs = _through_inserts(instance, [(e, e) for e in pending], tally, attempt)
    # A canary or a post-deploy watch chooses the version per event (docs/safe-change.md).
    verdicts = canary_run(instance, "destination", [current for _, current in pairs])
    delivered = []
    for (original, current), verdict in zip(pairs, verdicts, strict=True):
        if verdict.outcome == "ok":
            delivered.append(current)
        elif verdict.outcome == "retry":
            tally.retry.append(original)
            tally.retry_verdicts.append(verdict)
            tally.errors.append((original, verdict))
            tally.retry_after = max(tally.retry_after, retry_after_s(verdict.error))
        elif verdict.outcome == "drop":
            tally.counts["filtered"] += 1
        else:
            tally.add_failure(current, verdict)
            dead_letters.keep_if_final(tally.dead, original, verdict)
    done = [e["messageId"] for e in delivered]
    dedupe.delivery_settle(dedupe_key(instance), instance.pk, delivered=done, released=claimed)
    tally.counts["delivered"] = len(delivered)
    now = timezone.now()
    tally.latencies = [records.latency_ms(e, now) for e in delivered]
    _retry_or_give_up(instance, tally, attempt, first_at)
    _record(instance, tally, attempt)
    deliveries_record(  # the source debugger's per-event outcomes (best effort, never raises)
        instance=instance,
        events=events,
        pending=pending,
        pairs=pairs,
        verdicts=verdicts,
        tally=tally,
        attempt=attempt,
    )
    metrics.stage_observe("delivery", received=len(events), sent=len(delivered), events=delivered)
    return tally.counts


def dedupe_key(instance) -> str:
    # Per instance, not per version: a deploy, a canary or a rollback must not forget what was
    # delivered or claimed (the warm-isolate key changes with the version; these must not).
    return instance.public_id


def _fresh(instance, events: list[dict], token: str) -> tuple[list[dict], list[dict]]:
    """(claimed, busy): the batch without repeats or messageIds delivered within the window,
    and the events another task is delivering right now."""
    unique: dict[str, dict] = {}
    for event in events:
        event.setdefault("messageId", uuid.uuid4().hex)
        unique.setdefault(event["messageId"], event)
    claimed, busy = dedupe.delivery_claim(dedupe_key(instance), instance.pk, list(unique), token)
    return [e for m, e in unique.items() if m in claimed], [e for m, e in unique.items() if m in busy]


def _busy_later(instance, busy: list[dict], attempt: int, first_at: float) -> None:
    # Not a retry (nothing failed): when the holder delivers, the copy finds it delivered;
    # when the holder died, its claim expires and the copy delivers it.
    if busy:
        payload = {"items": busy, "attempt": attempt, "first_at": first_at}
        queue.retry_later(PipelineStage.DESTINATION, instance.pk, payload, settings.PIPELINE_CLAIM_WAIT_S)


def _through_inserts(instance, pairs: list[tuple], tally: Tally, attempt: int) -> list[tuple]:
    """Destination insert functions, in order; returns (original, transformed) survivors."""
    for insert in lookups.destination_inserts(instance):
        verdicts = run_events(insert, "insert_destination", [current for _, current in pairs])
        survivors, insert_tally = [], Tally()
        for (original, current), verdict in zip(pairs, verdicts, strict=True):
            if verdict.outcome == "ok":
                survivors.append((original, {**verdict.event, "messageId": original["messageId"]}))
            elif verdict.outcome == "drop":
                tally.counts["filtered"] += 1
                insert_tally.counts["filtered"] += 1
            elif verdict.outcome == "retry":
                tally.retry.append(original)
                tally.retry_verdicts.append(verdict)
                insert_tally.counts["retried"] += 1
            else:
                insert_tally.add_failure(current, verdict)
                dead_letters.keep_if_final(tally.dead, original, verdict)
        _record(insert, insert_tally, attempt)
        pairs = survivors
    return pairs


def _retry_or_give_up(instance, tally: Tally, attempt: int, first_at: float) -> None:
    if not tally.retry:
        tally.errors = [(e, v) for e, v in tally.errors if v.outcome != "retry"]
        return
    elapsed = time.time() - first_at
    delay = outcomes.delivery_retry_delay(attempt + 1, elapsed)
    if delay is not None and tally.retry_after > delay:
        # Retry-After is honoured within the retry window; a wait past it ends the retries.
        fits = elapsed + tally.retry_after <= settings.DELIVERY_RETRY_WINDOW_S
        delay = tally.retry_after if fits else None
    if delay is None:
        # The retry window is spent: the retryable errors become final failures.
        tally.counts["failed"] += len(tally.retry)
        tally.dead.extend(zip(tally.retry, tally.retry_verdicts, strict=True))
        return
    tally.counts["retried"] += len(tally.retry)
    tally.errors = [(e, v) for e, v in tally.errors if v.outcome != "retry"]
    payload = {"items": tally.retry, "attempt": attempt + 1, "first_at": first_at}
    queue.retry_later(PipelineStage.DESTINATION, instance.pk, payload, delay)


def _record(instance, tally: Tally, attempt: int) -> None:
    records.stat_add(instance.pk, latencies=tally.latencies, **tally.counts)
    dead_letters.dead_letters_keep(instance=instance, pairs=tally.dead, attempts=attempt + 1)
    metrics.delivery_observe(instance, tally.counts, tally.latencies)
    for event, verdict in tally.errors[:MAX_ERROR_LOGS_PER_BATCH]:
        records.error_log_record(
            instance=instance,
            category=verdict.category or ErrorCategory.BAD_REQUEST,
            error=verdict.error,
            input=event,
            result=verdict.result,
            attempts=attempt + 1,
        )
