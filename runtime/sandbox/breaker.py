"""Host crashes: the host's crash record, which call is charged, and the circuit breaker.

Standard library only (no Django). The contract (docs/sandbox.md, "Host crashes"): a call
that kills the host is the *culprit*; its result is final (``MemoryLimit`` when memory
killed the host, ``Crash`` otherwise), never an infrastructure failure, and it is a strike
for its function; ``crash_strikes`` strikes within ``crash_window_s`` quarantine the
function for ``quarantine_s``. The other calls in flight are *victims*: replayed
transparently, or ``SandboxUnavailable`` when the sandbox cannot serve them.
"""

from __future__ import annotations

import json
import threading
import time

CRASH_PREFIX = b"SANDBOX_CRASH "
CRASH_STRIKES = 2
CRASH_WINDOW_S = 300.0
QUARANTINE_S = 600.0
# A victim whose host crashed this many times under it gets SandboxUnavailable.
MAX_CRASHES_PER_CALL = 3


def breaker_key(instance_key: str | None, code_hash: str | None) -> str | None:
    """Per instance when there is one (tenants sharing a template's code are not penalised
    for each other's data), else per code."""
    if instance_key is not None:
        return f"instance:{instance_key}"
    return f"code:{code_hash}" if code_hash else None


def parse_crash_line(line: bytes) -> dict | None:
    """The record of a ``SANDBOX_CRASH {...}`` stderr line (None for any other line)."""
    if not line.startswith(CRASH_PREFIX):
        return None
    try:
        record = json.loads(line[len(CRASH_PREFIX) :])
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def culprit_of(record: dict | None) -> dict:
    """The record's culprit: {"id", "instance_key", "code_hash"} (empty when it names none)."""
    culprit = (record or {}).get("culprit")
    return culprit if isinstance(culprit, dict) else {}


def culprit_error(record: dict | None) -> tuple[str, str]:
    """(error type, message) for the call the host charged in its crash record."""
    reason = str((record or {}).get("reason") or "")
    if reason == "oom":
        return (
            "MemoryLimit",
            "Function crashed the sandbox: it ran out of memory (V8 fatal out-of-memory error)",
        )
    if reason == "memory":
        return "MemoryLimit", f"Function crashed the sandbox: {(record or {}).get('message')}"
    if reason == "stuck":
        return "Crash", "Function crashed the sandbox: its isolate did not stop after its deadline"
    return (
        "Crash",
        f"Function crashed the sandbox: {str((record or {}).get('message') or 'fatal error')[:200]}",
    )


UNRESPONSIVE = ("Crash", "Function made the sandbox host unresponsive: no answer well past its deadline")
CRASHED_TWICE = ("Crash", "Function crashed the sandbox host twice (with other calls in flight, then alone)")


class CircuitBreaker:
    """Strikes per function key; too many within the window quarantine the key."""

    def __init__(
        self,
        strikes: int = CRASH_STRIKES,
        window_s: float = CRASH_WINDOW_S,
        quarantine_s: float = QUARANTINE_S,
    ):
        self.strikes = strikes
        self.window_s = window_s
        self.quarantine_s = quarantine_s
        self._lock = threading.Lock()
        self._strikes: dict[str, list[float]] = {}  # key -> monotonic times of its strikes
        self._quarantine: dict[str, tuple[float, float]] = {}  # key -> (monotonic end, wall-clock end)

    def strike(self, key: str | None) -> None:
        if key is None or self.strikes <= 0:
            return
        now = time.monotonic()
        with self._lock:
            strikes = [t for t in self._strikes.get(key, []) if now - t < self.window_s]
            strikes.append(now)
            if len(strikes) >= self.strikes:
                self._quarantine[key] = (now + self.quarantine_s, time.time() + self.quarantine_s)
                self._strikes.pop(key, None)
            else:
                self._strikes[key] = strikes
            if len(self._strikes) > 10000:  # bounded: forget the oldest keys
                for k in list(self._strikes)[:5000]:
                    del self._strikes[k]

    def refusal(self, key: str) -> str | None:
        """Why a call of ``key`` must not run (it is quarantined), else None."""
        if not self._quarantine:
            return None
        with self._lock:
            q = self._quarantine.get(key)
            if q is None:
                return None
            if time.monotonic() >= q[0]:
                del self._quarantine[key]
                return None
        until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(q[1]))
        return (
            f"Function is quarantined until {until}: it crashed the sandbox {self.strikes} times "
            f"within {int(self.window_s)} s; it was not run"
        )

    def quarantined(self) -> dict[str, float]:
        now = time.monotonic()
        with self._lock:
            return {k: round(v[0] - now, 1) for k, v in self._quarantine.items() if v[0] > now}

    def release(self, key: str | None = None) -> None:
        with self._lock:
            if key is None:
                self._quarantine.clear()
                self._strikes.clear()
            else:
                self._quarantine.pop(key, None)
                self._strikes.pop(key, None)
