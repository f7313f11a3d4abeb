"""The dead-letter store: accepted items the pipeline gave up on, kept for inspection and replay.

API (small on purpose; admin lists, the API and bulk replay build on it):
- `dead_letter_create(instance=, items=, error=, category=, attempts=, stage=)` writes one row
  per item in one INSERT and counts nothing (the caller counts them as failed);
- `items_dead(stage=, key=, items=, error=, attempts=)` dead-letters a stage's items on the
  instance their key stands for and counts them failed (the sweep, spent durable retries);
- `dead_letters_prune()` applies retention (newest PIPELINE_DEAD_LETTER_KEEP per instance,
  none older than PIPELINE_DEAD_LETTER_DAYS); run hourly by `pipeline_cleanup_task`.
Reads go through `runtime.models.DeadLetter` directly (ordered newest first, indexed by
instance and time).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from ..choices import ErrorCategory, PipelineStage
from ..models import DeadLetter, FunctionInstance
from . import lookups, records
from .records import without_write_key

log = logging.getLogger(__name__)
_PRUNE_CHUNK = 5_000


def _message_id(stage: str, item) -> str:
    if not isinstance(item, dict):
        return ""
    value = item.get("messageId") if stage != PipelineStage.SOURCE else item.get("id")
    return str(value or "")[:100]


@transaction.atomic
def dead_letter_create(
    *,
    instance,
    items: list,
    error: dict | None,
    category: str = ErrorCategory.BAD_REQUEST,
    attempts: int = 1,
    stage: str = PipelineStage.DESTINATION,
) -> list[DeadLetter]:
    """Keep `items` (events, messages or webhook requests of `stage`) that failed for good.

    `error` is the sandbox's `{type, message}` (or the platform's own); the instance's
    deployed version is recorded as the one that failed. Each row is validated before the
    single bulk insert.
    """
    error = error or {}
    rows = []
    for item in items:
        row = DeadLetter(
            instance=instance,
            stage=stage,
            message_id=_message_id(stage, item),
            event=without_write_key(item) if isinstance(item, (dict, list)) else {"value": item},
            category=category or ErrorCategory.BAD_REQUEST,
            error_type=str(error.get("type") or "Error")[:100],
            error_message=str(error.get("message") or ""),
            attempts=max(1, int(attempts)),
            version_id=instance.deployed_version_id,
        )
        row.full_clean(exclude=["instance", "version"], validate_unique=False)
        rows.append(row)
    return DeadLetter.objects.bulk_create(rows)


def dead_letters_prune() -> int:
    """Delete dead letters past their age limit and beyond each instance's newest N."""
    cutoff = timezone.now() - timedelta(days=settings.PIPELINE_DEAD_LETTER_DAYS)
    deleted, _ = DeadLetter.objects.filter(created_at__lt=cutoff).delete()
    keep = settings.PIPELINE_DEAD_LETTER_KEEP
    crowded = DeadLetter.objects.values("instance_id").annotate(n=Count("id")).filter(n__gt=keep)
    for row in crowded:
        deleted += _prune_instance(row["instance_id"], keep)
    return deleted


def _prune_instance(instance_id: int, keep: int) -> int:
    # The keep-th newest row's position is the boundary: everything older goes, in chunks so
    # one crowded instance does not hold a long lock.
    ordered = DeadLetter.objects.filter(instance_id=instance_id).order_by("-created_at", "-id")
    deleted = 0
    while True:
        ids = list(ordered.values_list("id", flat=True)[keep : keep + _PRUNE_CHUNK])
        if not ids:
            return deleted
        deleted += DeadLetter.objects.filter(id__in=ids).delete()[0]


def keep_if_final(dead: list, original: dict, verdict) -> None:
    """Add a final failure to `dead` unless it is "no handler for this type" (not a fault)."""
    if verdict.category != ErrorCategory.UNSUPPORTED_EVENT_TYPE:
        dead.append((original, verdict))


def dead_letters_keep(*, instance, pairs: list, attempts: int, stage: str = PipelineStage.DESTINATION):
    """Dead-letter (item, Verdict) pairs, one insert per distinct error."""
    groups: dict[tuple, list] = {}
    for item, verdict in pairs:
        error = verdict.error or {}
        key = (verdict.category, str(error.get("type") or ""), str(error.get("message") or ""))
        groups.setdefault(key, []).append(item)
    for (category, kind, message), items in groups.items():
        dead_letter_create(
            instance=instance,
            items=items,
            error={"type": kind, "message": message},
            category=category,
            attempts=attempts,
            stage=stage,
        )


def owner_instance(stage: str, key: int) -> FunctionInstance | None:
    """The instance a stage's key stands for: itself (src, dst) or a source's first insert."""
    if stage == PipelineStage.ROUTE:
        source = lookups.enabled_source(key)
        inserts = lookups.source_inserts(source) if source is not None else []
        return inserts[0] if inserts else None
    return FunctionInstance.objects.filter(pk=key).first()


def items_dead(*, stage: str, key: int, items: list, error: dict, attempts: int | None) -> None:
    """Dead-letter items of a stage's key and count them failed on their instance."""
    instance = owner_instance(stage, key)
    if instance is None:
        # Its instance (or source) was deleted: nothing could ever deliver these.
        log.warning("dropping %d dead %s items of deleted %s", len(items), stage, key)
        return
    dead_letter_create(
        instance=instance,
        items=items,
        error=error,
        category=ErrorCategory.INTERNAL,
        attempts=attempts or settings.PIPELINE_INFLIGHT_MAX_ATTEMPTS + 1,
        stage=stage,
    )
    records.stat_add(instance.pk, failed=len(items))
