"""Latency histograms kept as JSON: {"<upper bound in ms>": count, ..., "inf": count}.

The delivery counters (pipeline/records.py) and a canary's arms (canary/latency.py) keep one
each, with bounds of their own; both add and read them here.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable


class Buckets:
    """Upper bounds (ms, ascending) of a histogram; past the last one a value counts as "inf"."""

    def __init__(self, bounds: Iterable[float]):
        self.bounds = tuple(bounds)
        self.labels = (*map(str, self.bounds), "inf")

    def add(self, histogram: dict, values: Iterable[float | None]) -> dict:
        """A copy of `histogram` with each value (None skipped) counted under its bucket."""
        out = dict(histogram)
        for value in values:
            if value is not None:
                label = self.labels[bisect_left(self.bounds, value)]
                out[label] = out.get(label, 0) + 1
        return out

    def percentile(self, histogram: dict, fraction: float) -> float | None:
        """The bucket bound (ms; inf for the last) under which `fraction` of the values fall,
        or None for an empty histogram."""
        total = sum(histogram.values())
        running = 0
        for label in self.labels:
            running += histogram.get(label, 0)
            if total and running >= fraction * total:
                return float(label)
        return None
