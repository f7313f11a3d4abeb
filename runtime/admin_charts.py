"""The instance page's SVG charts: delivery bars per time slot, the error rate and latency lines.

Each chart is plain data (coordinates, labels) that the admin templates draw as SVG.
"""

from __future__ import annotations

import math
from datetime import timedelta

from django.utils import timezone

from .pipeline.records import HISTOGRAM_MS

CHART_WIDTH, CHART_HEIGHT, CHART_PAD = 720, 180, 24
DELIVERY_WINDOW = timedelta(days=7)
PERCENTILES = (("p50", 0.50), ("p95", 0.95), ("p99", 0.99))


def latency_label(value) -> str:
    """A latency for display: "≤ 250 ms", "> 60 s" past the histogram's last bound, "-" for none."""
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
                {
                    "x": _x(i, len(slots)),
                    "y": _y(fraction),
                    "value": latency_label(value),
                    "start": s["start"],
                }
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
