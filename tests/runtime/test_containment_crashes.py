"""Host crashes are attributed: the call that killed the host gets a final error, the calls
that merely shared the host are replayed and delivered (docs/sandbox.md, "Host crashes").

Real host, default limits and the default 5 s deadline, also for V8's fatal out-of-memory
error (a call stopped at its deadline while filling memory is MemoryLimit too: docs/sandbox.md,
"Out of memory at the deadline"). The outcome of each result is read the way the pipeline
reads it (runtime/pipeline/outcomes.py). No database.
"""

import os
import signal
import threading
import time

import pytest

from runtime.choices import ErrorCategory
from runtime.pipeline import outcomes
from runtime.sandbox import Sandbox, SandboxRequest

from .test_containment import FATAL_OOM, assert_out_of_memory, healthy_after

SLOW = "async function onTrack(){ await new Promise((r) => setTimeout(r, 1500)); return 'slow done' }"
BYSTANDER = "async function onTrack(){ await new Promise((r) => setTimeout(r, 300)); return 'fine' }"


def req(code, key, payload=None, timeout_ms=5000):
    return SandboxRequest(code, "destination", payload or {"type": "track"}, {}, key, timeout_ms)


def in_thread(fn):
    out = []
    t = threading.Thread(target=lambda: out.extend(fn()))
    t.start()
    return t, out


def host_running(s, calls, old=None, timeout_s=10.0):
    """The pid of the live host (another than ``old``) once ``calls`` calls are in flight on it
    (peeks at the host's pending calls: a loaded box may take a while to start a host)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        host = s._host.current
        if host is not None and not host.dead and host.proc.pid != old and len(host.pending) >= calls:
            time.sleep(0.1)  # written to the host: let it start running them
            return host.proc.pid
        time.sleep(0.01)
    raise AssertionError(f"no host with {calls} calls in flight")


def test_function_that_runs_out_of_memory_is_final_and_its_neighbour_delivered():
    with Sandbox(egress_allow="") as s:
        s.ping()
        pid = s.pid
        bystander, crashed = s.run_many([req(BYSTANDER, "oom-bystander"), req(FATAL_OOM, "oom-self")])
        assert s.pid is not None
        assert_out_of_memory(crashed, s.pid != pid)
        assert not outcomes.is_retryable(crashed.error)
        assert outcomes.category_of(crashed.error) == ErrorCategory.MEMORY
        # The neighbour was delivered (replayed when it was in flight on a host that died).
        assert bystander.status == "success" and bystander.returned == "fine"
        assert bystander.error is None
        healthy_after(s)


def test_a_crash_of_a_batch_is_charged_to_its_event_and_the_others_retried():
    with Sandbox(egress_allow="") as s:
        s.ping()
        code = "async function onTrack(e){ if (e.boom) { " + FATAL_OOM.split("{", 1)[1] + " return 0 }"
        events = [{"type": "track"}, {"type": "track", "boom": True}, {"type": "track"}]
        pid = s.pid
        rs = s.run_batch(req(code, "batch-oom", events))
        crashed_host = s.pid != pid
        assert_out_of_memory(rs[1], crashed_host)
        assert not outcomes.is_retryable(rs[1].error)
        if crashed_host:  # the others' results died with the host: retried
            for r in (rs[0], rs[2]):
                assert r.error["type"] == "SandboxUnavailable" and "during event 1" in r.error["message"]
                assert (
                    outcomes.is_retryable(r.error) and outcomes.category_of(r.error) == ErrorCategory.INTERNAL
                )
        else:  # stopped at event 1's deadline: event 0 kept its result, event 2 was not run
            assert rs[0].status == "success" and rs[0].returned == 0
            assert rs[2].error["type"] == "MemoryLimit" and "Not run" in rs[2].error["message"]
        healthy_after(s)


def test_a_call_that_aborts_a_fresh_host_on_its_own_is_final():
    # A native abort leaves no crash record (as a V8 CHECK failure would): the calls in flight
    # are re-run one at a time, and the one that kills the fresh host alone is charged.
    with Sandbox(egress_allow="") as s:
        s.ping()
        t, results = in_thread(lambda: s.run_many([req(SLOW, "aborts"), req(BYSTANDER, "abort-bystander")]))
        pid = host_running(s, 2)
        os.kill(pid, signal.SIGABRT)
        # The first call, replayed alone on the fresh host, aborts it too.
        os.kill(host_running(s, 1, old=pid), signal.SIGABRT)
        t.join(15)
        crashed, bystander = results
        assert crashed.error["type"] == "Crash" and crashed.error.get("attributed") is True
        assert "twice" in crashed.error["message"]
        assert not outcomes.is_retryable(crashed.error)
        assert bystander.status == "success" and bystander.returned == "fine"
        healthy_after(s)


def test_a_host_killed_from_outside_charges_nobody():
    # SIGKILL from outside (an operator, the kernel, a fault drill), even twice in a row: no
    # call is to blame, every call is replayed and delivered, no strike is counted.
    with Sandbox(egress_allow="", crash_strikes=1) as s:
        s.ping()
        t, results = in_thread(lambda: s.run_many([req(SLOW, "killed"), req(BYSTANDER, "kill-bystander")]))
        pid = host_running(s, 2)
        os.kill(pid, signal.SIGKILL)
        os.kill(host_running(s, 1, old=pid), signal.SIGKILL)
        t.join(15)
        slow, bystander = results
        assert slow.status == "success" and slow.returned == "slow done", slow.error
        assert bystander.status == "success" and bystander.returned == "fine"
        assert s.quarantined() == {}
        healthy_after(s)


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        ({"type": "Crash", "message": "Function crashed the sandbox", "attributed": True}, False),
        ({"type": "Crash", "message": "Function is quarantined until ..."}, True),
        ({"type": "SandboxUnavailable", "message": "crashed 3 times"}, True),
        ({"type": "MemoryLimit", "message": "out of memory", "attributed": True}, False),
        # Only the sandbox sets the mark, and only `true` counts.
        ({"type": "Crash", "message": "x", "attributed": "yes"}, True),
    ],
)
def test_outcome_of_host_deaths(error, retried):
    assert outcomes.is_retryable(error) is retried
    if not retried:
        assert outcomes.category_of(error) != ErrorCategory.INTERNAL
