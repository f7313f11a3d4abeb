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
        "fn_chart": delivery_chart(series),
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


def delivery_chart(series: list[dict]) -> dict:
    """Stacked bars (delivered, retried, failed) per time bucket, as SVG rectangles."""
    if not series:
        return {"bars": [], "width": CHART_WIDTH, "height": CHART_HEIGHT, "max": 0}
    peak = max(p.get("delivered", 0) + p.get("retried", 0) + p.get("failed", 0) for p in series) or 1
    slot = (CHART_WIDTH - CHART_PAD) / len(series)
    scale = (CHART_HEIGHT - CHART_PAD) / peak
    bars = []
    for index, point in enumerate(series):
        x, base = CHART_PAD + index * slot, CHART_HEIGHT - CHART_PAD / 2
        for kind in ("delivered", "retried", "failed"):
            height = point.get(kind, 0) * scale
            if height:
                base -= height
                bars.append(
                    {
                        "x": round(x, 1),
                        "y": round(base, 1),
                        "w": round(max(slot - 2, 1), 1),
                        "h": round(height, 1),
                        "kind": kind,
                        "count": point.get(kind, 0),
                        "bucket": point["bucket"],
                    }
                )
    return {"bars": bars, "width": CHART_WIDTH, "height": CHART_HEIGHT, "max": peak}
