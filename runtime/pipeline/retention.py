"""Retention: what the pipeline wrote down is dropped once it is past its keeping time.

Run hourly by `pipeline_cleanup_task`.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from ..models import DeliveredMessage, DeliveryStat, ErrorLog, IngestDrop, IngestDropCount
from .dead_letters import dead_letters_prune


def records_cleanup() -> dict:
    """Drop error logs, counters, dedupe rows, ingest drops and dead letters past retention."""
    now = timezone.now()
    logs, _ = ErrorLog.objects.filter(
        created_at__lt=now - timedelta(days=settings.PIPELINE_ERROR_LOG_DAYS)
    ).delete()
    stats, _ = DeliveryStat.objects.filter(
        bucket__lt=now - timedelta(days=settings.PIPELINE_STATS_DAYS)
    ).delete()
    seen, _ = DeliveredMessage.objects.filter(
        created_at__lt=now - timedelta(seconds=settings.PIPELINE_DEDUPE_TTL_S)
    ).delete()
    stats_since = now - timedelta(days=settings.PIPELINE_STATS_DAYS)
    drops, _ = IngestDrop.objects.filter(created_at__lt=stats_since).delete()
    drop_counts, _ = IngestDropCount.objects.filter(bucket__lt=stats_since).delete()
    return {
        "error_logs": logs,
        "stats": stats,
        "delivered": seen,
        "drops": drop_counts + drops,
        "dead_letters": dead_letters_prune(),
    }
