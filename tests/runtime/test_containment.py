"""Containment of hostile functions against the real host, with the default limits.

Each hostile call is followed by a healthy call of another instance that must be served by
the live host (no restart on its account) within 100 ms (docs/sandbox.md, "Limits").
No Django, no database.
"""

import os
import signal
import threading
import time

import pytest

from runtime.sandbox import Sandbox, SandboxRequest

HEALTHY = "async function onTrack(){ return 'ok' }"
# Fills an array (dictionary elements: its length is set first) until V8 cannot grow it even
# with isolated-vm's extra headroom: V8's fatal out-of-memory error, which aborts the whole
# host process (about 2 s on an idle machine, several times that on a loaded one).
FATAL_OOM = "async function onTrack(){ const a = []; a.length = 1.2e8; for (let i = 0; i < 1.2e8; i++) a[i] = i; return a.length }"


def assert_out_of_memory(result, crashed_host):
    """``result`` of FATAL_OOM with the default 5 s deadline: MemoryLimit either way. Either the
    fill reached V8's fatal error first (the host died: charged, ``attributed``), or the
    deadline came first, with the isolate still filling memory (the host lives on)."""
    assert result.status == "error" and result.error["type"] == "MemoryLimit", result.error
    if crashed_host:
        assert result.error.get("attributed") is True
        assert "out of memory" in result.error["message"] or "filling memory" in result.error["message"]
    else:
        assert "still filling memory when stopped at its deadline" in result.error["message"]


@pytest.fixture(scope="module")
def sb():
    s = Sandbox(egress_allow="")
    s.ping()  # a live host to begin with
    yield s
    s.close()


def call(sb, code, key, payload=None, timeout_ms=None, kind="destination"):  # noqa: PLR0913
    req = SandboxRequest(
        code, kind, payload if payload is not None else {"type": "track"}, {}, instance_key=key
    )
    if timeout_ms is not None:
        req = SandboxRequest(req.code, req.kind, req.payload, req.settings, key, timeout_ms)
    return sb.run(req)


def healthy_after(sb):
    """The healthy neighbour's call: served by the host that is live now, within 100 ms."""
    pid = sb.pid
    assert pid is not None, "no live host after the hostile call"
    t0 = time.perf_counter()
    r = call(sb, HEALTHY, "healthy-neighbour")
    elapsed_ms = (time.perf_counter() - t0) * 1000
    assert r.status == "success" and r.returned == "ok", r.error
    assert sb.pid == pid
    assert elapsed_ms < 100, f"healthy call took {elapsed_ms:.0f} ms"


def host_peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


# ---- timers ------------------------------------------------------------------------------


def test_interval_flood_does_not_crash_the_host(sb):
    pid = sb.pid
    code = """async function onTrack(){ let n = 0;
      for (let i = 0; i < 99; i++) setInterval(() => { n++ }, 1);
      await new Promise((r) => setTimeout(r, 2000)); return n }"""
    r = call(sb, code, "interval-flood")
    assert r.status == "success", r.error
    # 99 intervals clamped to the 10 ms minimum for 2 s: at most ~100 fires each.
    assert 0 < r.returned <= 99 * 205
    assert sb.pid == pid
    healthy_after(sb)


def test_timer_caps_throw_to_the_caller(sb):
    pending = "async function onTrack(){ for (let i = 0; i < 101; i++) setTimeout(() => {}, 1000) }"
    r = call(sb, pending, "timer-pending")
    assert r.error["type"] == "RangeError" and "at most 100 pending timers" in r.error["message"]
    starts = """async function onTrack(){ for (let i = 0; i < 20000; i++) { const t = setTimeout(() => {}, 1000); clearTimeout(t) } }"""
    r = call(sb, starts, "timer-starts")
    assert r.error["type"] == "RangeError" and "at most 10000 timers per invocation" in r.error["message"]
    expiring = """async function onTrack(){ for (let k = 0; k < 99; k++) await new Promise((r) => {
      for (let i = 0; i < 99; i++) setTimeout(i === 98 ? r : () => {}, 1) }); return 'done' }"""
    assert call(sb, expiring, "timer-expiring").returned == "done"
    healthy_after(sb)


def test_timers_of_a_call_never_fire_after_it(sb):
    code = """let n = 0; async function onTrack(e){
      if (e.start) { setInterval(() => { n++ }, 10); setTimeout(() => { n += 1000 }, 50); return n }
      return n }"""
    assert call(sb, code, "timer-leak", {"type": "track", "start": True}).returned == 0
    time.sleep(0.2)
    assert call(sb, code, "timer-leak").returned == 0
    fast = "async function onTrack(){ let n = 0; setInterval(() => { n++ }, 0); await new Promise((r) => setTimeout(r, 200)); return n }"
    assert call(sb, fast, "timer-min").returned <= 21  # the 10 ms minimum interval
    healthy_after(sb)


# ---- crashes -------------------------------------------------------------------------------


def test_fatal_oom_is_charged_to_its_call_and_the_others_replayed(sb):
    healthy_after(sb)
    pid = sb.pid
    bystander = SandboxRequest(
        "async function onTrack(){ await new Promise((r) => setTimeout(r, 300)); return 'fine' }",
        "destination",
        {"type": "track"},
        {},
        instance_key="bystander",
    )
    # The default 5 s deadline: MemoryLimit whether V8's fatal error or the deadline comes first.
    crasher = SandboxRequest(FATAL_OOM, "destination", {"type": "track"}, {}, "oom-culprit")
    ok, crashed = sb.run_many([bystander, crasher])
    assert_out_of_memory(crashed, sb.pid != pid)
    assert ok.status == "success" and ok.returned == "fine"
    healthy_after(sb)
    # A second one is the second strike: the function is quarantined, not run a third time.
    pid = sb.pid
    assert_out_of_memory(sb.run(crasher), sb.pid != pid)
    pid = sb.pid
    refused = sb.run(crasher)
    assert refused.error["type"] == "Crash" and "quarantined" in refused.error["message"]
    assert sb.pid == pid and "instance:oom-culprit" in sb.quarantined()
    healthy_after(sb)


# About 88 MB of heap held, then a spin (running) or a wait (not running) until the deadline.
HOLD = "const keep = []; for (let i = 0; i < 110; i++) keep.push(new Array(1e5).fill(i + 0.5));"


def test_call_filling_memory_at_its_deadline_is_memory_limit_and_a_strike():
    # The isolate cannot be read while it runs: a call stopped at its deadline that grew the host
    # by most of its limit while running is out of memory (docs/sandbox.md, "Out of memory at
    # the deadline"), not a Timeout the pipeline would retry; one that was waiting is a Timeout.
    with Sandbox(egress_allow="") as s:
        s.ping()
        pid = s.pid
        spin = SandboxRequest(
            "async function onTrack(){ " + HOLD + " for (;;) {} }",
            "destination",
            {"type": "track"},
            {},
            "hold-spin",
            3000,
        )
        r = s.run(spin)
        assert r.error["type"] == "MemoryLimit" and "still filling memory" in r.error["message"], r.error
        assert "attributed" not in r.error and s.pid == pid
        wait = SandboxRequest(
            "async function onTrack(){ " + HOLD + " await new Promise(() => {}) }",
            "destination",
            {"type": "track"},
            {},
            "hold-wait",
        )
        assert s.run(wait).error["type"] == "Timeout"
        healthy_after(s)
        assert s.run(spin).error["type"] == "MemoryLimit"  # the second strike
        refused = s.run(spin)
        assert refused.error["type"] == "Crash" and "quarantined" in refused.error["message"]
        assert "instance:hold-wait" not in s.quarantined()


def test_isolate_that_does_not_stop_takes_the_host_down_charged_to_it():
    # Searching a huge sparse array never checks for termination (and allocates nothing):
    # disposing the isolate at the deadline does not stop its thread (it would run ~20 s
    # more), so the host aborts stuck_ms later, and the call is charged: `Crash`, final (a
    # Timeout would be retried by the pipeline into the same crash), never left unanswered.
    with Sandbox(egress_allow="", crash_strikes=1) as s:
        s.ping()
        healthy_after(s)
        pid = s.pid
        code = "async function onTrack(){ return new Array(1e9).lastIndexOf(1) }"
        t0 = time.monotonic()
        r = call(s, code, "stuck")
        assert r.error["type"] == "Crash" and r.error.get("attributed") is True, r.error
        # deadline 5 s + stuck_ms 2 s (or the Python-side grace of 2 s, whichever ends first)
        assert time.monotonic() - t0 < 9
        assert "instance:stuck" in s.quarantined()  # one strike (crash_strikes=1)
        assert s.pid != pid
        healthy_after(s)


def test_unresponsive_host_is_charged_to_the_call_past_its_deadline():
    with Sandbox(egress_allow="") as s:
        s.ping()
        healthy_after(s)
        slow = SandboxRequest(
            "async function onTrack(){ return 'slow' }", "destination", {"type": "track"}, {}, "late", 500
        )
        other = SandboxRequest(HEALTHY, "destination", {"type": "track"}, {}, "victim")
        pid = s.pid
        os.kill(pid, signal.SIGSTOP)  # the host stops answering (as if it hung)
        results = []
        t = threading.Thread(target=lambda: results.extend(s.run_many([slow, other])))
        t.start()
        t.join(10)
        late, victim = results
        assert late.error["type"] == "Crash" and "unresponsive" in late.error["message"]
        assert victim.status == "success" and victim.returned == "ok"  # replayed
        assert s.pid != pid
        healthy_after(s)


# ---- memory ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "types"),
    [
        # resizable and growable buffers are refused (they bypass the accounting)
        ("new ArrayBuffer(0, { maxByteLength: 2 ** 32 }).resize(2 ** 32)", {"RangeError"}),
        ("new (new Uint8Array(1).buffer.constructor)(0, { maxByteLength: 2 ** 32 })", {"RangeError"}),
        ("return typeof SharedArrayBuffer + typeof Atomics + typeof WebAssembly", None),
        ("new Uint8Array(1e9).fill(1)", {"RangeError", "MemoryLimit"}),
        (
            "const k = []; for (let i = 0; i < 100; i++) k.push(new Float64Array(5e6).fill(1))",
            {"RangeError", "MemoryLimit"},
        ),
        ("return 'ab'.repeat(2 ** 28 - 64).indexOf('c')", {"MemoryLimit"}),
        ("return JSON.parse('[' + '1,'.repeat(3e7) + '1]').length", {"MemoryLimit"}),
        ("const m = new Map(); for (let i = 0; ; i++) m.set(i, { i })", {"MemoryLimit"}),
        ("return Array.from({ length: 3e7 }, (_, i) => 'x' + i).length", {"MemoryLimit"}),
    ],
)
def test_memory_all_counted(sb, body, types):
    r = call(sb, f"async function onTrack(){{ {body} }}", "memory-hog")
    if types is None:
        assert r.status == "success" and r.returned == "undefinedundefinedundefined"
    else:
        assert r.status == "error" and r.error["type"] in types, r.error
    healthy_after(sb)


@pytest.mark.parametrize(
    "grow",
    [
        "const s = 'x'.repeat(40 * 1024 * 1024 - 32) + Math.random(); s.indexOf('y'); keep.push(s)",
        "keep.push(new Uint8Array(40 * 1024 * 1024).fill(1))",
    ],
)
def test_module_scope_cannot_keep_more_than_the_limit(sb, grow):
    code = f"const keep = []; async function onTrack(){{ {grow}; return keep.length }}"
    results = [call(sb, code, "hoarder") for _ in range(5)]
    outcomes = [r.returned if r.status == "success" else r.error["type"] for r in results]
    # 40 MB a call against 128 MB: never 4 of them held at once; the calls past the limit fail
    held = [o for o in outcomes if isinstance(o, int)]
    assert max(held) <= 3 and {"MemoryLimit", "RangeError"} & set(outcomes), outcomes
    healthy_after(sb)


def test_host_memory_ceiling_holds_under_concurrent_hogs():
    with Sandbox(egress_allow="") as s:
        s.ping()
        healthy_after(s)
        pid = s.pid
        hog = "async function onTrack(){ const a = '\\u1234'.repeat(2 ** 29 - 64); return a.indexOf('z') }"
        reqs = [
            SandboxRequest(hog, "destination", {"type": "track"}, {}, instance_key=f"hog-{i}")
            for i in range(3)
        ]
        results = s.run_many(reqs)
        assert all(r.error and r.error["type"] == "MemoryLimit" for r in results), [r.error for r in results]
        if s.pid == pid:  # contained without a host abort: its peak stayed under the ceiling
            assert host_peak_rss_mb(pid) <= s.limits.host_memory_mb
        healthy_after(s)


# ---- limits ---------------------------------------------------------------------------------


def test_limits_are_one_value_shared_with_the_host():
    import json
    import subprocess

    from runtime.sandbox import ENGINE_NODE, HOST_DIR
    from runtime.sandbox.limits import DEFAULTS, SandboxLimits

    assert set(DEFAULTS) == set(SandboxLimits().__dataclass_fields__)
    with pytest.raises(ValueError, match="unknown sandbox limits: memroy_mb"):
        SandboxLimits.from_mapping({"memroy_mb": 1})
    with pytest.raises(ValueError):
        SandboxLimits(memory_mb=-1)
    # the host refuses an unknown limit rather than keeping a default
    bad = subprocess.run(
        [ENGINE_NODE, "--no-node-snapshot", "host.js"],
        cwd=HOST_DIR,
        env={"SANDBOX_LIMITS": json.dumps({"memroy_mb": 1})},
        capture_output=True,
        text=True,
        timeout=30,
        input="",
    )
    assert bad.returncode == 78 and "unknown limit memroy_mb" in bad.stderr
    with Sandbox(egress_allow="", limits=SandboxLimits(max_timers=2)) as s:
        r = call(
            s,
            "async function onTrack(){ setTimeout(() => {}, 100); setTimeout(() => {}, 100); setTimeout(() => {}, 100) }",
            "few-timers",
        )
        assert r.error["type"] == "RangeError" and "at most 2 pending timers" in r.error["message"]


def test_intl_objects_are_contained():
    # ICU objects behind Intl live outside the V8 heap (neither memoryLimit nor the heap
    # reading sees them): live ones are capped per isolate, so module scope cannot keep them.
    with Sandbox(egress_allow="") as s:
        s.ping()
        code = """const keep = []; async function onTrack(){
          for (let i = 0; i < 1500; i++) keep.push(new Intl.DateTimeFormat('en-US', { timeZone: 'Asia/Tokyo', hour: 'numeric' }),
            new Intl.Collator('de', { sensitivity: 'base' }), new (class extends Intl.NumberFormat {})('fr'));
          return keep.length }"""
        outcomes = []
        for _ in range(5):
            r = call(s, code, "intl-hoarder")
            outcomes.append(r.returned if r.status == "success" else r.error["message"])
        assert outcomes[:2] == [4500, 9000] and "at most 10000 live Intl objects" in outcomes[2], outcomes
        assert host_peak_rss_mb(s.pid) <= s.limits.host_memory_mb
        healthy_after(s)
        # dropped objects do not count: a formatter per call, thousands of calls, never refused
        fmt = """async function onTrack(e){ let s = ''; for (let i = 0; i < 20; i++)
          s = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' }).format(e.n); return s }"""
        for n in range(400):
            r = call(s, fmt, "intl-fine", {"type": "track", "n": n})
            assert r.status == "success" and r.returned.startswith("$"), (n, r.error)
        healthy_after(s)
