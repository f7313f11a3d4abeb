"""The Event delivery tab per range: slots sized for the range, error rate and percentiles."""

from datetime import timedelta

import pytest
from django.utils import timezone

from runtime.admin_charts import latency_chart, rate_chart
from runtime.admin_tabs import RANGES, delivery_slots, instance_tabs_context
from runtime.models import DeliveryStat
from tests.factories import InstanceFactory

pytestmark = pytest.mark.django_db


def stat(instance, ago: timedelta, *, delivered=0, failed=0, rejected=0, latency=None):
    bucket = timezone.now() - ago
    bucket = bucket.replace(second=0, microsecond=0, minute=bucket.minute // 5 * 5)
    return DeliveryStat.objects.create(
        instance=instance,
        bucket=bucket,
        delivered=delivered,
        failed=failed,
        rejected=rejected,
        latency=latency or {},
    )


@pytest.fixture
def instance(function):
    return InstanceFactory(function=function, name="figures")


@pytest.mark.parametrize(("name", "slots"), [("1h", 12), ("24h", 48), ("7d", 28)])
def test_each_range_draws_a_few_dozen_bars_at_most(instance, name, slots):
    for hours in range(0, 24 * 7, 1):  # one bucket an hour for a week: 168 rows
        stat(instance, timedelta(hours=hours, minutes=2), delivered=1)
    context = instance_tabs_context(instance, name)
    chart = context["fn_chart"]
    positions = sorted({bar["x"] for bar in chart["bars"]})
    assert len(positions) <= slots
    assert min(bar["w"] for bar in chart["bars"]) >= 10  # readable, not 3 px slivers
    assert context["fn_range"].name == name
    expected = {"1h": 1, "24h": 24, "7d": 24 * 7}[name]
    assert sum(bar["count"] for bar in chart["bars"]) in (expected, expected - 1, expected + 1)


def test_unknown_range_falls_back_to_24_hours(instance):
    assert instance_tabs_context(instance, "99y")["fn_range"].name == "24h"
    assert instance_tabs_context(instance, None)["fn_range"].name == "24h"


def test_slots_sum_counters_and_merge_histograms(instance):
    now = timezone.now()
    since, slot = now - RANGES["24h"].window, RANGES["24h"].slot
    row = {"instance": instance}
    # Two 5-minute buckets inside slot 40, one in slot 10.
    DeliveryStat.objects.create(
        **row, bucket=since + 40 * slot + timedelta(minutes=5), delivered=8, failed=1, rejected=1,
        latency={"10": 6, "250": 2},
    )  # fmt: skip
    DeliveryStat.objects.create(
        **row, bucket=since + 40 * slot + timedelta(minutes=10), delivered=2, latency={"1000": 2}
    )
    DeliveryStat.objects.create(
        **row, bucket=since + 10 * slot + timedelta(minutes=1), delivered=4, latency={"5": 4}
    )
    slots = delivery_slots(instance, since=since, until=now, slot=slot)
    assert len(slots) == 48
    recent, early = slots[40], slots[10]
    assert (recent["delivered"], recent["failed"]) == (10, 2)
    assert recent["error_rate"] == pytest.approx(2 / 12)
    assert (recent["p50"], recent["p95"], recent["p99"]) == (10.0, 1000.0, 1000.0)
    assert (early["p50"], early["error_rate"]) == (5.0, 0.0)
    quiet = [s for i, s in enumerate(slots) if i not in (10, 40)]
    assert all(s["error_rate"] is None and s["p95"] is None for s in quiet)
    assert len(rate_chart(slots)["points"]) == 2  # quiet slots are gaps, not zeros
    lines = latency_chart(slots)["lines"]
    assert {name: len(line["points"]) for name, line in lines.items()} == {"p50": 2, "p95": 2, "p99": 2}
    # Log scale: a slower percentile sits higher (smaller y) in the same slot.
    p50, p99 = lines["p50"]["points"][-1], lines["p99"]["points"][-1]
    assert p50["x"] == p99["x"] and p99["y"] < p50["y"]


def test_summary_figures_for_the_range(instance):
    stat(instance, timedelta(minutes=3), delivered=9, failed=1, latency={"25": 9})
    stat(instance, timedelta(days=3), delivered=100, failed=100, latency={"5000": 100})  # outside 24 h
    figures = instance_tabs_context(instance, "24h")["fn_percentiles"]
    assert figures == {"p50": "≤ 25 ms", "p95": "≤ 25 ms", "p99": "≤ 25 ms", "error_rate": "10.0 %"}
    week = instance_tabs_context(instance, "7d")["fn_percentiles"]
    assert week["error_rate"] == f"{100 * 101 / 210:.1f} %"
    assert week["p99"] == "≤ 5000 ms"


def test_instance_page_offers_the_ranges(client, owner, instance):
    stat(instance, timedelta(minutes=3), delivered=5, latency={"50": 5})
    client.force_login(owner)
    page = client.get(f"/admin/runtime/functioninstance/{instance.pk}/change/?range=1h").content.decode()
    assert 'id="fn-range-picker"' in page
    assert 'href="?range=7d#delivery"' in page and 'href="?range=24h#delivery"' in page
    assert 'class="fn-range active" data-range="1h"' in page
    assert "Event delivery (last 1 hour)" in page and "one bar per 5 minutes" in page
    assert 'id="fn-latency-chart"' in page and "fn-line-p99" in page
    assert 'id="fn-rate-chart"' in page
