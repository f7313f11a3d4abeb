"""Metrics and logs on the real stack: gunicorn (2 workers) and a Celery worker (2 processes)
in multiprocess mode, PostgreSQL and Redis; one scrape of the web tier counts them all.

Each service writes samples to its own directory under one root (as docker/compose.yaml
does); the web tier's /metrics merges every file below it. Logs are JSON lines.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families

from catalog.choices import ResourceType
from tests.factories import FunctionFactory, InstanceFactory, SourceFactory, WorkspaceFactory
from tests.integration.conftest import FAST_POLICY, Sink, _unavailable, redis_url  # noqa: F401
from tests.integration.stack import Stack, database_url
from workspaces.choices import SourceKind

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]

FORWARD = """
async function onTrack(event, settings) {
  const res = await fetch(settings.url, {method: 'POST', body: JSON.stringify(event)});
  if (res.status >= 500) throw new RetryError('sink answered ' + res.status);
}
"""
THROWS = "async function onTrack(event) { throw new TypeError('nope') }"
SOURCE = """
async function onRequest(request) {
  for (const item of request.json().items) Segment.track({event: item, userId: 'u'});
}
"""


class MetricsStack(Stack):
    """The integration stack with one sample directory per service and JSON logs at INFO."""

    def __init__(self, *, root: Path, **kwargs):
        super().__init__(**kwargs)
        self.root = root
        self.env.update({"METRICS_COLLECT_DIR": str(root), "LOG_FORMAT": "json", "LOG_LEVEL": "INFO"})

    def _spawn(self, name, args):
        saved = self.env
        self.env = {**saved, "PROMETHEUS_MULTIPROC_DIR": str(self.root / name)}
        if name == "web":
            args = [*args[:2], "-c", "python:functions_platform.gunicorn_conf", *args[2:]]
        else:
            args = [("INFO" if a == "WARNING" else a) for a in args]
        try:
            return super()._spawn(name, args)
        finally:
            self.env = saved

    def log(self, name: str) -> list[dict]:
        lines = (self.log_dir / f"{name}.log").read_text(errors="replace").splitlines()
        out = []
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                out.append(record)
        return out


@pytest.fixture(scope="module")
def live(django_db_setup, django_db_blocker, redis_url, tmp_path_factory):  # noqa: F811
    if connection.vendor != "postgresql":
        _unavailable("integration tests need PostgreSQL (set DATABASE_URL)")
    root = tmp_path_factory.mktemp("metrics")
    running = MetricsStack(
        root=root,
        database_url=database_url(connection.settings_dict),
        redis_url=redis_url,
        encryption_key=",".join(settings.FIELD_ENCRYPTION_KEY),
        extra_env=FAST_POLICY,
        log_dir=tmp_path_factory.mktemp("stack"),
    ).start()
    yield running
    running.stop()


@pytest.fixture
def sink(httpserver):
    return Sink(httpserver)


def scrape(stack) -> dict:
    response = requests.get(f"{stack.base_url}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    out: dict = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            key = (sample.name, frozenset(sample.labels.items()))
            out[key] = out.get(key, 0) + sample.value
    return out


def total(samples: dict, name: str, **labels) -> float:
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def wait_until(check, timeout=60.0):
    """The first truthy value of `check()` within `timeout` seconds (else its last value)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    return check()


def test_one_scrape_counts_web_and_worker_processes(live, sink):
    workspace = WorkspaceFactory(slug="metrics-live")
    source = SourceFactory(workspace=workspace, kind=SourceKind.TRACKING_API)
    forward = FunctionFactory(workspace=workspace, resource_type=ResourceType.DESTINATION, code=FORWARD)
    good = InstanceFactory(function=forward, source=source, settings={"url": sink.url})
    thrower = FunctionFactory(workspace=workspace, resource_type=ResourceType.DESTINATION, code=THROWS)
    bad = InstanceFactory(function=thrower, source=source)
    requests_n, per_request = 24, 5

    def send(i):
        batch = [
            {"type": "track", "event": "e", "userId": "u", "messageId": f"mp-{i}-{j}"}
            for j in range(per_request)
        ]
        return requests.post(
            f"{live.base_url}/v1/batch", json={"batch": batch}, auth=(source.write_key, ""), timeout=30
        ).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(send, range(requests_n))) == {200}
    assert requests.post(f"{live.base_url}/v1/batch", json={"batch": []}, timeout=10).status_code == 401
    expected = requests_n * per_request
    events = sink.wait_for(expected, settle=0.5)
    assert {e["messageId"] for e in events} == {
        f"mp-{i}-{j}" for i in range(requests_n) for j in range(per_request)
    }
    good_labels = {"function": forward.public_id, "instance": good.public_id}
    bad_labels = {"function": thrower.public_id, "instance": bad.public_id}

    def settled():
        # Delivery is at least once: a batch redelivered under load runs again, so the figures
        # are held to what happened (the sink's count), not to the number sent.
        samples = scrape(live)
        done = total(samples, "fp_delivery_events_total", outcome="delivered", **good_labels) == len(
            sink.events()
        )
        return (
            samples
            if done and total(samples, "fp_delivery_events_total", outcome="failed", **bad_labels) >= expected
            else None
        )

    samples = wait_until(settled)
    assert samples, scrape(live)
    delivered = len(sink.events())
    failed = total(samples, "fp_delivery_events_total", outcome="failed", **bad_labels)
    assert total(samples, "fp_ingest_requests_total", endpoint="batch", status="200") == requests_n
    assert total(samples, "fp_ingest_requests_total", endpoint="batch", status="401", outcome="refused") == 1
    assert total(samples, "fp_stage_events_total", stage="ingest", direction="out") == expected
    assert total(samples, "fp_delivery_latency_seconds_count", **good_labels) == delivered
    assert total(samples, "fp_sandbox_calls_total", kind="destination", status="success") == delivered
    assert total(samples, "fp_sandbox_calls_total", kind="destination", status="error") == failed
    assert total(samples, "fp_delivery_events_total", outcome="delivered", **bad_labels) == 0
    assert ("fp_buffer_depth", frozenset({("stage", "dst")})) in samples
    assert total(samples, "fp_buffer_depth") == 0  # all drained
    # The samples came from both services' processes.
    web_files = list((live.root / "web").glob("*.db"))
    worker_files = list((live.root / "worker").glob("*.db"))
    assert web_files and worker_files


def test_request_id_follows_a_webhook_to_delivery(live, sink):
    workspace = WorkspaceFactory(slug="trace-live")
    source_fn = FunctionFactory(workspace=workspace, resource_type=ResourceType.SOURCE, code=SOURCE)
    hook = InstanceFactory(function=source_fn)
    forward = FunctionFactory(workspace=workspace, resource_type=ResourceType.DESTINATION, code=FORWARD)
    InstanceFactory(function=forward, source=hook.source, settings={"url": sink.url})
    request_id = f"trace-{time.monotonic_ns()}"
    response = requests.post(
        f"{live.base_url}/hooks/{hook.source.webhook_token}",
        json={"items": ["Opened", "Clicked"]},
        headers={"X-Request-ID": request_id},
        timeout=10,
    )
    assert response.status_code == 200 and response.headers["X-Request-ID"] == request_id
    events = sink.wait_for(2, settle=0.5)
    message_ids = {e["messageId"] for e in events}
    assert len(message_ids) == 2

    def stage_lines():
        lines = [
            r for r in live.log("web") + live.log("worker") if r.get("logger") == "runtime.pipeline.trace"
        ]
        return {
            "ingest": [r for r in lines if r["stage"] == "ingest" and r["request_id"] == request_id],
            "source": [r for r in lines if r["stage"] == "source" and request_id in r["request_ids"]],
            "route": [r for r in lines if r["stage"] == "route" and message_ids <= set(r["message_ids"])],
            "delivery": [
                r for r in lines if r["stage"] == "delivery" and message_ids & set(r["message_ids"])
            ],
        }

    assert wait_until(lambda: all(stage_lines().values()), timeout=20), stage_lines()
    found = stage_lines()
    [source_line] = found["source"]
    assert set(source_line["message_ids"]) == message_ids  # the ids it emitted, named with the request
    assert {"time", "level", "message"} <= set(source_line)
    delivered = {m for r in found["delivery"] for m in r["message_ids"]}
    assert delivered == message_ids
