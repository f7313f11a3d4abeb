"""Dry-run replay benchmark: 500 recent events through a draft and the deployed version.

    .venv/bin/python bench/replay.py [--events 500] [--json]

Runs in embedded mode on its own SQLite file (created and migrated in a temporary directory),
with the real Node sandbox. A destination function that fetches an API for every event is
deployed on one instance; its source gets N recent events (kept through the pipeline's sample
store, its size raised to N for the benchmark); the draft changes the body for one event in
ten. It times replay_request (the task runs eagerly on commit), from the request to the stored summary (both sides,
all N events, the comparison and the diffs). The last line with --json is
{"events": N, "seconds": S, "summary": "..."}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEPLOYED = """
async function onTrack(event, settings) {
  const body = {user: event.userId, event: event.event, props: event.properties, at: event.timestamp};
  const res = await fetch('https://api.example.com/v2/events', {
    method: 'POST', headers: {'authorization': 'Bearer ' + settings.apiKey, 'content-type': 'application/json'},
    body: JSON.stringify(body)});
  if (!res.ok) throw new RetryError('status ' + res.status);
}
async function onIdentify(event, settings) {
  await fetch('https://api.example.com/v2/users/' + event.userId, {method: 'PUT', body: JSON.stringify(event.traits)});
}
"""
DRAFT = DEPLOYED.replace(
    "props: event.properties",
    "props: event.properties.n % 10 === 1 ? {...event.properties, v: 2} : event.properties",
)


def django_setup(workdir: str) -> None:
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "functions_platform.settings",
            "DATABASE_URL": f"sqlite:///{workdir}/bench.sqlite3",
            "REDIS_URL": "",
            "CELERY_BROKER_URL": "memory://",
            "PIPELINE_REDIS_URL": "",
            "CACHE_URL": "locmemcache://",
            "CELERY_TASK_ALWAYS_EAGER": "True",
            "LOG_LEVEL": "WARNING",
        }
    )
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


def fixture_create(count: int):
    from django.utils import timezone

    from catalog.choices import ResourceType
    from catalog.models import Function, FunctionVersion
    from runtime.models import FunctionInstance
    from runtime.pipeline import samples
    from workspaces.choices import SourceKind
    from workspaces.models import Source, Workspace

    workspace = Workspace.objects.create(slug=f"bench-{uuid.uuid4().hex[:6]}", name="Replay bench")
    source = Source.objects.create(workspace=workspace, name="Web", kind=SourceKind.TRACKING_API)
    function = Function.objects.create(
        workspace=workspace, resource_type=ResourceType.DESTINATION, display_name="Bench", code=DEPLOYED
    )
    version = FunctionVersion.objects.create(function=function, number=1, code=DEPLOYED, settings_schema=[])
    function.latest_version = version
    function.save(update_fields=["latest_version"])
    FunctionInstance.objects.create(
        function=function,
        name="bench",
        source=source,
        deployed_version=version,
        deployed_at=timezone.now(),
        encrypted_settings=json.dumps({"apiKey": "bench-secret-key-123"}),
    )
    now = timezone.now().isoformat()
    events = [
        {
            "type": "track" if i % 5 else "identify",
            "event": "Order Completed",
            "userId": f"user-{i}",
            "traits": {"plan": "pro"},
            "properties": {"n": i, "total": i * 1.5, "items": [{"sku": f"s{i}", "qty": 1}]},
            "messageId": uuid.uuid4().hex,
            "timestamp": now,
            "receivedAt": now,
        }
        for i in range(count)
    ]
    samples.KEEP = count  # the benchmark's traffic: the sample store holds 20 per source by default
    samples.samples_record(source.pk, events)
    return function


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        django_setup(workdir)
        from runtime.replay import services
        from runtime.sandbox.django import sandbox

        function = fixture_create(args.events)
        sandbox().check("async function onTrack() {}", "destination")  # the host started
        started = time.perf_counter()
        # Embedded mode: the task runs eagerly when replay_request commits, so this is the replay.
        run = services.replay_request(function=function, requested_by=None, code=DRAFT, limit=args.events)
        seconds = time.perf_counter() - started
        from runtime.replay.models import ReplayRun

        done = ReplayRun.objects.get(pk=run.pk)
        print(f"replayed {done.total} events through draft and deployed: {seconds:.2f} s")
        print(f"summary: {done.summary['text']}")
        if args.json:
            print(
                json.dumps(
                    {"events": done.total, "seconds": round(seconds, 3), "summary": done.summary["text"]}
                )
            )


if __name__ == "__main__":
    main()
