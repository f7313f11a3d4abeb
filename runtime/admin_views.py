"""Instance pages in the admin: the Errors tab and the Event Delivery tab (figures and charts).

The Event Delivery tab covers one of RANGES (1 h, 24 h, 7 d): the counters' 5-minute buckets
are summed into slots sized for the range (5 min, 30 min, 6 h), so each range draws a few
dozen readable bars, and each slot's latency histograms are merged for its p50/p95/p99.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from . import selectors
from .models import ErrorLog, FunctionInstance
from .pipeline.records import HISTOGRAM_MS

ERRORS_SHOWN = 100
RECENT_FAILURES = 10
CHART_WIDTH, CHART_HEIGHT, CHART_PAD = 720, 180, 24
DELIVERY_WINDOW = timedelta(days=7)
EMPTY_SUMMARY = {"delivered": 0, "retried": 0, "failed": 0, "filtered": 0, "p95_ms": None}


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
        "fn_p95": _p95_label(summary.get("p95_ms")),
        "fn_range": chosen,
        "fn_ranges": list(RANGES.values()),
        "fn_percentiles": _percentile_labels(slots),
        "fn_chart": delivery_chart(series, since=since, until=until, slot=chosen.slot),
        "fn_rate_chart": rate_chart(slots),
        "fn_latency_chart": latency_chart(slots),
    }


def _delivery(instance, since) -> tuple[dict, list[dict]]:
    # The pipeline's selectors own the figures; without them the tab shows zeros.
    summary_of = getattr(selectors, "delivery_summary", None)
    series_of = getattr(selectors, "delivery_series", None)
    if summary_of is None or series_of is None:
        return dict(EMPTY_SUMMARY), []
    summary = _with_final_failures(summary_of(instance=instance, since=since))
    return summary, [_with_final_failures(p) for p in series_of(instance=instance, since=since)]


def _with_final_failures(figures: dict) -> dict:
    # Rejected and unsupported events failed for good too; the tab counts them as failed.
    failed = sum(figures.get(name, 0) for name in ("failed", "rejected", "unsupported"))
    return {**figures, "failed": failed}


def _p95_label(value) -> str:
    if value is None:
        return "-"
    if math.isinf(value):
        return f"> {HISTOGRAM_MS[-1] // 1000} s"
    return f"≤ {value:g} ms"


CHART_SLOT = timedelta(hours=1)
CHART_KINDS = ("delivered", "retried", "failed")


def delivery_chart(
    series: list[dict], *, since=None, until=None, kinds=CHART_KINDS, slot: timedelta = CHART_SLOT
) -> dict:
    """Stacked bars (delivered, retried, failed, or other `kinds` of the series) in fixed slots
    of `slot` (an hour by default) from `since` to `until`, as SVG rectangles, so bar positions
    read as time and quiet slots show as gaps."""
    until = until or timezone.now()
    since = since or until - DELIVERY_WINDOW
    slots = _slot_counts(series, since, until, kinds, slot)
    chart = {"bars": [], "width": CHART_WIDTH, "height": CHART_HEIGHT, "max": 0, "start": since, "end": until}
    peak = max((sum(counts.values()) for counts in slots), default=0)
    if not peak:
        return chart
    slot_w = (CHART_WIDTH - CHART_PAD) / len(slots)
    scale = (CHART_HEIGHT - CHART_PAD) / peak
    for index, counts in enumerate(slots):
        base = CHART_HEIGHT - CHART_PAD / 2
        for kind in kinds:
            if counts[kind]:
                height = counts[kind] * scale
                base -= height
                chart["bars"].append(
                    {
                        "x": round(CHART_PAD + index * slot_w, 1),
                        "y": round(base, 1),
                        "w": round(max(slot_w - 1, 1), 1),
                        "h": round(height, 1),
                        "kind": kind,
                        "count": counts[kind],
                        "bucket": since + index * slot,
                    }
                )
    chart["max"] = peak
    return chart


def _slot_counts(
    series: list[dict], since, until, kinds=CHART_KINDS, slot: timedelta = CHART_SLOT
) -> list[dict]:
    total = max(1, math.ceil((until - since) / slot))
    slots = [dict.fromkeys(kinds, 0) for _ in range(total)]
    for point in series:
        index = int((point["bucket"] - since) / slot)
        if 0 <= index < total:
            for kind in kinds:
                slots[index][kind] += point.get(kind, 0)
    return slots


# --- error rate and latency percentiles per slot -----------------------------------------------

PERCENTILES = (("p50", 0.50), ("p95", 0.95), ("p99", 0.99))
FAILED_KINDS = ("failed", "rejected", "unsupported")


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
    labels = {name: _p95_label(selectors.latency_percentile(merged, f)) for name, f in PERCENTILES}
    labels["error_rate"] = f"{100 * failed / outcomes:.1f} %" if outcomes else "-"
    return labels


def _x(index: int, count: int) -> float:
    """The centre of slot `index` of `count` across the plot area."""
    return round(CHART_PAD + (index + 0.5) * (CHART_WIDTH - CHART_PAD) / count, 1)


def _y(fraction: float) -> float:
    """Height `fraction` (0 bottom, 1 top) of the plot area."""
    bottom, top = CHART_HEIGHT - CHART_PAD / 2, CHART_PAD / 2
    return round(bottom - fraction * (bottom - top), 1)


def rate_chart(slots: list[dict]) -> dict:
    """The error rate per slot as SVG points (0 to 100 %); slots without outcomes are gaps."""
    points = [
        {"x": _x(i, len(slots)), "y": _y(s["error_rate"]), "value": f"{100 * s['error_rate']:.1f} %", "start": s["start"]}
        for i, s in enumerate(slots)
        if s["error_rate"] is not None
    ]  # fmt: skip
    return {"width": CHART_WIDTH, "height": CHART_HEIGHT, "points": points, "polyline": _polyline(points)}


def latency_chart(slots: list[dict]) -> dict:
    """p50/p95/p99 per slot on a log scale from the histogram's first bound to the largest
    value shown (latencies span milliseconds to minutes, so a linear axis flattens them)."""
    finite = [s[n] for s in slots for n, _ in PERCENTILES if s[n] is not None and not math.isinf(s[n])]
    low = math.log10(HISTOGRAM_MS[0])
    high = math.log10(max([HISTOGRAM_MS[0] * 10, *finite]))
    lines = {}
    for name, _ in PERCENTILES:
        points = []
        for i, s in enumerate(slots):
            value = s[name]
            if value is None:
                continue
            shown = HISTOGRAM_MS[-1] if math.isinf(value) else value
            fraction = min(1.0, (math.log10(max(shown, HISTOGRAM_MS[0])) - low) / (high - low))
            points.append(
                {"x": _x(i, len(slots)), "y": _y(fraction), "value": _p95_label(value), "start": s["start"]}
            )
        lines[name] = {"points": points, "polyline": _polyline(points)}
    top = 10**high
    return {
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "lines": lines,
        "top": f"{top:g} ms",
        "bottom": f"{HISTOGRAM_MS[0]} ms",
    }


def _polyline(points: list[dict]) -> str:
    return " ".join(f"{p['x']},{p['y']}" for p in points)
