"""The Node host process: started lazily, spoken to by request id, replaced when it dies.

Standard library only (no Django). ``HostProcess`` owns one ``node --no-node-snapshot
host.js`` child at a time: it spawns it with an explicit environment, writes request lines
to its stdin, and a reader thread hands each reply to the waiting call, so calls from many
threads can be in flight at once. A call gets a hard deadline (its timeout plus ``GRACE_S``,
after the calls queued before it for the same warm instance); past it the host's process
group is killed. When the host exits, the call its crash record charges (or, without one,
the call that kills a fresh host again on its own) gets a final ``MemoryLimit`` or
``Crash`` and a circuit-breaker strike; the other calls in flight are replayed
(breaker.py, docs/sandbox.md "Host crashes").
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from typing import Any

from . import jsoncodec
from .breaker import (
    CRASHED_TWICE,
    MAX_CRASHES_PER_CALL,
    UNRESPONSIVE,
    CircuitBreaker,
    breaker_key,
    culprit_error,
    culprit_of,
    parse_crash_line,
)
from .engine import engine_problem, node_path
from .limits import SandboxLimits
from .protocol import SandboxUnavailable, error_reply, error_result, too_deep_reply

GRACE_S = 2.0  # Python-side hard deadline = host deadline + grace


def host_env(*, egress_allow: str, fetch_answers: list[dict], limits: SandboxLimits, extra: dict) -> dict:
    """The host's whole environment: never this process's (it holds the platform's secrets)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "FUNCTIONS_EGRESS_ALLOW": egress_allow or "",
        "FUNCTIONS_FETCH_ANSWERS": json.dumps(fetch_answers),
        "SANDBOX_LIMITS": limits.to_json(),
        "NODE_ENV": "production",
    }
    env.update({str(k): str(v) for k, v in extra.items()})
    return env


class Call:
    """One request line in flight and the reply it waits for."""

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
        "breaker",
        "crashes",
    )

    def __init__(self, line: str, timeout_s: float, key: str | None, breaker: str | None = None):
        self.id = 0
        self.breaker = breaker  # circuit-breaker key of the function (None: not counted)
        self.line = line
        self.done = threading.Event()
        self.reply: dict | None = None
        self.timeout_s = timeout_s
        self.key = key  # instance key: calls of one warm instance queue behind each other
        self.hard_deadline = 0.0
        self.solo = False
        self.hard_timeout = False
        self.crashes = 0  # host crashes this call was in flight for

    def finish(self, reply: dict) -> None:
        if not self.done.is_set():
            self.reply = reply
            self.done.set()

    def numbered_line(self) -> bytes:
        return self.line.replace('"id":0', f'"id":{self.id}', 1).encode()


class _Process:
    """One running node process plus its reader threads."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.pending: dict[int, Call] = {}
        self.dead = False
        self.crash: dict | None = None  # its SANDBOX_CRASH record, if it wrote one
        self.killed_here = False  # SIGKILLed by this side (hard deadline, close), not from outside
        self.stderr_done = threading.Event()

    def queued_until(self, key: str | None, start: float) -> float:
        """When the calls in flight for instance ``key`` end at the latest (``start`` if none)."""
        if key is None:
            return start
        for other in self.pending.values():
            if other.key == key and other.hard_deadline - GRACE_S > start:
                start = other.hard_deadline - GRACE_S
        return start


class HostProcess:
    """The current host process of one ``Sandbox``, and its recovery when it dies."""

    def __init__(self, *, node_binary: str, host_dir: str, env: dict, breaker: CircuitBreaker):
        self.node_binary = node_binary
        self.host_dir = host_dir
        self.env = env
        self.breaker = breaker
        self._lock = threading.RLock()  # guards _process, ids, writes
        self._idle = threading.Condition(self._lock)
        self._recovering = 0
        self._process: _Process | None = None
        self._next_id = 0
        self._closed = False
        self._node_checked = False

    @property
    def current(self) -> _Process | None:
        return self._process

    @property
    def pid(self) -> int | None:
        p = self._process
        return p.proc.pid if p is not None and not p.dead else None

    # ---- start ---------------------------------------------------------------------------
    def _check_node(self) -> str:
        if not self._node_checked:
            problem = engine_problem(self.node_binary, self.host_dir)
            if problem:
                raise SandboxUnavailable(problem)
            self._node_checked = True
        return node_path(self.node_binary)

    def _spawn(self) -> _Process:
        node = self._check_node()
        try:
            proc = subprocess.Popen(
                [node, "--no-node-snapshot", os.path.join(self.host_dir, "host.js")],
                cwd=self.host_dir,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self.env,
                bufsize=-1,  # buffered: readline must not read byte by byte
                start_new_session=True,  # own process group, so we can kill it as a whole
                close_fds=True,
            )
        except OSError as e:
            raise SandboxUnavailable(f"cannot start sandbox host: {e}") from e
        self._await_ready(proc)
        process = _Process(proc)
        threading.Thread(target=self._reader, args=(process,), name="sandbox-reader", daemon=True).start()
        threading.Thread(
            target=self._stderr_reader, args=(process,), name="sandbox-stderr", daemon=True
        ).start()
        return process

    @staticmethod
    def _await_ready(proc: subprocess.Popen) -> None:
        first = proc.stdout.readline()
        try:
            ready = json.loads(first) if first else None
        except ValueError:
            ready = None
        if ready and ready.get("ready"):
            return
        err = b""
        try:
            proc.kill()
            err = proc.stderr.read() or b""
        except Exception:  # noqa: BLE001
            pass
        raise SandboxUnavailable(
            f"sandbox host did not start: {(first or b'').decode(errors='replace')}{err.decode(errors='replace')[-2000:]}"
        )

    def _ensure_locked(self) -> _Process:
        if self._closed:
            raise SandboxUnavailable("sandbox is closed")
        if self._process is None or self._process.dead:
            self._process = self._spawn()
        return self._process

    # ---- readers ---------------------------------------------------------------------------
    def _stderr_reader(self, process: _Process) -> None:
        # Drained so the pipe never fills; keeps the crash record (the call it charges).
        try:
            for line in process.proc.stderr:
                record = parse_crash_line(line)
                if record is not None:
                    process.crash = record
        except Exception:  # noqa: BLE001
            pass
        finally:
            process.stderr_done.set()

    def _reader(self, process: _Process) -> None:
        loads = jsoncodec.loads
        try:
            for line in process.proc.stdout:
                try:
                    msg = loads(line)
                except ValueError:
                    continue
                except RecursionError:  # a returned value nested deeper than Python parses
                    msg = too_deep_reply(line)
                if isinstance(msg, dict):
                    self._dispatch(process, msg)
        except Exception:  # noqa: BLE001
            pass
        self._on_exit(process)

    def _dispatch(self, process: _Process, msg: dict) -> None:
        with self._lock:
            call = process.pending.pop(msg.get("id"), None)
        if call is not None:
            if msg.get("strike") is True:  # stopped at its deadline while filling memory
                self.breaker.strike(call.breaker)
            call.finish(msg)

    # ---- send and wait ---------------------------------------------------------------------
    def send(self, call: Call, internal: bool = False) -> None:
        """Numbers ``call`` and writes it to the host (started if need be). Unless ``internal``
        (a replay), waits while a host death is being recovered from."""
        with self._lock:
            if not internal:
                self._await_recovery_locked()
            process = self._ensure_locked()
            self._next_id += 1
            call.id = self._next_id
            call.hard_deadline = process.queued_until(call.key, time.monotonic()) + call.timeout_s + GRACE_S
            process.pending[call.id] = call
            self._write(process, call.numbered_line())

    def send_many(self, calls: list[Call]) -> None:
        """Sends ``calls`` pipelined: ids first, then one write for the whole batch."""
        with self._lock:
            self._await_recovery_locked()
            process = self._ensure_locked()
            now = time.monotonic()
            last_by_key: dict[str, float] = {}
            for other in process.pending.values():
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
                process.pending[c.id] = c
            self._write(process, b"".join(c.numbered_line() for c in calls))

    def _await_recovery_locked(self) -> None:
        while self._recovering:
            self._idle.wait()

    @staticmethod
    def _write(process: _Process, data: bytes) -> None:
        try:
            process.proc.stdin.write(data)
            process.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass  # the reader sees EOF and replays pending calls

    def wait(self, call: Call) -> dict:
        """Waits for the reply; past the hard deadline the host is killed (pid group)."""
        while not call.done.is_set():
            remaining = call.hard_deadline - time.monotonic()
            if remaining > 0:
                call.done.wait(remaining)
                continue
            with self._lock:
                process = self._process
                if (
                    not call.done.is_set()
                    and process is not None
                    and call.id in process.pending
                    and not call.hard_timeout
                ):
                    call.hard_timeout = True
                    self._kill(process)
            call.done.wait(0.05)
        return call.reply or error_reply("Timeout", "Function timed out (sandbox host unresponsive)")

    def call(self, call: Call) -> dict:
        """Sends ``call`` and returns its reply."""
        self.send(call)
        return self.wait(call)

    # ---- stop ------------------------------------------------------------------------------
    def _kill(self, process: _Process) -> None:
        process.killed_here = True
        try:
            os.killpg(process.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError, OSError):
            with contextlib.suppress(Exception):
                process.proc.kill()

    def close(self) -> None:
        """Closes the host's stdin and waits 2 s for it to exit, then kills it. Final."""
        with self._lock:
            self._closed = True
            process = self._process
            self._process = None
        if process is not None:
            with contextlib.suppress(Exception):
                process.proc.stdin.close()
            try:
                process.proc.wait(timeout=2)
            except Exception:  # noqa: BLE001
                self._kill(process)

    # ---- recovery --------------------------------------------------------------------------
    def _on_exit(self, process: _Process) -> None:
        try:
            process.proc.wait(timeout=5)
        except Exception:  # noqa: BLE001
            self._kill(process)
        process.stderr_done.wait(2)  # the crash record, written just before the abort
        with self._lock:
            process.dead = True
            orphans = sorted(process.pending.values(), key=lambda c: c.id)
            process.pending.clear()
            if self._process is process:
                self._process = None
            if not orphans and process.crash is None:
                return
            self._recovering += 1
        try:
            self._recover(process.crash, orphans, killed_outside=self._killed_outside(process))
        finally:
            with self._lock:
                self._recovering -= 1
                self._idle.notify_all()

    @staticmethod
    def _killed_outside(process: _Process) -> bool:
        """SIGKILLed by someone else (an operator, the kernel, a fault drill) and not by a
        crash of its own: a host death that says nothing about the calls in flight."""
        return (
            process.crash is None and not process.killed_here and process.proc.returncode == -signal.SIGKILL
        )

    def _recover(self, record: dict | None, orphans: list[Call], *, killed_outside: bool = False) -> None:
        """Charges the culprit of a host death and replays its victims (docs/sandbox.md)."""
        if not self._closed:
            # The fresh host first, so the culprit's answer finds the sandbox ready again.
            with self._lock, contextlib.suppress(SandboxUnavailable):
                self._ensure_locked()
        culprit = culprit_of(record)
        charged = culprit.get("id") if culprit else None
        if culprit and charged not in {c.id for c in orphans}:
            # Already answered (e.g. Timeout, then its isolate would not stop): a strike only.
            self.breaker.strike(breaker_key(culprit.get("instance_key"), culprit.get("code_hash")))
        victims = [c for c in orphans if not self._settle(c, record, culprit, charged, killed_outside)]
        if charged is not None or any(c.hard_timeout for c in orphans):
            self._replay(victims)  # the culprit is known: the others run again together
        else:
            for call in victims:  # unknown culprit: one at a time, so the next crash names it
                self._replay([call], solo=True)

    def _settle(
        self, call: Call, record: dict | None, culprit: dict, charged: Any, killed_outside: bool
    ) -> bool:
        """Finishes an orphan of a host death that is not to be replayed; False: a victim."""
        call.crashes += 1
        if call.hard_timeout:
            self._charge(call, *UNRESPONSIVE)
        elif charged is not None and call.id == charged:
            self._charge(call, *culprit_error(record), event=culprit.get("event"))
        elif call.solo and not killed_outside:  # it killed a fresh host on its own
            self._charge(call, *(culprit_error(record) if record else CRASHED_TWICE))
        elif self._closed:
            call.finish(error_reply("SandboxUnavailable", "sandbox closed"))
        elif call.crashes >= MAX_CRASHES_PER_CALL:
            message = f"the sandbox host crashed {call.crashes} times while this call was in flight"
            call.finish(error_reply("SandboxUnavailable", message))
        else:
            return False
        return True

    def _charge(self, call: Call, etype: str, message: str, event: Any = None) -> None:
        """Final result of the call a host death is charged to, and a strike for its function.
        ``event``: for run_batch, the index of the event in progress when the host died."""
        self.breaker.strike(call.breaker)
        reply = {"result": error_result(etype, message, attributed=True).to_dict()}
        if isinstance(event, int) and not isinstance(event, bool) and event >= 0:
            reply["event"] = event
        call.finish(reply)

    def _replay(self, calls: list[Call], solo: bool = False) -> None:
        """Sends ``calls`` again to a fresh host; with ``solo`` waits for the (one) call."""
        for call in calls:
            call.solo = solo
            try:
                self.send(call, internal=True)
            except SandboxUnavailable as e:
                call.finish(error_reply("SandboxUnavailable", str(e)))
                continue
            if solo:
                self.wait(call)
