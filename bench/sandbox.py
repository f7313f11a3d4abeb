"""Benchmark of the JavaScript sandbox (runtime/sandbox/ -> Node host -> isolate).

Usage: python bench/sandbox.py [--json]
Prints readable figures; with --json the LAST line is one JSON object with the keys
cold_ms, cold_lodash_ms, cold_aws_ms, cold_stripe_ms, warm_p50_ms, warm_p99_ms, events_per_s_batch1,
events_per_s_batch100 (run_batch of 100 events: per-event handlers, one crossing),
events_per_s_batch100_run_many (run_many of 100 single-event requests),
events_per_s_batch100_onbatch (one onBatch call of 100 events), restart_ms,
neighbour_p99_ratio (the worst of neighbour_p99_ratio_<attack>: p99 of a trivial function's
calls while a hostile function runs on the same host, divided by its p99 alone; attacks:
hash = a hashing loop, timers = an interval flood, alloc = an allocation storm).
Bounded in time (well under 60 s).
"""

import json
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from runtime.sandbox import Sandbox, SandboxRequest  # noqa: E402

EVENT = {
    "type": "track",
    "event": "Order Completed",
    "userId": "u1",
    "properties": {"total": 10.5, "currency": "usd"},
}
SMALL = "async function onTrack(event, settings) { return { e: event.event, c: event.properties.currency.toUpperCase() } }"
LODASH = "async function onTrack(event, settings) { return _.pick(event, ['event', 'userId']) }"
TRIVIAL = "async function onTrack(event) { return 1 }"
BATCH = "async function onBatch(events) { return events.length }"
# Heavy preinstalled libraries (docs/functions.md): the build loads the bundle (code cache),
# the call makes a client and signs a request (AWS) or builds the resource tree (stripe).
AWS_S3 = (
    "async function onTrack(event) { const s3 = new AWS.S3({ region: 'us-east-1', accessKeyId: 'AKID',"
    " secretAccessKey: 'SECRET' }); return s3.getSignedUrl('getObject', { Bucket: 'b', Key: event.event }) }"
)
STRIPE = "async function onTrack(event) { const client = stripe('sk_test_1'); return typeof client.customers.create }"


ATTACKS = {
    # each call runs about 1 s (a hostile loop bounded by time), again and again
    "hash": """async function onTrack(){ const s = 'x'.repeat(65536); const end = Date.now() + 1000;
      while (Date.now() < end) crypto.createHash('sha256').update(s).digest('hex') }""",
    "timers": """async function onTrack(){ for (let i = 0; i < 99; i++) setInterval(() => {}, 1);
      await new Promise((r) => setTimeout(r, 1000)) }""",
    "alloc": "async function onTrack(){ const a = []; for (;;) a.push(new Array(1e5).fill(1.5)) }",
}


def neighbour_p99(sb, req, n=1500):
    lat = []
    for _ in range(n):
        t = time.perf_counter()
        sb.run(req)
        lat.append((time.perf_counter() - t) * 1000)
    return pct(lat, 99)


def neighbour_ratios(sb, req):
    """p99 of ``req`` with each attack running on the same host / its p99 alone."""
    alone = neighbour_p99(sb, req)
    out = {"neighbour_p99_alone_ms": round(alone, 4)}
    for name, code in ATTACKS.items():
        stop = threading.Event()
        hostile = SandboxRequest(code, "destination", EVENT, {}, instance_key=f"attack-{name}")

        def attack(hostile=hostile, stop=stop):
            while not stop.is_set():
                sb.run(hostile)

        t = threading.Thread(target=attack, daemon=True)
        t.start()
        time.sleep(0.3)  # the attack under way
        under = neighbour_p99(sb, req)
        stop.set()
        t.join(10)
        out[f"neighbour_p99_ms_{name}"] = round(under, 4)
        out[f"neighbour_p99_ratio_{name}"] = round(under / alone, 2)
    out["neighbour_p99_ratio"] = max(v for k, v in out.items() if k.startswith("neighbour_p99_ratio_"))
    return out


def restart_figures(sb):
    """restart_ms: kill the host, time until the next call succeeds (median of 5)."""
    rs = []
    for _ in range(5):
        time.sleep(0.2)  # an idle moment
        pid = sb.pid
        os.kill(pid, 9)
        time.sleep(0.05)  # let the reader thread notice
        t = time.perf_counter()
        r = sb.run(SandboxRequest(TRIVIAL, "destination", EVENT, {}))
        assert r.status == "success"
        rs.append((time.perf_counter() - t) * 1000)
    return {"restart_ms": round(statistics.median(rs), 1)}


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def main():
    as_json = "--json" in sys.argv
    sb = Sandbox()
    out = {}
    try:
        sb.run(SandboxRequest(SMALL, "destination", EVENT, {}))  # start the host, warm code caches
        sb.run(SandboxRequest(LODASH, "destination", EVENT, {}))

        # cold: a new isolate + first call (instance_key=None -> fresh isolate each time); the
        # host's own duration_ms is used so the Python round trip is not counted twice.
        cold = [sb.run(SandboxRequest(SMALL, "destination", EVENT, {})).duration_ms for _ in range(60)]
        cold_l = [sb.run(SandboxRequest(LODASH, "destination", EVENT, {})).duration_ms for _ in range(40)]
        out["cold_ms"] = round(statistics.median(cold), 3)
        out["cold_lodash_ms"] = round(statistics.median(cold_l), 3)
        for key, code in (("cold_aws_ms", AWS_S3), ("cold_stripe_ms", STRIPE)):
            assert sb.run(SandboxRequest(code, "destination", EVENT, {})).status == "success"  # code cache
            runs = [sb.run(SandboxRequest(code, "destination", EVENT, {})).duration_ms for _ in range(20)]
            out[key] = round(statistics.median(runs), 3)

        # warm: full Python -> Node -> isolate -> Python round trip
        req = SandboxRequest(TRIVIAL, "destination", EVENT, {}, instance_key="bench-warm")
        for _ in range(500):
            sb.run(req)
        lat = []
        for _ in range(5000):
            t = time.perf_counter()
            sb.run(req)
            lat.append((time.perf_counter() - t) * 1000)
        out["warm_p50_ms"] = round(pct(lat, 50), 4)
        out["warm_p99_ms"] = round(pct(lat, 99), 4)

        n = 5000
        t = time.perf_counter()
        for _ in range(n):
            sb.run(req)
        out["events_per_s_batch1"] = round(n / (time.perf_counter() - t))

        # batch100 = run_batch() of 100 events: each to onTrack, one host message, one crossing
        events = [dict(EVENT, i=i) for i in range(100)]
        rb = SandboxRequest(TRIVIAL, "destination", events, {}, instance_key="bench-run-batch")
        assert all(r.status == "success" for r in sb.run_batch(rb))
        t = time.perf_counter()
        for _ in range(200):
            sb.run_batch(rb)
        out["events_per_s_batch100"] = round(200 * 100 / (time.perf_counter() - t))

        # run_many() of 100 single-event requests for one warm instance (pipelined)
        reqs = [
            SandboxRequest(TRIVIAL, "destination", dict(EVENT, i=i), {}, instance_key="bench-warm")
            for i in range(100)
        ]
        sb.run_many(reqs)
        t = time.perf_counter()
        for _ in range(100):
            sb.run_many(reqs)
        out["events_per_s_batch100_run_many"] = round(100 * 100 / (time.perf_counter() - t))

        # the same 100 events as one onBatch call
        breq = SandboxRequest(
            BATCH, "destination", [dict(EVENT, i=i) for i in range(100)], {}, instance_key="bench-batch"
        )
        sb.run(breq)
        t = time.perf_counter()
        for _ in range(200):
            sb.run(breq)
        out["events_per_s_batch100_onbatch"] = round(200 * 100 / (time.perf_counter() - t))

        # restart before the attacks, on a quiet host (they leave garbage and threads behind)
        out.update(restart_figures(sb))
        out.update(neighbour_ratios(sb, req))
    finally:
        sb.close()

    print("sandbox benchmark (medians unless noted)")
    print(
        f"  cold start, small handler        {out['cold_ms']:8.2f} ms   (new isolate + first call, host-side)"
    )
    print(f"  cold start, handler using lodash {out['cold_lodash_ms']:8.2f} ms")
    print(f"  cold start, AWS.S3 client + sign {out['cold_aws_ms']:8.2f} ms")
    print(f"  cold start, stripe client        {out['cold_stripe_ms']:8.2f} ms")
    print(
        f"  warm call Python->isolate->Python p50 {out['warm_p50_ms']:.3f} ms, p99 {out['warm_p99_ms']:.3f} ms"
    )
    print(f"  throughput, run() one at a time  {out['events_per_s_batch1']:8d} events/s")
    print(
        f"  throughput, run_batch() of 100   {out['events_per_s_batch100']:8d} events/s  (events_per_s_batch100)"
    )
    print(
        f"  throughput, run_many() x100      {out['events_per_s_batch100_run_many']:8d} events/s  "
        "(events_per_s_batch100_run_many)"
    )
    print(f"  throughput, one onBatch(100)     {out['events_per_s_batch100_onbatch']:8d} events/s")
    print(f"  host restart after kill          {out['restart_ms']:8.1f} ms")
    print(f"  neighbour p99 alone              {out['neighbour_p99_alone_ms']:8.3f} ms")
    for name in ATTACKS:
        print(
            f"  neighbour p99 under {name:<7}      {out[f'neighbour_p99_ms_{name}']:8.3f} ms"
            f"  (x{out[f'neighbour_p99_ratio_{name}']})"
        )
    if as_json:
        print(json.dumps(out))


if __name__ == "__main__":
    main()
