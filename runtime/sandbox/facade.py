"""The ``Sandbox``: what the rest of the platform calls to run, batch and check functions.

Standard library only (no Django). It validates and encodes each request (protocol.py),
refuses the calls of quarantined functions (breaker.py) and leaves the process to its
``HostProcess`` (host.py). ``get_sandbox()`` keeps one per process.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from .breaker import CRASH_STRIKES, CRASH_WINDOW_S, QUARANTINE_S, CircuitBreaker, breaker_key
from .engine import ENGINE_NODE, HOST_DIR
from .host import Call, HostProcess, host_env
from .limits import SandboxLimits
from .protocol import (
    KINDS,
    PING_LINE,
    CheckResult,
    CodeFragments,
    SandboxRequest,
    SandboxResult,
    batch_failure,
    batch_refusal,
    batch_results,
    check_failed,
    check_line,
    check_result,
    error_result,
    request_line,
    to_result,
)

log = logging.getLogger(__name__)


class Sandbox:
    """A long-lived Node host running functions in isolates (docs/sandbox.md).

    Thread-safe: calls from many threads share one host. ``node_binary`` defaults to the pinned
    engine; ``limits`` go to the host at start (``max_warm`` overrides one of them); ``env`` adds
    variables to the host's explicit environment. ``fetch_answers`` are the host's standing fetch
    answer rules and ``on_captured(request, captures)`` receives, after each call (or each
    instance's calls), whatever fetches they took. Raises ``SandboxUnavailable`` from a call
    when the host cannot be started.
    """

    def __init__(
        self,
        *,
        node_binary: str | None = None,
        host_dir: str = HOST_DIR,
        egress_allow: str = "",
        limits: SandboxLimits | None = None,
        max_warm: int | None = None,
        env: dict | None = None,
        crash_strikes: int = CRASH_STRIKES,
        crash_window_s: float = CRASH_WINDOW_S,
        quarantine_s: float = QUARANTINE_S,
        fetch_answers: list[dict] | None = None,
        on_captured: Callable[[SandboxRequest, list[dict]], None] | None = None,
    ):
        self.node_binary = node_binary or ENGINE_NODE
        self.host_dir = host_dir
        self.egress_allow = egress_allow
        self.fetch_answers = list(fetch_answers or [])
        self.on_captured = on_captured
        limits = limits or SandboxLimits()
        self.limits = limits if max_warm is None else dataclasses.replace(limits, max_warm=max_warm)
        self.extra_env = dict(env or {})
        self.breaker = CircuitBreaker(crash_strikes, crash_window_s, quarantine_s)
        self._codes = CodeFragments()
        env = host_env(
            egress_allow=egress_allow,
            fetch_answers=self.fetch_answers,
            limits=self.limits,
            extra=self.extra_env,
        )
        self._host = HostProcess(
            node_binary=self.node_binary, host_dir=host_dir, env=env, breaker=self.breaker
        )

    @property
    def pid(self) -> int | None:
        """The running host's pid (None before the first call and while it is replaced)."""
        return self._host.pid

    # ---- requests ----------------------------------------------------------------------------
    def _encode(
        self,
        req: SandboxRequest,
        op: str,
        payload_value: Any,
        *,
        extra: str = "",
    ) -> tuple[str, int, str] | SandboxResult:
        """The request line for the host (id 0, replaced when sent), its timeout and breaker
        key, or the error result when the request must not reach the host at all."""
        code_part, code_hash = self._codes.get(req.code)
        breaker = breaker_key(req.instance_key, code_hash)
        refusal = self.breaker.refusal(breaker)
        if refusal is not None:
            return error_result("Crash", refusal)
        encoded = request_line(req, op, payload_value, code_part, self.limits, extra=extra)
        if isinstance(encoded, SandboxResult):
            return encoded
        return (*encoded, breaker)

    def _prepare(self, req: SandboxRequest) -> Call | SandboxResult:
        if req.kind not in KINDS:
            return error_result("InvalidRequest", f"unknown function kind {req.kind!r}")
        encoded = self._encode(req, "run", req.payload)
        if isinstance(encoded, SandboxResult):
            return encoded
        line, timeout_ms, breaker = encoded
        return Call(line, timeout_ms / 1000.0, req.instance_key, breaker)

    def _hand_over(self, request: SandboxRequest, results: list[SandboxResult]) -> None:
        # Best effort: whatever the receiver does, the call's results are the caller's.
        if self.on_captured is None:
            return
        captured = [c for r in results for c in r.captured]
        if not captured:
            return
        try:
            self.on_captured(request, captured)
        except Exception:  # noqa: BLE001
            log.warning("on_captured failed for %s", request.instance_key, exc_info=True)

    def _hand_over_by_instance(self, requests: list[SandboxRequest], results: list[SandboxResult]) -> None:
        by_key: dict[str | None, tuple[SandboxRequest, list[SandboxResult]]] = {}
        for request, result in zip(requests, results, strict=True):
            if result.captured:
                by_key.setdefault(request.instance_key, (request, []))[1].append(result)
        for request, captured in by_key.values():  # one hand-over per instance, not per call
            self._hand_over(request, captured)

    # ---- calls -------------------------------------------------------------------------------
    def run(self, request: SandboxRequest) -> SandboxResult:
        """Runs one call of ``request.kind``'s handler for ``request.payload``."""
        return self.run_many([request])[0]

    def run_many(self, requests: list[SandboxRequest]) -> list[SandboxResult]:
        """Runs ``requests`` concurrently in the host (one write); results in input order."""
        prepared = [self._prepare(r) for r in requests]
        calls = [c for c in prepared if isinstance(c, Call)]
        if calls:
            self._host.send_many(calls)
        out = [p if isinstance(p, SandboxResult) else to_result(self._host.wait(p)) for p in prepared]
        self._hand_over_by_instance(requests, out)
        return out

    def run_batch(self, request: SandboxRequest) -> list[SandboxResult]:
        """Runs each event of ``request.payload`` (a list) through its per-type handler.

        Destination / insert semantics per event (dispatch by ``event.type``; never
        ``onBatch``), sequentially, in one host message and one isolate crossing. Returns
        one SandboxResult per event, in input order, each with its own logs and fetch
        trace. Each event has ``timeout_ms`` from its own start; the whole batch has
        ``min(60 s, timeout_ms + len(events) * 250 ms)``. If an event times out (or hits
        the memory limit) the isolate is disposed: the events before it keep their
        results, it gets the error, and the events after it get the same error type with
        a "Not run" message. Events not started by the batch deadline get ``Timeout``.
        """
        events = request.payload
        if not isinstance(events, (list, tuple)):
            raise TypeError("run_batch: request.payload must be a list of events")
        n = len(events)
        if n == 0:
            return []
        refusal = batch_refusal(request)
        if refusal is not None:
            return [error_result("InvalidRequest", refusal) for _ in range(n)]
        encoded = self._encode(
            request,
            "run_batch",
            list(events),
            extra=',"count":' + str(n),
        )
        if isinstance(encoded, SandboxResult):
            return [encoded] * n
        line, timeout_ms, breaker = encoded
        batch_ms = min(self.limits.max_timeout_ms, timeout_ms + n * self.limits.batch_event_allowance_ms)
        reply = self._host.call(Call(line, batch_ms / 1000.0, request.instance_key, breaker))
        results = batch_results(reply, n)
        if results is None:
            return batch_failure(reply, n)
        self._hand_over(request, results)
        return results

    def check(self, code: str, kind: str) -> CheckResult:
        """Whether ``code`` compiles and defines the handlers ``kind`` needs (nothing runs)."""
        if kind not in KINDS:
            return check_failed("InvalidRequest", f"unknown function kind {kind!r}")
        reply = self._host.call(Call(check_line(kind, code), self.limits.check_timeout_ms / 1000.0, None))
        return check_result(kind, reply)

    def ping(self) -> dict:
        """The host's answer to a ping (it is started if need be)."""
        return self._host.call(Call(PING_LINE, 2.0, None))

    def close(self) -> None:
        """Stops the host; later calls raise ``SandboxUnavailable``."""
        self._host.close()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- circuit breaker -----------------------------------------------------------------
    def quarantined(self) -> dict[str, float]:
        """Quarantined function keys -> seconds of quarantine left."""
        return self.breaker.quarantined()

    def release_quarantine(self, key: str | None = None) -> None:
        """Ends the quarantine (and forgets the strikes) of one key, or of all keys."""
        self.breaker.release(key)


_global_lock = threading.Lock()
_global: tuple[int, Sandbox] | None = None


def get_sandbox(**kwargs) -> Sandbox:
    """One lazily created Sandbox per process (a forked child creates its own)."""
    global _global
    pid = os.getpid()
    with _global_lock:
        if _global is None or _global[0] != pid:
            if "egress_allow" not in kwargs:
                kwargs["egress_allow"] = os.environ.get("FUNCTIONS_EGRESS_ALLOW", "")
            _global = (pid, Sandbox(**kwargs))
        return _global[1]
