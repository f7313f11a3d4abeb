"""Instance pages in the admin: the Errors tab and the Event Delivery tab (figures and chart)."""

from __future__ import annotations

import json
import math
from datetime import timedelta

from django.utils import timezone

from . import selectors
from .models import ErrorLog, FunctionInstance

ERRORS_SHOWN = 100
RECENT_FAILURES = 10
CHART_WIDTH, CHART_HEIGHT, CHART_PAD = 720, 180, 24
DELIVERY_WINDOW = timedelta(days=7)
EMPTY_SUMMARY = {"delivered": 0, "retried": 0, "failed": 0, "filtered": 0, "p95_ms": None}


def instance_tabs_context(instance: FunctionInstance) -> dict:
    """The Errors and Event Delivery tabs of an instance page."""
    errors = list(ErrorLog.objects.filter(instance=instance).order_by("-created_at", "-id")[:ERRORS_SHOWN])
    for error in errors:
        error.input_json = json.dumps(error.input, indent=2, default=str)
    since = timezone.now() - DELIVERY_WINDOW
    summary, series = _delivery(instance, since)
    return {
        "fn_errors": errors,
        "fn_recent_failures": errors[:RECENT_FAILURES],
        "fn_delivery": summary,
        "fn_p95": _p95_label(summary.get("p95_ms")),
        "fn_chart": delivery_chart(series, since=since),
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
        return "> 10 s"
    return f"≤ {value:g} ms"


CHART_SLOT = timedelta(hours=1)
CHART_KINDS = ("delivered", "retried", "failed")


def delivery_chart(series: list[dict], *, since=None, until=None, kinds=CHART_KINDS) -> dict:
    """Stacked bars (delivered, retried, failed, or other `kinds` of the series) in fixed hourly
    slots from `since` to `until`, as SVG rectangles, so bar positions read as time and quiet
    hours show as gaps."""
    until = until or timezone.now()
    since = since or until - DELIVERY_WINDOW
    slots = _slot_counts(series, since, until, kinds)
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
                        "bucket": since + index * CHART_SLOT,
                    }
                )
    chart["max"] = peak
    return chart


def _slot_counts(series: list[dict], since, until, kinds=CHART_KINDS) -> list[dict]:
    total = max(1, math.ceil((until - since) / CHART_SLOT))
    slots = [dict.fromkeys(kinds, 0) for _ in range(total)]
    for point in series:
        index = int((point["bucket"] - since) / CHART_SLOT)
        if 0 <= index < total:
            for kind in kinds:
                slots[index][kind] += point.get(kind, 0)
    return slots
