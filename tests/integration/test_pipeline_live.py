"""End to end on the real stack: HTTP in, Celery worker, Node sandbox, HTTP sink out."""

from __future__ import annotations

import time

import pytest
import requests

from catalog.choices import ResourceType
from tests.factories import FunctionFactory, InstanceFactory, SourceFactory, WorkspaceFactory
from workspaces.choices import SourceKind

pytestmark = pytest.mark.django_db(transaction=True)

FORWARD = """
async function send(payload, settings) {
  const res = await fetch(settings.url, {method: 'POST', headers: {'content-type': 'application/json'},
                                         body: JSON.stringify(payload)});
  if (res.status >= 500) throw new RetryError('sink answered ' + res.status);
  return res.json();
}
async function onTrack(event, settings) { await send(event, settings) }
async function onIdentify(event, settings) { await send(event, settings) }
"""

ON_BATCH = """
async function onBatch(events, settings) {
  const res = await fetch(settings.url, {method: 'POST', body: JSON.stringify(events)});
  return res.json();
}
async function onTrack(event, settings) {
  const res = await fetch(settings.url, {method: 'POST', body: JSON.stringify([event])});
  const [status] = await res.json();
  if (status.status >= 500) throw new RetryError('sink answered ' + status.status);
}
"""

SOURCE = """
async function onRequest(request, settings) {
  const body = request.json();
  for (const item of body.items) Segment.track({event: item, userId: body.user});
}
"""

INSERT = """
async function onTrack(event) {
  if (event.event === 'secret') throw new DropEvent('not for this destination');
  event.properties = {...event.properties, enriched: 'yes'};
  return event;
}
"""


@pytest.fixture
def workspace():
    return WorkspaceFactory(slug="live")


def destination(workspace, source, sink, code=FORWARD, **fields):
    function = FunctionFactory(
        workspace=workspace, resource_type=ResourceType.DESTINATION, code=code, **fields
    )
    return InstanceFactory(function=function, source=source, settings={"url": sink.url})


@pytest.fixture
def tracking(workspace):
    return SourceFactory(workspace=workspace, kind=SourceKind.TRACKING_API)


def post_batch(stack, source, events):
    resp = requests.post(
        f"{stack.base_url}/v1/batch", json={"batch": events}, auth=(source.write_key, ""), timeout=10
    )
    assert resp.status_code == 200, resp.text
    return resp


def tracks(prefix, n, **extra):
    return [
        {"type": "track", "event": "e", "userId": "u", "messageId": f"{prefix}-{i}", **extra}
        for i in range(n)
    ]


def test_webhook_through_source_and_destination_functions(stack, workspace, sink):
    source_fn = FunctionFactory(workspace=workspace, resource_type=ResourceType.SOURCE, code=SOURCE)
    hook = InstanceFactory(function=source_fn)
    destination(workspace, hook.source, sink)
    for user in ("ann", "bob", "cy"):
        resp = requests.post(
            f"{stack.base_url}/hooks/{hook.source.webhook_token}",
            json={"user": user, "items": ["Opened", "Clicked"]},
            timeout=10,
        )
        assert resp.json() == {"success": True}
    events = sink.wait_for(6)
    assert sorted((e["userId"], e["event"]) for e in events) == sorted(
        (u, i) for u in ("ann", "bob", "cy") for i in ("Opened", "Clicked")
    )
    assert {e["writeKey"] for e in events} == {hook.source.write_key}


def test_segment_python_client_delivers(stack, workspace, tracking, sink):
    from segment.analytics.client import Client

    destination(workspace, tracking, sink)
    client = Client(tracking.write_key, host=stack.base_url, sync_mode=True, gzip=True)
    client.identify("user-1", {"plan": "pro"})
    for i in range(5):
        client.track("user-1", "Clicked", {"n": i})
    client.flush()
    events = sink.wait_for(6)
    assert sorted(e["type"] for e in events) == ["identify"] + ["track"] * 5
    assert sorted(e["properties"]["n"] for e in events if e["type"] == "track") == list(range(5))
    assert all(e["context"]["library"]["name"] == "analytics-python" for e in events)


def test_segment_python_client_partial_accept(stack, workspace, tracking, sink):
    """99 valid messages and 1 invalid in one /v1/batch: the 99 are delivered, the 1 counted."""
    from segment.analytics.client import Client

    from runtime.selectors import source_drop_counts, source_drops_recent

    destination(workspace, tracking, sink)
    client = Client(tracking.write_key, host=stack.base_url, sync_mode=False, upload_size=100, gzip=True)
    failures = []
    client.on_error = lambda error, batch: failures.append(error)
    for i in range(100):
        # The client checks types but not emptiness: an empty event name reaches the platform.
        client.track(f"user-{i}", "" if i == 42 else "Clicked", {"n": i})
    client.flush()
    client.join()
    events = sink.wait_for(99)
    assert failures == []
    assert sorted(e["properties"]["n"] for e in events) == [i for i in range(100) if i != 42]
    assert source_drop_counts(source=tracking) == {"event_not_defined": 1}
    assert source_drops_recent(source=tracking).get().event["properties"] == {"n": 42}


def test_sink_500_then_200_gets_each_event_once(stack, workspace, tracking, sink):
    seen: set = set()

    def flaky(body):
        first = body["messageId"] not in seen
        seen.add(body["messageId"])
        return 500 if first else 200

    sink.answer = flaky
    destination(workspace, tracking, sink)
    post_batch(stack, tracking, tracks("flaky", 10))
    events = sink.wait_for(10)
    assert sorted(e["messageId"] for e in events) == sorted(f"flaky-{i}" for i in range(10))
    assert len(sink.events(accepted_only=False)) == 20  # one refused attempt each


def test_on_batch_partial_failure_retries_only_failed(stack, workspace, tracking, sink):
    refused: set = set()

    def statuses(batch):
        out = []
        for event in batch:
            fail = event.get("properties", {}).get("fail") and event["messageId"] not in refused
            if fail:
                refused.add(event["messageId"])
            out.append({"status": 503 if fail else 200})
        return out

    sink.answer = statuses
    destination(workspace, tracking, sink, code=ON_BATCH, batch_max_count=50)
    events = tracks("ok", 8) + tracks("fail", 2, properties={"fail": True})
    post_batch(stack, tracking, events)
    delivered = sink.wait_for(10)
    assert sorted(e["messageId"] for e in delivered) == sorted(e["messageId"] for e in events)
    retried = [e["messageId"] for body, _ in sink.requests[1:] for e in body]
    assert sorted(retried) == ["fail-0", "fail-1"]


def test_insert_function_modifies_and_drops(stack, workspace, tracking, sink):
    dest = destination(workspace, tracking, sink)
    insert_fn = FunctionFactory(
        workspace=workspace, resource_type=ResourceType.INSERT_DESTINATION, code=INSERT
    )
    InstanceFactory(function=insert_fn, source=tracking, destination=dest)
    post_batch(
        stack,
        tracking,
        [
            {"type": "track", "event": "public", "userId": "u", "messageId": "p"},
            {"type": "track", "event": "secret", "userId": "u", "messageId": "s"},
        ],
    )
    events = sink.wait_for(1, settle=2.0)
    assert [(e["messageId"], e["properties"]["enriched"]) for e in events] == [("p", "yes")]


SLOW = """
async function onBatch(events, settings) {
  await new Promise(resolve => setTimeout(resolve, 150));
  await fetch(settings.url, {method: 'POST', body: JSON.stringify(events)});
}
async function onTrack(event, settings) {
  await fetch(settings.url, {method: 'POST', body: JSON.stringify([event])});
}
"""


def test_killed_worker_loses_nothing(stack, workspace, tracking, sink, tmp_path):
    # As in production (Procfile, compose), beat runs the sweep: a batch in flight when the
    # worker died is resumed by its redelivered task, or else, once its lease expires
    # (PIPELINE_INFLIGHT_LEASE_S), returned to its buffer by the sweep (docs/pipeline.md).
    stack.beat_start(str(tmp_path / "beat-schedule"))
    try:
        _killed_worker_loses_nothing(stack, workspace, tracking, sink)
    finally:
        stack.beat_stop()


def _killed_worker_loses_nothing(stack, workspace, tracking, sink):
    sink.answer = lambda body: [{"status": 200}] * len(body)
    destination(workspace, tracking, sink, code=SLOW, batch_max_count=10)
    sent = [f"kill-{i}" for i in range(400)]
    for start in range(0, len(sent), 100):
        post_batch(
            stack,
            tracking,
            [
                {"type": "track", "event": "e", "userId": "u", "messageId": m}
                for m in sent[start : start + 100]
            ],
        )
    deadline = time.monotonic() + 30
    while not sink.events() and time.monotonic() < deadline:
        time.sleep(0.05)
    stack.worker_kill()  # mid-delivery: batches are in flight and more are queued
    assert len({e["messageId"] for e in sink.events()}) < len(sent)
    stack.worker_start()
    # A batch resumed by another task than the one that died waits for the dead task's
    # messageId claims to lapse (PIPELINE_CLAIM_TTL_S, 120 s) before it is delivered.
    received = sink.wait_for_ids(sent, timeout=180)
    assert received == set(sent)


def test_disabled_destination_receives_nothing(stack, workspace, tracking, sink):
    live = destination(workspace, tracking, sink)
    off = destination(workspace, tracking, sink)
    off.settings = {"url": sink.url + "?off"}
    off.enabled = False
    off.save()
    post_batch(stack, tracking, tracks("on", 3))
    events = sink.wait_for(3)
    assert len(events) == 3
    assert live.pk != off.pk
    assert all(request.query_string == b"" for request, _ in sink.server.log)
