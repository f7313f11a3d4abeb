"""The Node-compatible layer's synchronous crypto is host work of the call, like hashing.

Sign/verify, ciphers, key objects, pbkdf2/scrypt and key generation run on the host (its
thread, or libuv's pool): each operation waits for a fair turn and counts against the call's
`host_work_ms` / `host_work_bytes` (docs/sandbox.md, "Host-side work"), so a function looping
over them ends with a limit error in bounded time and its neighbours keep their latency.
"""

import threading
import time

import pytest

from runtime.sandbox import Sandbox, SandboxLimits, SandboxRequest
from tests.runtime.test_containment import HEALTHY, call, healthy_after

# Each loops one kind of operation until the host refuses; returns [operations, name, message].
LOOPS = {
    "sign": """const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
        const op = () => crypto.createSign('SHA256').update('x'.repeat(4096)).sign(privateKey);""",
    "verify": """const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
        const sig = crypto.createSign('SHA256').update('m').sign(privateKey);
        const op = () => crypto.createVerify('SHA256').update('m').verify(publicKey, sig);""",
    "cipher": """const key = Buffer.alloc(32, 1), iv = Buffer.alloc(16, 2), data = Buffer.alloc(1 << 20, 3);
        const op = () => { const c = crypto.createCipheriv('aes-256-cbc', key, iv); c.update(data); return c.final() };""",
    "pbkdf2": "const op = () => crypto.pbkdf2Sync('password', 'salt', 20000, 32, 'sha256');",
    "scrypt": "const op = () => crypto.scryptSync('password', 'salt', 32);",
    "keypair": "const op = () => crypto.generateKeyPairSync('rsa', { modulusLength: 1024 });",
}


def loop(setup):
    return f"""async function onTrack(){{ {setup}
      let n = 0;
      try {{ for (;;) {{ op(); n++ }} }} catch (e) {{ return [n, e.name, e.message] }} }}"""


@pytest.fixture(scope="module")
def small():
    # A small host-time budget, so each loop reaches it in a fraction of a second.
    with Sandbox(egress_allow="", limits=SandboxLimits(host_work_ms=60)) as s:
        s.ping()
        yield s


@pytest.mark.parametrize("kind", sorted(LOOPS))
def test_each_sync_operation_counts_in_the_host_time_budget(small, kind):
    t0 = time.monotonic()
    r = call(small, loop(LOOPS[kind]), f"loop-{kind}")
    assert r.status == "success", r.error
    n, name, message = r.returned
    if kind == "cipher":  # 1 MB a time: the byte budget (64 MB) or the time budget, first
        assert name == "RangeError" and "host work limit reached" in message, message
    else:
        assert n > 0 and name == "RangeError" and "at most 60 ms of crypto work" in message, message
    assert time.monotonic() - t0 < 4
    healthy_after(small)


def test_cipher_input_is_counted_in_the_byte_budget():
    with Sandbox(egress_allow="", limits=SandboxLimits(host_work_bytes=8 * 1024 * 1024)) as s:
        r = call(s, loop(LOOPS["cipher"]), "cipher-bytes")
        n, name, message = r.returned
        assert n == 7 and name == "RangeError" and "bytes of crypto input per invocation" in message
        healthy_after(s)


def test_sync_crypto_loop_with_default_limits_ends_and_spares_its_neighbour():
    with Sandbox(egress_allow="") as s:
        s.ping()
        hostile = SandboxRequest(loop(LOOPS["pbkdf2"]), "destination", {"type": "track"}, {}, "pbkdf2-hog")
        out = []
        t = threading.Thread(target=lambda: out.append((time.monotonic(), s.run(hostile), time.monotonic())))
        t.start()
        time.sleep(0.3)
        worst = 0.0
        healthy = SandboxRequest(
            HEALTHY, "destination", {"type": "track"}, {}, instance_key="healthy-neighbour"
        )
        while t.is_alive():
            t0 = time.perf_counter()
            assert s.run(healthy).returned == "ok"
            worst = max(worst, time.perf_counter() - t0)
            time.sleep(0.01)
        t.join()
        started, r, ended = out[0]
        # Its host time budget (1 s), paced at a share of the wall time: a limit error, or at
        # worst the call's own deadline (5 s) on a loaded box; never unbounded host CPU.
        if r.status == "success":
            assert r.returned[1] == "RangeError" and "ms of crypto work" in r.returned[2]
        else:
            assert r.error["type"] == "Timeout"
        assert ended - started < 6.5
        assert worst < 0.25, f"a healthy call took {worst * 1000:.0f} ms during the pbkdf2 loop"
        healthy_after(s)
