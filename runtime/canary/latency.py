"""The function-latency histogram of a canary's arms and of the deployed version's baseline."""

from __future__ import annotations

from ..histograms import Buckets
from ..pipeline.invoke import Verdict

# Upper bounds (ms) of the function-latency histogram: finer than the delivery figures',
# because a handler's own time is usually a few milliseconds.
LATENCY_MS = (1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 150, 200, 300, 500, 700, 1000, 1500, 2000)
LATENCY_MS += (3000, 5000, 7000, 10000, 15000, 20000, 30000, 60000)
LATENCY = Buckets(LATENCY_MS)
histogram_add = LATENCY.add
percentile = LATENCY.percentile


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
