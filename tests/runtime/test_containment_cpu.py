"""Host-side work (the crypto bridges) against the real host with the default limits.

Digests are sliced and paced per call and bounded in bytes and host time per call
(docs/sandbox.md, "Host-side work"), so a hashing function cannot hold the host's thread.
Each hostile call is followed (or accompanied) by healthy calls of another instance. The
latency figures themselves live in bench/sandbox.py; the bounds here are wide on purpose.
"""

import base64
import hashlib
import hmac
import threading
import time

import pytest

from runtime.sandbox import Sandbox, SandboxLimits, SandboxRequest
from tests.runtime.test_containment import HEALTHY, call, healthy_after


@pytest.fixture(scope="module")
def sb():
    s = Sandbox(egress_allow="")
    s.ping()
    yield s
    s.close()


def test_big_digests_are_exact_across_slices(sb):
    # 700 k characters: several 256 k slices; the emoji straddle slice boundaries
    text = "a\U0001f600" * 350_000
    raw = bytes(range(256)) * 3000
    code = """async function onTrack(e){ const t = 'a\\ud83d\\ude00'.repeat(350000);
      const raw = new Uint8Array(256 * 3000); for (let i = 0; i < raw.length; i++) raw[i] = i % 256;
      return [crypto.createHash('sha256').update(t).digest('hex'),
              crypto.createHmac('sha1', 'k').update(t, 'utf8').update(raw).digest('base64'),
              crypto.createHash('md5').update(Buffer.from(raw).toString('hex'), 'hex').digest('hex'),
              crypto.createHash('sha256').update(Buffer.from(raw).toString('base64'), 'base64').digest('hex')] }"""
    r = call(sb, code, "exact-digests")
    assert r.status == "success", r.error
    mac = hmac.new(b"k", text.encode() + raw, hashlib.sha1).digest()
    assert r.returned == [
        hashlib.sha256(text.encode()).hexdigest(),
        base64.b64encode(mac).decode(),
        hashlib.md5(raw).hexdigest(),  # noqa: S324 - a digest test, not security
        hashlib.sha256(raw).hexdigest(),
    ]
    healthy_after(sb)


def test_hash_input_is_counted_in_bytes(sb):
    # 9 M characters: 9 MB as ASCII, 18 MB as UTF-8 (over the 16 MB cap)
    ok = call(
        sb,
        "async function onTrack(){ return crypto.createHash('sha1').update('a'.repeat(9e6)).digest('hex') }",
        "h-ascii",
    )
    assert ok.status == "success" and ok.returned == hashlib.sha1(b"a" * 9_000_000).hexdigest()  # noqa: S324
    r = call(
        sb,
        "async function onTrack(){ crypto.createHash('sha1').update('\\u00e9'.repeat(9e6)).digest('hex') }",
        "h-utf8",
    )
    assert r.error["type"] == "RangeError" and "hash input over limit" in r.error["message"]
    healthy_after(sb)


def test_crypto_input_per_call_is_bounded(sb):
    code = """async function onTrack(){ const s = 'x'.repeat(15 * 1024 * 1024); let n = 0;
      try { for (;;) { crypto.createHash('sha256').update(s).digest('hex'); n++ } }
      catch (e) { return [n, e.name, e.message] } }"""
    r = call(sb, code, "bytes-budget")
    assert r.status == "success", r.error
    n, name, message = r.returned
    assert n == 4 and name == "RangeError" and "bytes of crypto input per invocation" in message
    healthy_after(sb)


def test_host_time_per_call_is_bounded():
    with Sandbox(egress_allow="", limits=SandboxLimits(host_work_ms=30)) as s:
        code = """async function onTrack(){ const s = 'x'.repeat(1024 * 1024); let n = 0;
          try { for (;;) { crypto.createHmac('sha512', 'k').update(s).digest('hex'); n++ } }
          catch (e) { return [n, e.name, e.message] } }"""
        r = call(s, code, "time-budget")
        assert r.status == "success", r.error
        n, name, message = r.returned
        assert n > 0 and name == "RangeError" and "at most 30 ms of crypto work" in message
        healthy_after(s)


def test_hashing_loop_does_not_hold_the_host(sb):
    hostile = SandboxRequest(
        """async function onTrack(){ const s = 'z'.repeat(1024 * 1024); let n = 0;
          try { for (;;) { crypto.createHash('sha256').update(s).digest('hex'); n++ } }
          catch (e) { return [n, e.message] } }""",
        "destination",
        {"type": "track"},
        {},
        instance_key="hash-hog",
    )
    out = []
    stop = time.monotonic() + 2.5

    def attack():
        while time.monotonic() < stop:
            out.append(sb.run(hostile))

    t = threading.Thread(target=attack)
    t.start()
    time.sleep(0.3)
    worst = 0.0
    healthy = SandboxRequest(HEALTHY, "destination", {"type": "track"}, {}, instance_key="healthy-neighbour")
    while t.is_alive():
        t0 = time.perf_counter()
        r = sb.run(healthy)
        worst = max(worst, time.perf_counter() - t0)
        assert r.returned == "ok"
        time.sleep(0.01)
    t.join()
    # each hostile call hashes 64 MB (its byte budget), paced, and gets RangeError
    for r in out:
        assert r.status == "success", r.error
        assert r.returned[0] == 64 and "bytes of crypto input" in r.returned[1]
    assert worst < 0.25, f"a healthy call took {worst * 1000:.0f} ms during the hashing loop"
    healthy_after(sb)


def test_small_operations_sent_directly_count_in_the_budget():
    # The first small operations of an invocation skip the event-loop turn (runtime/node/lib/shim/invoke.js,
    # DIRECT_OPS); they are host work all the same: 3 x 4000 bytes against a 10,000 byte budget.
    with Sandbox(egress_allow="", limits=SandboxLimits(host_work_bytes=10_000)) as s:
        code = """async function onTrack(){ const s = 'x'.repeat(4000); let n = 0;
          try { for (let i = 0; i < 3; i++) { crypto.createHmac('sha256', '').update(s).digest('hex'); n++ } }
          catch (e) { return [n, e.name, e.message] } return [n] }"""
        assert call(s, code, "direct-budget").returned[:2] == [2, "RangeError"]
        healthy_after(s)
