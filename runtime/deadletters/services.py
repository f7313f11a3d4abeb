"""Bulk replay of dead letters through the instance's current version (a Celery task).

A replay fixes the dead letters it covers when it is requested, then a task hands them back
to the stage they failed in, in batches of the function's batch_max_count: a destination's
events to the pipeline's delivery (its insert functions and the function, as a live delivery,
their messageIds unchanged; only deliveries mark a messageId, so an event that failed before
is not taken for a duplicate), a source function's webhook requests to the source function, a
source insert function's messages to the source's insert functions and routing. The items go
back as they were kept (the source's write key added back).
"""

from __future__ import annotations

import time
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from catalog.choices import ResourceType
from functions_platform.celery import app as celery_app
from workspaces.choices import AuditAction
from workspaces.services import audit_record

from ..choices import PipelineStage, ReplayStatus
from ..models import DeadLetter, DeadLetterReplay, FunctionInstance, PendingRetry
from ..pipeline import dedupe, delivery, sources
from .selectors import dead_letters_for, filters_display

# A task runs batches for this long, then hands the rest to a successor task: a broker
# redelivers a task not acknowledged within its visibility timeout.
TASK_BUDGET_S = 60.0
# A RUNNING replay whose heartbeat is older than this has lost its task; another may take it.
LEASE = timedelta(minutes=5)
FAILED_COUNTERS = ("failed", "rejected", "unsupported")


@transaction.atomic
def dead_letters_replay_request(
    *, instance: FunctionInstance, requested_by, filters: dict, ids: list[int] | None = None
) -> DeadLetterReplay:
    """Replay the instance's dead letters of its stage (`replay_stage`) matching `filters`
    (selector arguments: since, until, category, version), and among `ids` when given (the
    admin's selection), oldest first, through the version it runs now.

    Raises ValidationError when the instance is disabled or not deployed, or a replay of it is
    already under way. The task is published after commit.
    """
    instance = FunctionInstance.objects.select_for_update().get(pk=instance.pk)
    if not FunctionInstance.objects.running().filter(pk=instance.pk).exists():
        raise ValidationError({"instance": "The instance is disabled or has no deployed version."})
    if DeadLetterReplay.objects.filter(instance=instance, status__in=_ACTIVE).exists():
        raise ValidationError({"instance": "A replay of this instance's dead letters is already under way."})
    matching = dead_letters_for(instance=instance, **filters).filter(stage=replay_stage(instance))
    if ids is not None:
        matching = matching.filter(pk__in=ids)
    ids = list(
        matching.order_by("created_at", "id").values_list("pk", flat=True)[
            : settings.PIPELINE_DEAD_LETTER_KEEP
        ]
    )
    replay = DeadLetterReplay(
        instance=instance,
        filters=filters_display(filters),
        dead_letter_ids=ids,
        total=len(ids),
        version_id=instance.deployed_version_id,
        requested_by=requested_by if getattr(requested_by, "pk", None) else None,
    )
    replay.full_clean(exclude=["instance", "version", "requested_by"])
    replay.save()
    _audit_request(replay, requested_by)
    transaction.on_commit(lambda: replay_publish(replay.pk))
    return replay


_ACTIVE = (ReplayStatus.PENDING, ReplayStatus.RUNNING)


def _audit_request(replay: DeadLetterReplay, requested_by) -> None:
    # A replay sends real events to the destination again: who asked, for what, is kept.
    instance = FunctionInstance.objects.select_related("function__workspace", "deployed_version").get(
        pk=replay.instance_id
    )
    audit_record(
        workspace=instance.function.workspace,
        actor=requested_by,
        action=AuditAction.DEAD_LETTERS_REPLAYED,
        obj=instance,
        version_id=instance.deployed_version.public_id,
        data={"replay": replay.pk, "filters": replay.filters, "total": replay.total},
    )


def replay_publish(replay_id: int) -> None:
    """Publish the task that runs (or continues) a replay."""
    # By its registered name: the task module calls this one.
    celery_app.tasks["runtime.dead_letters_replay"].delay(replay_id)


def dead_letters_replay_run(*, replay_id: int, runner: str = "") -> DeadLetterReplay | None:
    """Run a replay's remaining batches for up to TASK_BUDGET_S, then publish a successor.

    `runner` is the task's id. Safe to run twice: a finished replay, or one another task is
    running (its recent heartbeat), is left alone; a redelivered or retried task resumes at
    `processed`.
    """
    replay = _claim(replay_id, runner)
    if replay is None:
        return None
    started = time.monotonic()
    while replay.processed < replay.total:
        if time.monotonic() - started > TASK_BUDGET_S:
            replay.status, replay.runner = ReplayStatus.PENDING, ""  # the successor's to claim
            replay.save(update_fields=["status", "runner"])
            replay_publish(replay.pk)
            return replay
        instance = delivery.instance_for_delivery(replay.instance_id)
        if instance is None:
            return _finish(
                replay, ReplayStatus.FAILED, "The instance was disabled or undeployed during the replay."
            )
        chunk = replay.dead_letter_ids[
            replay.processed : replay.processed + instance.function.batch_max_count
        ]
        replay = _progress(replay, len(chunk), _replay_batch(instance, chunk))
    return _finish(replay, ReplayStatus.SUCCEEDED)


@transaction.atomic
def _claim(replay_id: int, runner: str) -> DeadLetterReplay | None:
    replay = DeadLetterReplay.objects.select_for_update().filter(pk=replay_id).first()
    if replay is None or replay.status in (ReplayStatus.SUCCEEDED, ReplayStatus.FAILED):
        return None
    now = timezone.now()
    held = replay.status == ReplayStatus.RUNNING and replay.heartbeat_at and now - replay.heartbeat_at < LEASE
    if held and replay.runner != runner:
        return None
    replay.status, replay.heartbeat_at, replay.runner = ReplayStatus.RUNNING, now, runner
    replay.started_at = replay.started_at or now
    replay.save(update_fields=["status", "heartbeat_at", "runner", "started_at"])
    return replay


def replay_stage(instance: FunctionInstance) -> str:
    """The stage whose dead letters an instance keeps and a replay hands back: a source
    function's webhook requests (src), a source insert function's messages (route), else
    destination events (dst)."""
    return {
        ResourceType.SOURCE: PipelineStage.SOURCE,
        ResourceType.INSERT_SOURCE: PipelineStage.ROUTE,
    }.get(instance.function.resource_type, PipelineStage.DESTINATION)


def _replay_batch(instance: FunctionInstance, ids: list[int]) -> dict:
    """Replay one batch of dead letters; they leave the list (failures come back as new ones)."""
    stage = replay_stage(instance)
    rows = list(DeadLetter.objects.filter(pk__in=ids, instance=instance, stage=stage))
    if stage != PipelineStage.DESTINATION:
        return _upstream_batch(instance, stage, rows)
    write_key = instance.source.write_key
    events = [{**row.event, "writeKey": write_key} for row in rows if isinstance(row.event, dict)]
    events = [e for e in events if e.get("messageId")]
    outcome = dict.fromkeys(("delivered", "failed", "retrying", "filtered"), 0)
    outcome["failed"] = len(rows) - len(events)  # not replayable: kept in the list
    if not events:
        return {**outcome, "remove": []}
    counts = delivery.deliver(instance_id=instance.pk, events=events)
    message_ids = [e["messageId"] for e in events]
    delivered = dedupe.delivered_filter(delivery.dedupe_key(instance), instance.pk, message_ids)
    outcome["delivered"] = sum(1 for m in message_ids if m in delivered)
    outcome["failed"] += sum(counts.get(name, 0) for name in FAILED_COUNTERS)
    outcome["retrying"] = counts.get("retried", 0)
    outcome["filtered"] = counts.get("filtered", 0)
    replayed = {e["messageId"] for e in events}
    return {
        **outcome,
        "remove": [
            row.pk for row in rows if row.message_id in replayed or row.event.get("messageId") in replayed
        ],
    }


def _upstream_batch(instance: FunctionInstance, stage: str, rows: list[DeadLetter]) -> dict:
    """Hand src or route dead letters back to their stage, run by the versions deployed now: a
    source function's requests run it again (its events are routed), a source insert's
    messages run the source's insert functions again, then routing. What fails again comes
    back as a new dead letter (counted failed), what asks for a retry waits in the retry
    schedule (retrying), the rest passed the stage (delivered: its destinations count theirs)."""
    replayable = [row for row in rows if isinstance(row.event, dict) and row.message_id]
    items = [row.event for row in replayable]
    replayed = {row.message_id for row in replayable}
    outcome = dict.fromkeys(("delivered", "failed", "retrying", "filtered"), 0)
    outcome["failed"] = len(rows) - len(items)  # not replayable: kept in the list
    if not items:
        return {**outcome, "remove": []}
    dead_mark = DeadLetter.objects.aggregate(last=Max("pk"))["last"] or 0
    retry_mark = PendingRetry.objects.aggregate(last=Max("pk"))["last"] or 0
    if stage == PipelineStage.SOURCE:
        sources.source_run(instance_id=instance.pk, requests=items)
        key = instance.pk
    else:
        write_key = instance.source.write_key
        sources.messages_route(
            source_id=instance.source_id, messages=[{**i, "writeKey": write_key} for i in items]
        )
        key = instance.source_id
    again = DeadLetter.objects.filter(pk__gt=dead_mark, stage=stage, message_id__in=replayed).count()
    waiting = sum(
        1
        for retry in PendingRetry.objects.filter(pk__gt=retry_mark, stage=stage, key=key)
        for item in retry.items
        if isinstance(item, dict)
        and str(item.get("id" if stage == PipelineStage.SOURCE else "messageId")) in replayed
    )
    outcome["failed"] += again
    outcome["retrying"] = waiting
    outcome["delivered"] = max(0, len(items) - again - waiting)
    return {**outcome, "remove": [row.pk for row in replayable]}


@transaction.atomic
def _progress(replay: DeadLetterReplay, done: int, outcome: dict) -> DeadLetterReplay:
    DeadLetter.objects.filter(pk__in=outcome.pop("remove")).delete()
    DeadLetterReplay.objects.filter(pk=replay.pk).update(
        processed=F("processed") + done,
        heartbeat_at=timezone.now(),
        **{name: F(name) + value for name, value in outcome.items()},
    )
    replay.refresh_from_db()
    return replay


def _finish(replay: DeadLetterReplay, status: str, error: str = "") -> DeadLetterReplay:
    replay.status, replay.error, replay.finished_at = status, error, timezone.now()
    replay.save(update_fields=["status", "error", "finished_at"])
    return replay
