"""Messages dropped at ingest: Segment's partial accept counts and shows each invalid message.

The web process records them after the valid messages of the request are queued; recording is
best effort (a database error is logged, the request still answers 200: its valid messages are
already accepted).
"""

from __future__ import annotations

import json
import logging
from collections import Counter

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import F

from ..ingest import MAX_EVENT_BYTES, Drop
from ..models import IngestDrop, IngestDropCount
from .records import bucket_start, without_write_key

log = logging.getLogger(__name__)
# Samples kept per request: a batch of 2,500 bad messages counts 2,500 but writes a few rows.
SAMPLES_PER_REQUEST = 10


def drops_record(*, source_id: int, drops: list[Drop]) -> None:
    """Count a request's dropped messages on the source and keep a few as samples."""
    if not drops:
        return
    try:
        with transaction.atomic():
            _count(source_id, Counter(d.code for d in drops))
            IngestDrop.objects.bulk_create(
                [
                    IngestDrop(source_id=source_id, code=d.code, message=d.message, event=_kept(d.event))
                    for d in drops[:SAMPLES_PER_REQUEST]
                ]
            )
        _trim(source_id)
    except DatabaseError:
        log.warning("could not record %d dropped messages of source %s", len(drops), source_id, exc_info=True)


def _count(source_id: int, by_code: Counter) -> None:
    bucket = bucket_start()
    for code, n in by_code.items():
        row = {"source_id": source_id, "bucket": bucket, "code": code}
        IngestDropCount.objects.bulk_create([IngestDropCount(**row)], ignore_conflicts=True)
        IngestDropCount.objects.filter(**row).update(count=F("count") + n)


def _kept(event):
    """The dropped message as sent, without its write key; an oversize one is summarised."""
    try:
        size = len(json.dumps(event, default=str))
    except (TypeError, ValueError):
        return {"unserialisable": True}
    if size > MAX_EVENT_BYTES:
        kind = event.get("type") if isinstance(event, dict) else None
        return {"type": kind, "truncated": True, "bytes": size}
    return without_write_key(event)


def _trim(source_id: int) -> None:
    keep = settings.PIPELINE_DROPS_KEEP
    stale = IngestDrop.objects.filter(source_id=source_id).order_by("-created_at", "-id")[keep : keep + 500]
    ids = list(stale.values_list("id", flat=True))
    if ids:
        IngestDrop.objects.filter(id__in=ids).delete()
