"""Upgrade from the key layout of earlier releases, which had no Redis Cluster hash tags.

Run once per process by runtime.pipeline.store before the sweep first reads its index: each
old key moves to today's name, so an upgrade strands no accepted item. Only a single Redis can
hold the old layout (it never ran on a cluster), so renames and multi-key moves are safe.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Layout:
    """Today's key names, given by runtime.pipeline.store (which imports this module)."""

    prefix: str
    index: str
    buffer: Callable[[str, str], str]
    dead: Callable[[str, str], str]
    inflight: Callable[[str, str, str], str]
    leases: Callable[[str, str], str]
    prepend: Callable  # the LEGACY_PREPEND script
    dedupe_ttl_s: int


def adopt(r, layout: Layout) -> int:
    """Move every old-layout key; returns how many lists and sets moved."""
    moved = 0
    for old in r.scan_iter(match=f"{layout.prefix}:*", count=1000):
        rest = old.decode()[len(layout.prefix) + 1 :]
        kind, _, tail = rest.partition(":")
        if "{" not in rest and kind in _MOVES and ":" in tail:
            moved += _MOVES[kind](r, layout, old, tail)
    _leases_adopt(r, layout)
    r.delete(f"{layout.prefix}:deadkeys")
    return moved


def _leases_adopt(r, layout: Layout) -> None:
    old = f"{layout.prefix}:leases"
    if r.type(old) != b"zset":
        return
    for member, score in r.zrange(old, 0, -1, withscores=True):
        stage, key, _ = member.decode().split(":", 2)
        r.zadd(layout.leases(stage, key), {member: score})
    r.delete(old)


def _list(r, layout: Layout, old: bytes, tail: str, name) -> int:
    stage, key = tail.split(":", 1)
    # The old items are older than anything pushed since the upgrade: they go in front.
    layout.prepend(keys=[old, name(stage, key)], client=r)
    r.sadd(layout.index, f"{stage}:{key}")
    return 1


def _inflight(r, layout: Layout, old: bytes, tail: str) -> int:
    stage, key, task_id = tail.split(":", 2)
    r.rename(old, layout.inflight(stage, key, task_id))
    r.sadd(layout.index, f"{stage}:{key}")
    return 1


def _dedupe(r, layout: Layout, old: bytes, tail: str) -> int:
    instance_key, hour = tail.rsplit(":", 1)
    new = f"{layout.prefix}:dlv:{{{instance_key}}}:{hour}"
    r.sunionstore(new, [old, new])
    r.expire(new, layout.dedupe_ttl_s + 3600)
    r.delete(old)
    return 1


def _drop(r, layout: Layout, old: bytes, tail: str) -> int:
    # Flush flags (the sweep schedules again), recovery counts and claims (both only delay).
    r.delete(old)
    return 0


_MOVES = {
    "buf": lambda r, layout, old, tail: _list(r, layout, old, tail, layout.buffer),
    "dead": lambda r, layout, old, tail: _list(r, layout, old, tail, layout.dead),
    "inflight": _inflight,
    "dlv": _dedupe,
    "sched": _drop,
    "recov": _drop,
    "claim": _drop,
}
