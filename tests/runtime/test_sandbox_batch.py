"""The sandbox's run_batch (one host message, per-event results, fetch traces, deadlines and
limits mid-batch) and its crash circuit breaker, against the real host."""

import pytest

from runtime.sandbox import Sandbox, SandboxRequest

from .test_sandbox import FATAL_OOM, healthy, local_server, run, sb, sb_local  # noqa: F401  (fixtures)

# ---- run_batch --------------------------------------------------------------------------

BATCH_CODE = """
let n = 0;
async function onTrack(e, s) {
  n++;
  console.log('track', e.i);
  if (e.retry) throw new RetryError('later ' + e.i);
  if (e.url) { const r = await fetch(s.base + e.url); return { i: e.i, n, status: r.status } }
  return { i: e.i, n };
}
async function onIdentify(e) { console.info('identify', e.i); if (e.drop) throw new DropEvent('dropped'); e.traits = { ok: 1 }; return e }
"""


def batch(sb, code, events, kind="destination", settings=None, key=None, timeout_ms=5000):
    return sb.run_batch(
        SandboxRequest(
            code=code,
            kind=kind,
            payload=events,
            settings=settings or {},
            instance_key=key,
            timeout_ms=timeout_ms,
        )
    )


def test_run_batch_per_event_results(sb):
    events = [
        {"type": "track", "i": 0},
        {"type": "identify", "i": 1},
        {"type": "track", "i": 2, "retry": True},
        {"type": "page", "i": 3},
        {"type": "weird", "i": 4},
        {"type": "identify", "i": 5, "drop": True},
        {"type": "track", "i": 6},
    ]
    rs = batch(sb, BATCH_CODE, events, kind="insert_destination", key="rb-1")
    assert len(rs) == len(events)
    assert [r.status for r in rs] == ["success", "success", "error", "error", "success", "error", "success"]
    assert rs[0].returned == {"i": 0, "n": 1}
    assert rs[1].returned == {"type": "identify", "i": 1, "traits": {"ok": 1}}
    assert rs[2].error["type"] == "RetryError" and rs[2].error["message"] == "later 2"
    assert rs[3].error["type"] == "EventNotSupported"
    assert rs[4].returned is None
    assert rs[5].error["type"] == "DropEvent"
    assert rs[6].returned == {"i": 6, "n": 3}
    assert [[line["message"] for line in r.logs] for r in rs] == [
        ["track 0"],
        ["identify 1"],
        ["track 2"],
        [],
        [],
        ["identify 5"],
        ["track 6"],
    ]
    assert all(r.duration_ms >= 0 and r.cpu_ms >= 0 and r.requests == [] for r in rs)
    assert batch(sb, BATCH_CODE, []) == []
    with pytest.raises(TypeError):
        batch(sb, BATCH_CODE, {"type": "track"})
    src = batch(sb, "async function onRequest(){}", [{}, {}], kind="source")
    assert [r.error["type"] for r in src] == ["InvalidRequest", "InvalidRequest"]


def test_run_batch_fetch_trace_per_event(sb_local, local_server):
    port, _ = local_server
    events = [
        {"type": "track", "i": 0, "url": "/a?token=secret"},
        {"type": "track", "i": 1},
        {"type": "track", "i": 2, "url": "/fail"},
    ]
    rs = batch(sb_local, BATCH_CODE, events, settings={"base": f"http://127.0.0.1:{port}"})
    assert [r.returned["status"] if r.returned and "status" in r.returned else None for r in rs] == [
        200,
        None,
        503,
    ]
    assert [[(q["method"], q["status"]) for q in r.requests] for r in rs] == [
        [("GET", 200)],
        [],
        [("GET", 503)],
    ]
    assert "/a?" in rs[0].requests[0]["url"] and "secret" not in rs[0].requests[0]["url"]
    assert rs[2].requests[0]["url"].endswith("/fail")


def test_run_batch_timeout_mid_batch(sb):
    code = "async function onTrack(e){ console.log('ev', e.i); if (e.spin) { await null; while (true) {} } return e.i }"
    events = [{"type": "track", "i": i, "spin": i == 2} for i in range(5)]
    rs = batch(sb, code, events, key="rb-spin", timeout_ms=300)
    assert [r.returned for r in rs[:2]] == [0, 1]
    assert [r.logs[0]["message"] for r in rs[:2]] == ["ev 0", "ev 1"]
    assert rs[2].error["type"] == "Timeout" and "300 ms" in rs[2].error["message"]
    assert rs[2].duration_ms >= 250
    assert all(r.error["type"] == "Timeout" and r.error["message"].startswith("Not run") for r in rs[3:])
    healthy(sb)
    assert batch(sb, code, [{"type": "track", "i": 7}], key="rb-spin", timeout_ms=300)[0].returned == 7


def test_run_batch_payload_limits(sb):
    deep = {}
    cur = deep
    for _ in range(150):
        cur["a"] = {}
        cur = cur["a"]
    rs = batch(sb, "async function onTrack(){}", [{"type": "track"}, {"type": "track", "d": deep}])
    assert [r.error["type"] for r in rs] == ["PayloadTooDeep", "PayloadTooDeep"]


# ---- circuit breaker ----------------------------------------------------------------------


def test_circuit_breaker_quarantines_after_two_crashes():
    crasher = FATAL_OOM
    with Sandbox(egress_allow="") as s:
        # The default 5 s deadline: V8's fatal OOM, or the deadline while still filling memory
        # on a loaded box; MemoryLimit and a strike either way.
        req = SandboxRequest(crasher, "destination", {"type": "track"}, {}, "cb-crasher")
        for _ in range(2):  # each crash names its culprit: one strike each
            r = s.run(req)
            assert r.error["type"] == "MemoryLimit" and "quarantined" not in r.error["message"]
        pid = s.pid
        r = s.run(req)
        assert r.status == "error" and r.error["type"] == "Crash"
        assert "quarantined" in r.error["message"] and "crashed the sandbox" in r.error["message"]
        rs = s.run_batch(
            SandboxRequest(crasher, "destination", [{"type": "track"}] * 2, {}, instance_key="cb-crasher")
        )
        assert all("quarantined" in x.error["message"] for x in rs)
        assert s.pid == pid  # not sent to the host: no new crash
        assert "instance:cb-crasher" in s.quarantined()
        # other functions still run
        assert run(s, "async function onTrack(){ return 'ok' }", key="cb-other").returned == "ok"
        s.release_quarantine("instance:cb-crasher")
        assert s.quarantined() == {}
