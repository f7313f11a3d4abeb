"""The function-latency histogram of a canary's arms and of the deployed version's baseline."""

from __future__ import annotations

from ..pipeline.invoke import Verdict

# Upper bounds (ms) of the function-latency histogram: finer than the delivery figures',
# because a handler's own time is usually a few milliseconds.
LATENCY_MS = (1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 150, 200, 300, 500, 700, 1000, 1500, 2000)
LATENCY_MS += (3000, 5000, 7000, 10000, 15000, 20000, 30000, 60000)


def durations_ms(verdicts: list[Verdict]) -> list[float]:
    """Each event's share of its sandbox call (an onBatch call is shared by its events)."""
    shared: dict[int, int] = {}
    for verdict in verdicts:
        if verdict.result is not None:
            shared[id(verdict.result)] = shared.get(id(verdict.result), 0) + 1
    return [
        verdict.result.duration_ms / shared[id(verdict.result)]
        for verdict in verdicts
        if verdict.result is not None
    ]


def histogram_add(histogram: dict, values) -> dict:
    """A copy of `histogram` with each latency counted under its bucket's bound."""
    out = dict(histogram)
    for value in values:
        label = next((str(b) for b in LATENCY_MS if value <= b), "inf")
        out[label] = out.get(label, 0) + 1
    return out


def percentile(histogram: dict, fraction: float) -> float | None:
    """The bucket bound (ms) under which `fraction` of the counted calls fall."""
    total = sum(histogram.values())
    running = 0
    for bound in [*map(str, LATENCY_MS), "inf"]:
        running += histogram.get(bound, 0)
        if total and running >= fraction * total:
            return float(bound)
    return None
