"""Where a benchmark phase spends CPU: user + system time per role, read from /proc.

A throughput figure alone says little on a machine of unknown speed, and on 2 cores every
process competes with the rest. These readings say which part of the stack a phase is bound
by (web, worker, sandbox hosts, Redis, PostgreSQL, the load generator and the sink), as CPU
milliseconds per 1,000 events, a cost that moves far less between machines than events/s.
`calibration_s` times a fixed pure-Python loop, so figures from two machines can be scaled.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

TICK_S = 1 / os.sysconf("SC_CLK_TCK")
# Shared services: their whole CPU is counted (other users of the machine included, so a
# benchmark should run on an otherwise idle machine).
SERVICES = {"redis-server": "redis", "postgres": "postgres"}


def calibration_s() -> float:
    """Seconds this machine takes for 10 million additions in a Python loop (lower: faster)."""
    started = time.perf_counter()
    total = 0
    for i in range(10_000_000):
        total += i
    return round(time.perf_counter() - started, 3)


def _stat(pid: str) -> tuple[int, float, str] | None:
    """(parent pid, CPU seconds so far, command name) of a live process, or None."""
    try:
        text = (Path("/proc") / pid / "stat").read_text()
    except OSError:
        return None
    name = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) * TICK_S, name


def snapshot(roots: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far per role: each root pid's whole process tree, plus the services."""
    procs = {pid: s for pid in os.listdir("/proc") if pid.isdigit() and (s := _stat(pid))}
    role_of = {str(pid): role for role, pid in roots.items() if pid}
    out: dict[str, float] = dict.fromkeys([*roots, *SERVICES.values()], 0.0)
    for pid, (_, seconds, name) in procs.items():
        role = _role(pid, procs, role_of) or SERVICES.get(name)
        if role == "worker" and _is_node(pid):
            role = "sandbox"  # the worker's sandbox hosts, apart from its Python
        if role:
            out[role] = out.get(role, 0.0) + seconds
    return out


def _is_node(pid: str) -> bool:
    # Node names its main thread "MainThread", so the command line tells, not the name.
    try:
        argv0 = (Path("/proc") / pid / "cmdline").read_bytes().split(b"\0", 1)[0]
    except OSError:
        return False
    return argv0.rsplit(b"/", 1)[-1] == b"node"


def _role(pid: str, procs: dict, role_of: dict) -> str | None:
    seen = 0
    while pid in procs and seen < 64:  # walk up to a root (bounded: pids can be reused)
        if pid in role_of:
            return role_of[pid]
        pid, seen = str(procs[pid][0]), seen + 1
    return None


def per_1k(before: dict, after: dict, events: int, extra: dict | None = None) -> dict[str, float]:
    """CPU milliseconds per 1,000 events for each role between two snapshots."""
    spent = {role: after.get(role, 0.0) - before.get(role, 0.0) for role in after}
    spent.update(extra or {})
    scale = 1_000_000 / max(1, events)  # seconds -> ms, per 1,000 events
    return {role: round(seconds * scale, 1) for role, seconds in spent.items() if seconds > 0}
