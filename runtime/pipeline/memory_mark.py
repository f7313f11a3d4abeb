"""Ingest's memory mark: refuse work (503) while the pipeline's Redis still has room to drain.

With `maxmemory` and `noeviction` a full Redis refuses every write, the drain's too: a worker
can then neither start consuming (its broker writes are refused) nor claim, deliver or give
back a batch, and nothing ever leaves. So ingest stops at PIPELINE_REDIS_MEMORY_HIGH of
`maxmemory`, read with INFO. A reading is only so fresh, and a fast ingest pushes megabytes a
second: a reading holds for a second (a tenth of one near the mark) *and* only until this
process has pushed PUSH_SHARE-th of the room the reading left below `maxmemory`, so however
fast the pushes come, a few processes together cannot fill that room between two readings.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

CHECK_S = 1.0
PUSH_SHARE = 16
# What Redis keeps per list item beyond its bytes (the entry header, the node's share).
ITEM_OVERHEAD = 16


class MemoryMark:
    """One process's latest reading of the pipeline's Redis memory."""

    def __init__(self):
        self.until = 0.0
        self.full = False
        self.budget = math.inf  # bytes this process may push before it reads again

    def reached(self, read: Callable[[], list[dict]], high: float) -> bool:
        """True when any node of `read()` (INFO memory dicts) is past `high` of maxmemory."""
        now = time.monotonic()
        if now >= self.until or self.budget < 0:
            self._take(now, read(), high)
        return self.full

    def pushed(self, items: list[bytes]) -> None:
        """Count what this process has just appended (encoded items) against the reading."""
        self.budget -= sum(map(len, items)) + ITEM_OVERHEAD * len(items)

    def _take(self, now: float, infos: list[dict], high: float) -> None:
        limited = [
            (int(i.get("used_memory") or 0), int(i["maxmemory"]))
            for i in infos
            if int(i.get("maxmemory") or 0)
        ]
        share = max((used / limit for used, limit in limited), default=0.0)
        room = min((limit - used for used, limit in limited), default=math.inf)
        self.full = share >= high
        self.until = now + (CHECK_S if share < high * 0.8 else CHECK_S / 10)
        self.budget = max(0.0, room) / PUSH_SHARE
