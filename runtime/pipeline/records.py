"""What the pipeline writes down: per-instance delivery counters and the error log.

Retention of these (and of the other pipeline records) is retention.py's."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from workspaces.redaction import credentials_redact, source_credentials

from ..histograms import Buckets
from ..models import DeliveryStat, ErrorLog

# Upper bounds (ms) of the latency histogram; the last bucket is "inf".
HISTOGRAM_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000)
DELIVERY_LATENCY = Buckets(HISTOGRAM_MS)
COUNTERS = ("delivered", "retried", "failed", "filtered", "unsupported", "rejected")


def bucket_start(now: datetime | None = None) -> datetime:
    """The start of the counters' time bucket holding `now`."""
    now = now or timezone.now()
    size = settings.PIPELINE_STATS_BUCKET_S
    return datetime.fromtimestamp(int(now.timestamp()) // size * size, tz=UTC)


def latency_ms(event: dict, now: datetime | None = None) -> float | None:
    """Milliseconds from the event's receipt at ingest until now."""
    try:
        received = datetime.fromisoformat(event["receivedAt"])
    except (KeyError, TypeError, ValueError):
        return None
    return max(0.0, ((now or timezone.now()) - received).total_seconds() * 1000)


def stat_add(instance_id: int, *, latencies=(), **counts: int) -> None:
    """Add to the instance's counters for the current bucket."""
    counts = {k: v for k, v in counts.items() if v}
    histogram = DELIVERY_LATENCY.add({}, latencies)
    if not counts and not histogram:
        return
    if connection.vendor == "postgresql":
        _stat_upsert(instance_id, bucket_start(), counts, histogram)
        return
    with transaction.atomic():
        bucket = bucket_start()
        DeliveryStat.objects.bulk_create(
            [DeliveryStat(instance_id=instance_id, bucket=bucket)], ignore_conflicts=True
        )
        row = DeliveryStat.objects.select_for_update().get(instance_id=instance_id, bucket=bucket)
        for name, value in counts.items():
            setattr(row, name, getattr(row, name) + value)
        for bound, count in histogram.items():
            row.latency[bound] = row.latency.get(bound, 0) + count
        row.save()


# One round trip per batch on PostgreSQL: counters and histogram merged in the upsert.
_UPSERT = """
INSERT INTO {table} AS t (instance_id, bucket, {columns}, latency)
VALUES (%s, %s, {placeholders}, %s::jsonb)
ON CONFLICT (instance_id, bucket) DO UPDATE SET {increments},
  latency = (SELECT COALESCE(jsonb_object_agg(k, COALESCE((t.latency->>k)::bigint, 0)
                                                + COALESCE((EXCLUDED.latency->>k)::bigint, 0)), '{{}}'::jsonb)
             FROM jsonb_object_keys(t.latency || EXCLUDED.latency) AS k)
"""


def _stat_upsert(instance_id: int, bucket, counts: dict, histogram: dict) -> None:
    sql = _UPSERT.format(
        table=DeliveryStat._meta.db_table,
        columns=", ".join(COUNTERS),
        placeholders=", ".join(["%s"] * len(COUNTERS)),
        increments=", ".join(f"{c} = t.{c} + EXCLUDED.{c}" for c in COUNTERS),
    )
    params = [instance_id, bucket, *(counts.get(c, 0) for c in COUNTERS), json.dumps(histogram)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def error_log_record(*, instance, category: str, error: dict | None, input, result=None, attempts=1) -> None:
    """Keep a failed invocation for the Errors tab, then trim to the newest N for the instance."""
    error = error or {}
    # Readers of the instance may not see its source's credentials (a webhook URL, a write key).
    secrets = source_credentials(instance.source)
    ErrorLog.objects.create(
        instance=instance,
        category=category,
        error_type=str(error.get("type") or "")[:100],
        message=credentials_redact(str(error.get("message") or ""), secrets),
        stack=credentials_redact(str(error.get("stack") or ""), secrets),
        input=credentials_redact(
            without_write_key(input) if isinstance(input, (dict, list)) else {"value": input}, secrets
        ),
        logs=credentials_redact(list(getattr(result, "logs", None) or []), secrets),
        requests=credentials_redact(list(getattr(result, "requests", None) or []), secrets),
        attempts=attempts,
        version_id=instance.deployed_version_id,
    )
    error_log_trim(instance_id=instance.pk)


def without_write_key(value, depth: int = 0):
    """`value` with every `writeKey` entry removed (a few levels deep)."""
    # Events carry their source's write key; the Errors tab is readable by people who may not
    # manage the source, so the key is not kept with the error.
    if depth > 3:
        return value
    if isinstance(value, list):
        return [without_write_key(item, depth + 1) for item in value]
    if isinstance(value, dict):
        return {k: without_write_key(v, depth + 1) for k, v in value.items() if k != "writeKey"}
    return value


def error_log_trim(*, instance_id: int) -> None:
    """Delete the instance's error-log entries beyond the newest PIPELINE_ERROR_LOG_KEEP."""
    keep = settings.PIPELINE_ERROR_LOG_KEEP
    stale = ErrorLog.objects.filter(instance_id=instance_id).order_by("-created_at", "-id")[keep : keep + 500]
    ids = list(stale.values_list("id", flat=True))
    if ids:
        ErrorLog.objects.filter(id__in=ids).delete()
