"""Output caps against the real host with the default limits (docs/sandbox.md, "Limits").

The JSON of a call's returned value, events, objects, logs and error is capped in UTF-8
bytes (``max_output_bytes``, 4 MB; a run_batch shares one budget); over it the call gets
``PayloadTooLarge``, a function fault that is neither a crash nor a strike. Each hostile
call is followed by a healthy call of another instance. No Django, no database.
"""

import pytest

from runtime.sandbox import Sandbox, SandboxLimits, SandboxRequest
from tests.runtime.test_containment import call, healthy_after, host_peak_rss_mb

CAP = SandboxLimits().max_output_bytes


@pytest.fixture(scope="module")
def sb():
    s = Sandbox(egress_allow="")
    s.ping()
    yield s
    s.close()


def too_large(r):
    return r.status == "error" and r.error["type"] == "PayloadTooLarge" and "too large" in r.error["message"]


@pytest.mark.parametrize(
    "body",
    [
        "return 'x'.repeat(5 * 1024 * 1024)",
        # 2.2 M characters, but 4.4 MB of UTF-8: the cap counts bytes
        "return '\\u00e9'.repeat(2.2e6)",
        "return '\\ud83d\\ude00'.repeat(1.1e6)",
        "return Array.from({ length: 3e5 }, (_, i) => ({ i, name: 'n' + i, tag: 'abcdef' }))",
    ],
)
def test_returned_value_over_the_cap_is_payload_too_large(sb, body):
    r = call(sb, f"async function onTrack(){{ {body} }}", "big-return")
    assert too_large(r), r.error
    assert r.returned is None and sb.quarantined() == {}  # a user error, not a strike
    healthy_after(sb)


def test_output_under_the_cap_is_returned_whole(sb):
    # 1.9 M characters of 2 bytes each: 3.8 MB, under the 4 MB cap
    r = call(sb, "async function onTrack(){ return '\\u00e9'.repeat(1.9e6) }", "fits")
    assert r.status == "success" and len(r.returned) == 1_900_000
    healthy_after(sb)


def test_events_and_objects_count_toward_the_cap(sb):
    emit = """async function onRequest(){ for (let i = 0; i < 60000; i++)
      Segment.track({ userId: 'u' + i, event: 'E', properties: { pad: 'p'.repeat(64) } }) }"""
    r = call(sb, emit, "big-source", {"body": {}}, kind="source")
    assert too_large(r) and r.events == [], r.error
    objects = """async function onRequest(){ for (let i = 0; i < 40000; i++)
      Segment.set({ collection: 'c', id: 'i' + i, properties: { pad: 'p'.repeat(100) } }) }"""
    r = call(sb, objects, "big-objects", {"body": {}}, kind="source")
    assert too_large(r) and r.objects == [], r.error
    healthy_after(sb)


def test_log_lines_and_error_text_are_cut_in_bytes(sb):
    code = """async function onTrack(){
      String.prototype.slice = function () { return this };  // cannot lift the cut
      console.log('\\u00e9'.repeat(5000)); console.log('\\ud83d\\ude00'.repeat(5000));
      throw new Error('m'.repeat(1e7)) }"""
    r = call(sb, code, "long-lines")
    assert r.error["type"] == "Error"
    assert len(r.error["message"].encode()) <= 8192 + 20 and r.error["message"].endswith("[truncated]")
    for line in r.logs:
        assert len(line["message"].encode()) <= 2048 + 20 and line["message"].endswith("[truncated]")
        assert "\ufffd" not in line["message"]  # cut at a character boundary
    healthy_after(sb)


def test_build_error_text_is_cut(sb):
    r = call(sb, "throw new Error('t'.repeat(2e7))", "top-level-throw")
    assert r.status == "error" and len(r.error["message"]) < 10_000
    healthy_after(sb)


def test_run_batch_shares_one_output_budget():
    with Sandbox(egress_allow="") as s:
        code = """async function onTrack(e){ if (e.fail) throw new RetryError('later ' + 'r'.repeat(5000), { retryAfter: 30 });
          console.log('event', e.i); return 'b'.repeat(1048000) }"""
        events = [{"type": "track", "i": i} for i in range(6)] + [{"type": "track", "fail": True}]
        results = s.run_batch(SandboxRequest(code, "destination", events, {}, instance_key="batch-out"))
        ok = [r for r in results[:6] if r.status == "success"]
        # about 1 MB each against 4 MB for the whole batch: four fit, the rest are refused
        assert len(ok) == 4 and all(len(r.returned) == 1048000 for r in ok)
        assert all(too_large(r) and "batch" in r.error["message"] for r in results[4:6])
        assert all(r.logs for r in results[4:6])  # small logs are kept
        # an error once the budget is spent keeps its type (RetryError still means retry)
        last = results[6]
        assert last.error["type"] == "RetryError" and len(last.error["message"]) <= 300
        assert last.error.get("retryAfter") == 30
        assert s.quarantined() == {}
        pid = s.pid
        assert host_peak_rss_mb(pid) <= s.limits.host_memory_mb
        healthy_after(s)


def test_cap_is_a_sandbox_limit():
    with Sandbox(egress_allow="", limits=SandboxLimits(max_output_bytes=1000)) as s:
        assert too_large(call(s, "async function onTrack(){ return 'x'.repeat(2000) }", "small-cap"))
        r = call(s, "async function onTrack(){ return 'x'.repeat(500) }", "small-cap")
        assert r.status == "success" and len(r.returned) == 500
