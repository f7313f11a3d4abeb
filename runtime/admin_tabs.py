"""Instance pages in the admin: the Errors tab and the Event Delivery tab (figures and charts).

The Event Delivery tab covers one of RANGES (1 h, 24 h, 7 d): the counters' 5-minute buckets
are summed into slots sized for the range (5 min, 30 min, 6 h), so each range draws a few
dozen readable bars, and each slot's latency histograms are merged for its p50/p95/p99
(the charts: runtime.admin_charts).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from . import selectors
from .admin_charts import PERCENTILES, delivery_chart, latency_chart, latency_label, rate_chart
from .models import ErrorLog, FunctionInstance

ERRORS_SHOWN = 100
RECENT_FAILURES = 10
# Rejected and unsupported events failed for good too; the tab counts them as failed.
FAILED_KINDS = ("failed", "rejected", "unsupported")


@dataclass(frozen=True)
class Range:
    """A choice of the range picker: the window shown and the width of one bar."""

    name: str
    label: str
    window: timedelta
    slot: timedelta
    slot_label: str


RANGES = {
    r.name: r
    for r in (
        Range("1h", "1 hour", timedelta(hours=1), timedelta(minutes=5), "5 minutes"),
        Range("24h", "24 hours", timedelta(hours=24), timedelta(minutes=30), "30 minutes"),
        Range("7d", "7 days", timedelta(days=7), timedelta(hours=6), "6 hours"),
    )
}
DEFAULT_RANGE = "24h"


def instance_tabs_context(instance: FunctionInstance, range_name: str | None = None) -> dict:
    """The Errors and Event Delivery tabs of an instance page (delivery over `range_name`)."""
    errors = list(ErrorLog.objects.filter(instance=instance).order_by("-created_at", "-id")[:ERRORS_SHOWN])
    for error in errors:
        error.input_json = json.dumps(error.input, indent=2, default=str)
    chosen = RANGES.get(range_name or "", RANGES[DEFAULT_RANGE])
    until = timezone.now()
    since = until - chosen.window
    summary, series = _delivery(instance, since)
    slots = delivery_slots(instance, since=since, until=until, slot=chosen.slot)
    return {
        "fn_errors": errors,
        "fn_recent_failures": errors[:RECENT_FAILURES],
        "fn_delivery": summary,
        "fn_p95": latency_label(summary.get("p95_ms")),
        "fn_range": chosen,
        "fn_ranges": list(RANGES.values()),
        "fn_percentiles": _percentile_labels(slots),
        "fn_chart": delivery_chart(series, since=since, until=until, slot=chosen.slot),
        "fn_rate_chart": rate_chart(slots),
        "fn_latency_chart": latency_chart(slots),
    }


def _delivery(instance, since) -> tuple[dict, list[dict]]:
    summary = _with_final_failures(selectors.delivery_summary(instance=instance, since=since))
    series = selectors.delivery_series(instance=instance, since=since)
    return summary, [_with_final_failures(point) for point in series]


def _with_final_failures(figures: dict) -> dict:
    failed = sum(figures.get(name, 0) for name in FAILED_KINDS)
    return {**figures, "failed": failed}


def delivery_slots(instance, *, since, until, slot: timedelta) -> list[dict]:
    """Per slot of `slot` from `since`: start, delivered, failed (final), error rate (0-1 or
    None without outcomes) and p50/p95/p99 latency in ms (None without deliveries)."""
    total = max(1, math.ceil((until - since) / slot))
    slots = [{"start": since + i * slot, "delivered": 0, "failed": 0, "histogram": {}} for i in range(total)]
    for row in selectors.delivery_stats(instance=instance, since=since - slot):
        index = int((row.bucket - since) / slot)
        if not 0 <= index < total:
            continue
        into = slots[index]
        into["delivered"] += row.delivered
        into["failed"] += sum(getattr(row, kind) for kind in FAILED_KINDS)
        for bound, count in row.latency.items():
            into["histogram"][bound] = into["histogram"].get(bound, 0) + count
    for into in slots:
        outcomes = into["delivered"] + into["failed"]
        into["error_rate"] = into["failed"] / outcomes if outcomes else None
        for name, fraction in PERCENTILES:
            into[name] = selectors.latency_percentile(into["histogram"], fraction)
    return slots


def _percentile_labels(slots: list[dict]) -> dict:
    merged: dict = {}
    for into in slots:
        for bound, count in into["histogram"].items():
            merged[bound] = merged.get(bound, 0) + count
    failed = sum(s["failed"] for s in slots)
    outcomes = failed + sum(s["delivered"] for s in slots)
    labels = {name: latency_label(selectors.latency_percentile(merged, f)) for name, f in PERCENTILES}
    labels["error_rate"] = f"{100 * failed / outcomes:.1f} %" if outcomes else "-"
    return labels
