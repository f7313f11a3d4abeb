"""End-to-end pipeline benchmark on the real stack (PostgreSQL, Redis, gunicorn, Celery).

    .venv/bin/python bench/pipeline.py [--json] [--batch-events 20000] [--webhooks 6000]

Starts gunicorn (2 workers x 4 threads) and one Celery worker with 2 processes on its own
database (fp_bench, migrated here) and Redis db 13, plus a local HTTP sink, then drives the
platform over loopback from separate load processes:
  1. /v1/batch, 100 events per request, to a destination function whose onBatch posts the
     events to the sink  -> batch_events_per_s (first request sent .. last event received);
  2. source webhooks, one event each, through a source function and the same kind of
     destination -> webhook_rps.
Every event carries its send time, so the sink measures end-to-end latency. Bounded in time
and count; only 127.0.0.1; every process it starts is stopped by pid. With --json the last
line is one JSON object: batch_events_per_s, webhook_rps, e2e_p50_ms, e2e_p99_ms, sent,
received.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.stack import Stack, free_port  # noqa: E402

DB_NAME = "fp_bench"
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
REDIS_URL = "redis://127.0.0.1:6379/13"

DESTINATION = """
async function onBatch(events, settings) {
  const res = await fetch(settings.url, {method: 'POST', headers: {'content-type': 'application/json'},
                                         body: JSON.stringify(events)});
  if (res.status >= 500) throw new RetryError('sink ' + res.status);
}
async function onTrack(event, settings) { return onBatch([event], settings); }
"""
SOURCE = """
async function onRequest(request, settings) {
  const body = request.json();
  Segment.track({event: 'Webhook', userId: body.user, messageId: body.id, properties: {t0: body.t0}});
}
"""


# --- the sink: a separate process counting events and their end-to-end latency -------------


def sink_main(port: int, ready) -> None:
    seen: dict[str, float] = {}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            now = time.time()
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with lock:
                for event in body if isinstance(body, list) else [body]:
                    t0 = (event.get("properties") or {}).get("t0")
                    seen.setdefault(event["messageId"], (now - t0) * 1000 if t0 else -1)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def do_GET(self):  # noqa: N802
            with lock:
                if self.path == "/reset":
                    seen.clear()
                data = json.dumps(
                    {"count": len(seen), "latencies": list(seen.values())}
                    if self.path == "/stats"
                    else {"count": len(seen)}
                ).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    ready.set()
    server.serve_forever()


def sink_get(port: int, path: str = "/count") -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path)
    return json.loads(conn.getresponse().read())


# --- load: separate processes, each with a few threads on keep-alive connections -------------


def _post_all(port: int, kind: str, spec: dict, numbers: list[int], results) -> None:
    # Each request is built right before it is sent, so its t0 is the send time.
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    ok = 0
    for n in numbers:
        path, body, headers = _build(kind, spec, n)
        try:
            conn.request("POST", path, body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            ok += resp.status == 200
            if resp.getheader("Connection", "").lower() == "close":
                conn.close()
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    results.append(ok)


def load_main(port: int, kind: str, spec: dict, offset: int, count: int, threads: int, out) -> None:
    """Send `count` requests of `kind` (batch or webhook), split over `threads` threads."""
    numbers = list(range(offset, offset + count))
    results: list[int] = []
    workers = [
        threading.Thread(target=_post_all, args=(port, kind, spec, numbers[t::threads], results))
        for t in range(threads)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    out.put(sum(results))


def _build(kind: str, spec: dict, n: int) -> tuple[str, bytes, dict]:
    t0 = time.time()
    if kind == "batch":
        batch = [
            {
                "type": "track",
                "event": "Bench",
                "userId": f"u{n}",
                "messageId": f"b-{n}-{i}",
                "properties": {"t0": t0},
            }
            for i in range(100)
        ]
        body = json.dumps({"batch": batch, "writeKey": spec["write_key"]}).encode()
        return "/v1/batch", body, {"Content-Type": "application/json"}
    body = json.dumps({"user": f"w{n}", "id": f"w-{n}", "t0": t0}).encode()
    return spec["hook_path"], body, {"Content-Type": "application/json"}


# --- setup ---------------------------------------------------------------------------------


def database_prepare(env: dict) -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        # A fresh database per run: its rows are encrypted with this run's throwaway key.
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
    )


def seed(env: dict, sink_url: str) -> dict:
    """Create the workspace, sources, functions and instances (fresh names on every run)."""
    os.environ.update(env)
    import django

    django.setup()
    from catalog.choices import ResourceType
    from catalog.ids import function_public_id
    from catalog.models import Function, FunctionVersion
    from runtime.models import FunctionInstance
    from workspaces.choices import SourceKind
    from workspaces.models import Source, Workspace

    stamp = str(time.time_ns())
    workspace = Workspace.objects.create(slug=f"bench-{stamp}", name="Bench")

    def instance(kind, code, source, name):
        fn = Function.objects.create(
            workspace=workspace,
            resource_type=kind,
            display_name=f"{name} {stamp}",
            public_id=function_public_id(kind),
            code=code,
            batch_max_count=100,
        )
        version = FunctionVersion.objects.create(function=fn, number=1, code=code)
        fn.latest_version = version
        fn.save(update_fields=["latest_version"])
        return FunctionInstance.objects.create(
            function=fn, name=name, source=source, deployed_version=version, settings={"url": sink_url}
        )

    tracking = Source.objects.create(workspace=workspace, name="bench tracking", kind=SourceKind.TRACKING_API)
    instance(ResourceType.DESTINATION, DESTINATION, tracking, "batch sink")
    hook_source = Source.objects.create(workspace=workspace, name="bench hook", kind=SourceKind.FUNCTION)
    instance(ResourceType.SOURCE, SOURCE, hook_source, "bench source")
    instance(ResourceType.DESTINATION, DESTINATION, hook_source, "hook sink")
    from django.db import connections

    connections.close_all()  # the load processes are forked from this one
    return {"write_key": tracking.write_key, "hook_path": f"/hooks/{hook_source.webhook_token}"}


# --- phases ----------------------------------------------------------------------------------


def phase(
    stack_port: int,
    sink_port: int,
    kind: str,
    spec: dict,
    requests: int,
    events: int,
    processes: int,
    threads: int,
    timeout: float,
) -> dict:
    """Drive one phase; returns sent/received/elapsed measured at the sink."""
    base = sink_get(sink_port)["count"]
    out = mp.Queue()
    share = -(-requests // processes)
    started = time.time()
    procs = [
        mp.Process(
            target=load_main,
            args=(stack_port, kind, spec, p * share, min(share, requests - p * share), threads, out),
        )
        for p in range(processes)
        if requests - p * share > 0
    ]
    for p in procs:
        p.start()
    accepted = sum(out.get(timeout=timeout) for _ in procs)
    for p in procs:
        p.join(timeout=10)
    sending_s = time.time() - started
    sent = accepted * (events // requests)
    deadline = started + timeout
    received = 0
    while time.time() < deadline:
        received = sink_get(sink_port)["count"] - base
        if received >= sent:
            break
        time.sleep(0.02)
    elapsed = time.time() - started
    return {
        "requests": requests,
        "accepted": accepted,
        "sent": sent,
        "received": received,
        "elapsed_s": elapsed,
        "sending_s": sending_s,
    }


def warm_up(stack_port: int, sink_port: int, spec: dict) -> None:
    """Untimed traffic first: both worker processes start their Node host and warm isolates."""
    results: list[int] = []
    numbers = list(range(10**6, 10**6 + 20))
    _post_all(stack_port, "batch", spec, numbers, results)
    _post_all(stack_port, "webhook", spec, numbers, results)
    deadline = time.time() + 60
    while sink_get(sink_port)["count"] < 20 * 100 + 20 and time.time() < deadline:
        time.sleep(0.1)
    sink_get(sink_port, "/reset")


def percentile(values: list[float], fraction: float) -> float | None:
    values = sorted(v for v in values if v >= 0)
    if not values:
        return None
    return values[min(len(values) - 1, int(fraction * len(values)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    parser.add_argument("--batch-events", type=int, default=20000, help="events sent through /v1/batch")
    parser.add_argument("--webhooks", type=int, default=6000, help="webhook requests")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per phase, at most")
    args = parser.parse_args()

    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    sink_port = free_port()
    stack = Stack(
        database_url=DATABASE_URL,
        redis_url=REDIS_URL,
        encryption_key=key,
        extra_env={"PIPELINE_FLUSH_WAIT_S": "0.05"},
    )
    env = {**stack.env}
    database_prepare(env)
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    ready = mp.Event()
    sink = mp.Process(target=sink_main, args=(sink_port, ready), daemon=True)
    sink.start()
    ready.wait(10)
    try:
        spec = seed(env, f"http://127.0.0.1:{sink_port}/ingest")
        stack.start()
        warm_up(stack.port, sink_port, spec)
        batch_requests = max(1, args.batch_events // 100)
        batch = phase(
            stack.port,
            sink_port,
            "batch",
            spec,
            batch_requests,
            batch_requests * 100,
            processes=2,
            threads=4,
            timeout=args.timeout,
        )
        hooks = phase(
            stack.port,
            sink_port,
            "webhook",
            spec,
            args.webhooks,
            args.webhooks,
            processes=2,
            threads=16,
            timeout=args.timeout,
        )
        latencies = sink_get(sink_port, "/stats")["latencies"]
    finally:
        stack.stop()
        sink.terminate()
        sink.join(5)
    report(batch, hooks, latencies, args.json)


def report(batch: dict, hooks: dict, latencies: list[float], as_json: bool) -> None:
    figures = {
        "batch_events_per_s": round(batch["received"] / batch["elapsed_s"], 1),
        "webhook_rps": round(hooks["received"] / hooks["elapsed_s"], 1),
        "e2e_p50_ms": round(percentile(latencies, 0.50) or 0, 1),
        "e2e_p99_ms": round(percentile(latencies, 0.99) or 0, 1),
        "sent": batch["sent"] + hooks["sent"],
        "received": batch["received"] + hooks["received"],
    }
    print(
        f"batch:    {batch['sent']} events in {batch['requests']} requests of 100, "
        f"{batch['received']} received in {batch['elapsed_s']:.2f} s -> {figures['batch_events_per_s']} events/s"
    )
    print(
        f"webhooks: {hooks['sent']} sent, {hooks['received']} received in {hooks['elapsed_s']:.2f} s "
        f"-> {figures['webhook_rps']} requests/s end to end"
    )
    for name, p in (("batch", batch), ("webhooks", hooks)):
        print(
            f"  {name}: {p['accepted']}/{p['requests']} requests answered 200 in {p['sending_s']:.2f} s "
            f"({p['accepted'] / p['sending_s']:.0f} requests/s at the web tier)"
        )
    print(
        f"latency (send -> sink, all events): p50 {figures['e2e_p50_ms']} ms, p99 {figures['e2e_p99_ms']} ms"
    )
    print(f"sent {figures['sent']}, received {figures['received']}")
    if as_json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
