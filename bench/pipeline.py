"""End-to-end pipeline benchmark on the real stack (PostgreSQL, Redis, gunicorn, Celery).

    .venv/bin/python bench/pipeline.py [--json] [--batch-events 20000] [--webhooks 6000]
                                       [--env KEY=VALUE ...]

Starts gunicorn (2 workers x 4 threads), one Celery worker with 2 processes and beat on its own
database (fp_bench, migrated here) and Redis db 13, plus a local HTTP sink, then drives the
platform over loopback from separate load processes:
  1. /v1/batch, 100 events per request, to a destination function whose onBatch posts the
     events to the sink  -> batch_events_per_s (first request sent .. last event received);
  2. source webhooks, one event each, through a source function and the same kind of
     destination -> webhook_rps.
  3. a fault run: --fault-events (20,000) through /v1/batch, paced over 10 s, while the Celery
     worker is SIGKILLed and restarted twice and a sandbox host is SIGKILLed five times ->
     faults_lost (accepted, answered 200, but never delivered within --fault-timeout) and
     faults_duplicates (deliveries of a messageId after its first).
Every event carries its send time, so the sink measures end-to-end latency. Bounded in time
and count; only 127.0.0.1; every process it starts is stopped by pid. With --json the last
line is one JSON object: batch_events_per_s, webhook_rps, e2e_p50_ms, e2e_p99_ms, sent,
received, faults_accepted, faults_lost, faults_duplicates, cpu_ms_per_1k_events (per phase and
role: web, worker, sandbox, beat, sink, load, redis, postgres; bench/cpu.py) and calibration_s
(this machine's time for a fixed Python loop, to compare figures between machines).

No .env is needed: the run uses throwaway SECRET_KEY and FIELD_ENCRYPTION_KEY values and
recreates its database. BENCH_DB_NAME (fp_bench) and BENCH_REDIS_URL (redis db 13) move it.
The stack sees only its own environment (not the caller's): pass settings to compare with
--env KEY=VALUE (repeatable), e.g. --env PIPELINE_SLOT_WAIT_S=0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cpu  # noqa: E402
from pipeline_load import load_main, post_all, request_build, sink_get, sink_main  # noqa: E402

from tests.integration.stack import Stack, free_port, sandbox_hosts  # noqa: E402

DB_NAME = os.environ.get("BENCH_DB_NAME", "fp_bench")
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")

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
        handlers = [h for h in ("onRequest", "onTrack", "onBatch") if f"function {h}(" in code]
        version = FunctionVersion.objects.create(function=fn, number=1, code=code, handlers=handlers)
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
    roles: dict[str, int],
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
    """Drive one phase; returns sent/received/elapsed measured at the sink, and the CPU each
    role spent (bench/cpu.py) until the last event arrived."""
    base = sink_get(sink_port)["count"]
    cpu_before = cpu.snapshot(roles)
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
    answers = [out.get(timeout=timeout) for _ in procs]
    accepted, load_cpu_s = sum(a for a, _ in answers), sum(c for _, c in answers)
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
        "cpu_ms_per_1k": cpu.per_1k(cpu_before, cpu.snapshot(roles), received, {"load": load_cpu_s}),
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
    post_all(stack_port, "batch", spec, numbers, results)
    post_all(stack_port, "webhook", spec, numbers, results)
    deadline = time.time() + 60
    while sink_get(sink_port)["count"] < 20 * 100 + 20 and time.time() < deadline:
        time.sleep(0.1)
    sink_get(sink_port, "/reset")


# --- faults: the worker killed twice and the sandbox host five times during a run ------------

FAULT_OFFSET = 5 * 10**6  # request numbers of the fault run (messageIds fault-<n>-<i>)


def fault_run(stack, sink_port: int, spec: dict, *, events: int, pace_s: float, timeout: float) -> dict:
    """Send `events` through /v1/batch over `pace_s` seconds while killing the worker twice and
    a sandbox host five times; then wait (bounded) for every accepted event at the sink."""
    requests_n = max(1, events // 100)
    accepted: list[int] = []

    def load() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=30)
        for n in range(FAULT_OFFSET, FAULT_OFFSET + requests_n):
            path, body, headers = request_build("batch", spec, n, prefix="fault")
            try:
                conn.request("POST", path, body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                if resp.status == 200:
                    accepted.append(n)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=30)
            time.sleep(pace_s / requests_n)

    sender = threading.Thread(target=load)
    started = time.time()
    sender.start()
    schedule = ["host", "host", "worker", "host", "host", "worker", "host"]
    hosts_killed = workers_killed = 0
    for fault in schedule:
        time.sleep(pace_s / (len(schedule) + 1))
        if fault == "worker":
            stack.worker_kill()
            stack.worker_start()
            workers_killed += 1
            continue
        hosts, wait_until = [], time.time() + 10  # a restarted worker starts its hosts lazily
        while not hosts and time.time() < wait_until:
            hosts = sandbox_hosts(stack.worker.pid)
            if not hosts:
                time.sleep(0.2)
        if hosts:
            with contextlib.suppress(ProcessLookupError):
                os.kill(hosts[hosts_killed % len(hosts)], signal.SIGKILL)
            hosts_killed += 1
    sender.join()
    expected = len(accepted) * 100
    prefix = "/count/fault-"
    deadline = started + timeout
    got = sink_get(sink_port, prefix)
    while got["count"] < expected and time.time() < deadline:
        time.sleep(0.5)
        got = sink_get(sink_port, prefix)
    time.sleep(2)  # late duplicates
    got = sink_get(sink_port, prefix)
    return {
        "faults_sent": requests_n * 100,
        "faults_accepted": expected,
        "faults_lost": max(0, expected - got["count"]),
        "faults_duplicates": got["repeats"],
        "faults_workers_killed": workers_killed,
        "faults_hosts_killed": hosts_killed,
        "faults_elapsed_s": round(time.time() - started, 1),
    }


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
    parser.add_argument("--fault-events", type=int, default=20000, help="events of the fault run (0: none)")
    parser.add_argument("--fault-timeout", type=float, default=240.0, help="seconds the fault run may take")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting for every process of the stack (repeatable; the stack gets no other environment)",
    )
    args = parser.parse_args()
    extra_env = {"PIPELINE_FLUSH_WAIT_S": "0.05"}
    for item in args.env:
        name, sep, value = item.partition("=")
        if not sep or not name:
            parser.error(f"--env takes KEY=VALUE, not {item!r}")
        extra_env[name] = value

    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    sink_port = free_port()
    stack = Stack(
        database_url=DATABASE_URL,
        redis_url=REDIS_URL,
        encryption_key=key,
        extra_env=extra_env,
        log_dir=os.environ.get("BENCH_LOG_DIR") or None,  # web.log and worker.log, when set
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
        # The sweeps recover what killed workers leave behind (expired in-flight leases).
        stack.beat_start(str(Path(tempfile.mkdtemp(prefix="bench-beat-")) / "schedule"))
        warm_up(stack.port, sink_port, spec)
        roles = {"web": stack.web.pid, "worker": stack.worker.pid, "beat": stack.beat.pid, "sink": sink.pid}
        batch_requests = max(1, args.batch_events // 100)
        batch = phase(
            roles,
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
            roles,
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
        faults = (
            fault_run(
                stack, sink_port, spec, events=args.fault_events, pace_s=10.0, timeout=args.fault_timeout
            )
            if args.fault_events
            else {}
        )
    finally:
        stack.stop()
        sink.terminate()
        sink.join(5)
    report(batch, hooks, latencies, faults, args.json)


def report(batch: dict, hooks: dict, latencies: list[float], faults: dict, as_json: bool) -> None:
    figures = {
        "batch_events_per_s": round(batch["received"] / batch["elapsed_s"], 1),
        "webhook_rps": round(hooks["received"] / hooks["elapsed_s"], 1),
        "e2e_p50_ms": round(percentile(latencies, 0.50) or 0, 1),
        "e2e_p99_ms": round(percentile(latencies, 0.99) or 0, 1),
        "sent": batch["sent"] + hooks["sent"],
        "received": batch["received"] + hooks["received"],
        **{k: v for k, v in faults.items() if k in ("faults_lost", "faults_duplicates", "faults_accepted")},
        "cpu_ms_per_1k_events": {"batch": batch["cpu_ms_per_1k"], "webhook": hooks["cpu_ms_per_1k"]},
        "calibration_s": cpu.calibration_s(),
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
    for name, p in (("batch", batch), ("webhooks", hooks)):
        parts = ", ".join(
            f"{role} {ms:.0f}" for role, ms in sorted(p["cpu_ms_per_1k"].items(), key=lambda x: -x[1])
        )
        print(f"  {name} CPU ms per 1,000 events: {parts}")
    print(f"calibration: a 10-million-step Python loop takes {figures['calibration_s']} s here")
    print(
        f"latency (send -> sink, all events): p50 {figures['e2e_p50_ms']} ms, p99 {figures['e2e_p99_ms']} ms"
    )
    print(f"sent {figures['sent']}, received {figures['received']}")
    if faults:
        print(
            f"faults:   {faults['faults_accepted']} of {faults['faults_sent']} events accepted while the worker "
            f"was killed {faults['faults_workers_killed']}x and a sandbox host {faults['faults_hosts_killed']}x: "
            f"{faults['faults_lost']} lost, {faults['faults_duplicates']} duplicates, {faults['faults_elapsed_s']} s"
        )
    if as_json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
