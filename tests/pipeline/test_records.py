"""Counters, latency percentiles and error-log retention."""

from datetime import timedelta

import pytest
from django.utils import timezone

from runtime.choices import ErrorCategory
from runtime.models import DeliveredMessage, DeliveryStat, ErrorLog
from runtime.pipeline import records, retention
from runtime.selectors import delivery_series, delivery_summary, latency_percentile

pytestmark = pytest.mark.django_db


def test_counters_accumulate_in_one_bucket(instance):
    records.stat_add(instance.pk, delivered=3, latencies=[4, 40, 400])
    records.stat_add(instance.pk, delivered=1, failed=2, latencies=[4000])
    row = DeliveryStat.objects.get(instance=instance)
    assert (row.delivered, row.failed, row.retried) == (4, 2, 0)
    assert row.latency == {"5": 1, "50": 1, "500": 1, "5000": 1}
    assert delivery_series(instance=instance)[0]["delivered"] == 4


def test_p95_is_the_bound_covering_95_percent():
    histogram = {"10": 90, "100": 5, "1000": 5}
    assert latency_percentile(histogram, 0.95) == 100.0
    assert latency_percentile(histogram, 0.5) == 10.0
    assert latency_percentile({}, 0.95) is None


def test_summary_adds_buckets(instance):
    earlier = records.bucket_start() - timedelta(hours=1)
    DeliveryStat.objects.create(instance=instance, bucket=earlier, delivered=10, latency={"25": 10})
    records.stat_add(instance.pk, delivered=5, rejected=1, latencies=[20] * 5)
    summary = delivery_summary(instance=instance)
    assert (summary["delivered"], summary["rejected"], summary["p95_ms"]) == (15, 1, 25.0)
    assert delivery_summary(instance=instance, since=records.bucket_start())["delivered"] == 5


def test_error_log_keeps_the_newest(instance, settings):
    settings.PIPELINE_ERROR_LOG_KEEP = 3
    for n in range(5):
        records.error_log_record(
            instance=instance,
            category=ErrorCategory.BAD_REQUEST,
            error={"type": "TypeError", "message": f"n{n}", "stack": ""},
            input={"n": n},
        )
    assert sorted(ErrorLog.objects.values_list("message", flat=True)) == ["n2", "n3", "n4"]


def test_cleanup_drops_what_is_past_retention(instance):
    old = timezone.now() - timedelta(days=31)
    log = ErrorLog.objects.create(instance=instance, category=ErrorCategory.BAD_REQUEST)
    ErrorLog.objects.filter(pk=log.pk).update(created_at=old)
    fresh = ErrorLog.objects.create(instance=instance, category=ErrorCategory.BAD_REQUEST)
    DeliveryStat.objects.create(instance=instance, bucket=old)
    seen = DeliveredMessage.objects.create(instance=instance, message_id="m")
    DeliveredMessage.objects.filter(pk=seen.pk).update(created_at=old)
    assert retention.records_cleanup() == {
        "error_logs": 1,
        "stats": 1,
        "delivered": 1,
        "drops": 0,
        "dead_letters": 0,
    }
    assert list(ErrorLog.objects.all()) == [fresh]
