"""The source debugger's recorder (runtime.debugger): bounds, masking, and where ingest,
source functions and delivery record into it (embedded mode, the real sandbox)."""

import json
from datetime import timedelta
from unittest import mock

import pytest
from django.test import override_settings
from django.utils import timezone

from catalog.choices import ResourceType
from runtime.debugger import recorder, store
from runtime.debugger.selectors import (
    source_recent_events,
    source_recent_requests,
    source_traffic_series,
    source_traffic_summary,
)
from tests.factories import InstanceFactory

from .conftest import make_function
from .test_flow import send
from .test_functions import hook

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True, params=["redis", "sqlite"])
def _store(request, settings, tmp_path):
    # Every test runs against Redis (production) and the SQLite file (embedded mode).
    if request.param == "sqlite":
        settings.PIPELINE_REDIS_URL = ""
        settings.DEBUGGER_SQLITE_PATH = str(tmp_path / "debugger.sqlite3")
    elif not settings.PIPELINE_REDIS_URL:
        pytest.skip("needs Redis (REDIS_URL)")
    settings.PIPELINE_KEY_PREFIX = "fp-test-dbg"
    store.backend().clear(store.prefix())
    yield
    store.backend().clear(store.prefix())


def webhook_item(n, **payload):
    return {
        "id": f"req-{n}",
        "received_at": f"2026-01-01T00:00:{n:02d}.000Z",
        "payload": {
            "method": "POST",
            "url": "http://x/hooks/t",
            "headers": {},
            "query": {},
            "body": "{}",
            **payload,
        },
    }


def test_keeps_the_newest_requests_up_to_the_depth(settings, source_function_instance):
    settings.DEBUGGER_KEEP = 5
    for n in range(8):
        recorder.webhook_request_record(instance_id=source_function_instance.pk, item=webhook_item(n))
    source = source_function_instance.source
    assert [r["id"] for r in source_recent_requests(source=source, limit=100)] == [
        "req-7", "req-6", "req-5", "req-4", "req-3"
    ]  # fmt: skip
    assert [r["id"] for r in source_recent_requests(source=source, limit=2)] == ["req-7", "req-6"]


def test_a_big_batch_keeps_only_its_newest_events(settings, client, tracking_source, destination):
    settings.DEBUGGER_KEEP = 10
    batch = [{"type": "track", "event": f"e{i}", "userId": "u", "messageId": f"m{i}"} for i in range(30)]
    send(client, tracking_source, "/v1/batch", {"batch": batch})
    events = source_recent_events(source=tracking_source)
    assert [e["messageId"] for e in events] == [f"m{i}" for i in range(29, 19, -1)]
    [request] = source_recent_requests(source=tracking_source)
    assert request["count"] == 30 and len(request["messages"]) == 10


def test_bodies_are_cut_at_the_limit(settings, source_function_instance):
    settings.DEBUGGER_BODY_BYTES = 100
    recorder.webhook_request_record(
        instance_id=source_function_instance.pk, item=webhook_item(1, body="x" * 500)
    )
    [row] = source_recent_requests(source=source_function_instance.source, masked=False)
    assert row["truncated"] is True and row["payload"]["body"] == "x" * 100


def test_secrets_are_masked_when_read_and_kept_for_replay(source_function_instance):
    source = source_function_instance.source
    secret_url = f"http://x/hooks/{source.webhook_token}?api_key=abc123&page=2"
    headers = {"Authorization": "Bearer tok-123456", "X-Api-Key": "k-999999", "X-Via": "stripe"}
    body = json.dumps({"password": "hunter22", "user": "u1", "note": f"key {source.write_key}"})
    item = webhook_item(1, url=secret_url, headers=headers, body=body)
    item["payload"]["headers"]["Content-Type"] = "application/json"
    recorder.webhook_request_record(instance_id=source_function_instance.pk, item=item)
    [shown] = source_recent_requests(source=source)
    text = json.dumps(shown)
    for secret in ("tok-123456", "k-999999", "hunter22", "abc123", source.write_key, source.webhook_token):
        assert secret not in text
    assert ["X-Via", "stripe"] in shown["payload"]["headers"]
    assert ["Authorization", "Bearer ••••••••"] in shown["payload"]["headers"]
    assert "page=2" in shown["payload"]["url"]
    [raw] = source_recent_requests(source=source, masked=False)
    assert raw["payload"] == item["payload"]  # a replay gets what was really sent


def test_webhook_request_run_events_and_outcomes(client, source_function_instance, sink):
    body = {"items": [{"name": "Order Placed", "user": "u1"}, {"name": "Order Shipped", "user": "u2"}]}
    assert hook(client, source_function_instance, body, HTTP_X_VIA="stripe").status_code == 200
    source = source_function_instance.source
    [request] = source_recent_requests(source=source, reveal_credentials=True)
    assert request["kind"] == "webhook" and request["status"] == 200
    assert json.loads(request["payload"]["body"]) == body
    assert source.webhook_token in request["payload"]["url"]
    assert request["run"]["status"] == "success" and request["run"]["emitted"] == 2
    assert [e["name"] for e in request["events"]] == ["Order Placed", "Order Shipped"]
    for event in request["events"]:
        [outcome] = event["outcomes"]
        assert (outcome["name"], outcome["outcome"]) == ("hook out", "delivered")
    [masked] = source_recent_requests(source=source)
    assert source.webhook_token not in json.dumps(masked)


def test_source_function_error_and_logs_are_kept_masked(client, workspace, sink):
    code = """async function onRequest(request, settings) {
      console.log('using ' + settings.apiToken);
      throw new TypeError('bad payload ' + settings.apiToken);
    }"""
    function = make_function(workspace, code, kind=ResourceType.SOURCE, display_name="Thrower")
    instance = InstanceFactory(function=function, name="thrower")
    instance.encrypted_settings = json.dumps({"apiToken": "sekret-token-1"})
    instance.save()
    assert hook(client, instance, {"a": 1}).status_code == 200
    [request] = source_recent_requests(source=instance.source)
    run = request["run"]
    assert run["status"] == "error" and run["error"]["type"] == "TypeError"
    assert "sekret-token-1" not in json.dumps(run)
    assert any("using" in line["message"] for line in run["logs"])
    raw = source_recent_requests(source=instance.source, masked=False)[0]["run"]
    assert "sekret-token-1" in raw["error"]["message"]


def test_refused_webhook_is_shown_with_its_reason(client, source_function_instance):
    resp = client.post(
        f"/hooks/{source_function_instance.source.webhook_token}",
        data="{nope",
        content_type="application/json",
    )
    assert resp.status_code == 400
    [request] = source_recent_requests(source=source_function_instance.source)
    assert request["status"] == 400 and "parse" in request["error"] and request["run"] is None


def test_tracking_outcomes_delivered_failed_and_filtered(client, workspace, tracking_source, destination):
    failing = make_function(
        workspace, "async function onTrack(e) { throw new Error('nope: ' + e.event) }", display_name="Breaks"
    )
    InstanceFactory(function=failing, source=tracking_source, name="breaks")
    dropper = make_function(
        workspace,
        "async function onTrack(e) { throw new EventNotSupported('no') }",
        display_name="Picky",
    )
    InstanceFactory(function=dropper, source=tracking_source, name="picky")
    send(client, tracking_source, "/v1/track", {"event": "Signed Up", "userId": "u1", "messageId": "m-1"})
    [event] = source_recent_events(source=tracking_source)
    outcomes = {o["name"]: o for o in event["outcomes"]}
    assert outcomes["to sink"]["outcome"] == "delivered"
    assert outcomes["breaks"]["outcome"] == "failed"
    assert outcomes["breaks"]["reason"] == "Error: nope: Signed Up"
    assert (
        outcomes["picky"]["outcome"] == "failed" and outcomes["picky"]["category"] == "unsupported_event_type"
    )
    [request] = source_recent_requests(source=tracking_source)
    assert request["kind"] == "tracking" and request["call"] == "track"
    assert ["Authorization", "Basic ••••••••"] in request["payload"]["headers"]
    assert [e["messageId"] for e in request["events"]] == ["m-1"]


def test_retrying_then_failed_and_duplicates(client, workspace, tracking_source, settings):
    settings.PIPELINE_EAGER_DELIVERY_RETRIES = 1
    retrying = make_function(workspace, "async function onTrack(e) { throw new RetryError('later') }")
    InstanceFactory(function=retrying, source=tracking_source, name="flaky")
    send(client, tracking_source, "/v1/track", {"event": "E", "userId": "u1", "messageId": "m-1"})
    # Eager mode retries at once: the newest outcome is the final one, with the retry count.
    [outcome] = source_recent_events(source=tracking_source)[0]["outcomes"]
    assert outcome["outcome"] == "failed" and outcome["attempt"] == 2
    assert outcome["reason"] == "RetryError: later"


def test_a_redelivery_suppressed_does_not_hide_the_delivery(client, tracking_source, destination):
    body = {"event": "E", "userId": "u1", "messageId": "m-1"}
    send(client, tracking_source, "/v1/track", body)
    send(client, tracking_source, "/v1/track", body)
    events = source_recent_events(source=tracking_source)
    assert [o["outcome"] for o in events[0]["outcomes"]] == ["delivered"]


def test_refused_tracking_call_is_shown(client, tracking_source):
    resp = client.post(
        "/v1/track",
        data=json.dumps({"event": "E"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=__import__("tests.pipeline.test_bad_input", fromlist=["basic"]).basic(
            tracking_source.write_key
        ),
    )
    assert resp.status_code == 400
    [request] = source_recent_requests(source=tracking_source)
    assert (request["status"], request["code"]) == (400, "no_user_anon_id")
    assert request["dropped"][0]["code"] == "no_user_anon_id"


def test_counts_and_series(client, tracking_source, destination):
    batch = [{"type": "track", "event": f"e{i}", "userId": "u"} for i in range(3)]
    send(client, tracking_source, "/v1/batch", {"batch": batch})
    send(client, tracking_source, "/v1/track", {"event": "x", "userId": "u"})
    since = timezone.now() - timedelta(days=7)
    assert source_traffic_summary(source=tracking_source, since=since) == {
        "requests": 2,
        "events": 4,
        "errors": 0,
    }
    [point] = source_traffic_series(source=tracking_source, since=since)
    assert (point["requests"], point["events"]) == (2, 4)


def test_recorder_errors_never_fail_ingest(client, tracking_source, destination, sink):
    before = recorder.recorder_errors()
    with mock.patch.object(type(store.backend()), "write", side_effect=RuntimeError("store down")):
        send(client, tracking_source, "/v1/track", {"event": "E", "userId": "u1"})
        store.flush()  # recordings wait for their flush: it is the write that fails
    assert recorder.recorder_errors() >= before + 2  # the request and the delivery outcome
    assert len(sink.log) == 1
    with mock.patch.object(type(store.backend()), "read", side_effect=RuntimeError("store down")):
        assert source_recent_requests(source=tracking_source) == []


def test_embedded_store_is_shared_between_processes(settings, tmp_path, source_function_instance):
    # `make run` serves with two gunicorn workers: what one records, the other reads.
    import multiprocessing

    settings.PIPELINE_REDIS_URL = ""
    settings.DEBUGGER_SQLITE_PATH = str(tmp_path / "shared.sqlite3")
    writes = store.Writes()
    writes.push(f"{store.prefix(source_function_instance.source_id)}req", [json.dumps({"id": "other"})], 5)
    child = multiprocessing.get_context("fork").Process(
        target=_write_in_child, args=(writes, settings.DEBUGGER_SQLITE_PATH)
    )
    child.start()
    child.join(30)
    assert child.exitcode == 0
    key = f"{store.prefix(source_function_instance.source_id)}req"
    assert store.backend().read([key], 10) == [[json.dumps({"id": "other"})]]


def _write_in_child(writes, path):
    fresh = store.SQLiteBackend()
    with override_settings(DEBUGGER_SQLITE_PATH=path):
        fresh.write(writes, 60)


def test_recordings_wait_for_one_merged_flush(settings, source_function_instance):
    # Requests do not wait on the store: a process's recordings are merged and written in one
    # round trip per DEBUGGER_FLUSH_S, or when this process reads.
    if not settings.PIPELINE_REDIS_URL:
        pytest.skip("the embedded store writes at once")
    settings.DEBUGGER_KEEP = 5
    settings.DEBUGGER_FLUSH_S = 60  # the flush thread stays asleep
    with mock.patch.object(
        store.RedisBackend, "write", autospec=True, side_effect=store.RedisBackend.write
    ) as write:
        for n in range(12):
            recorder.webhook_request_record(instance_id=source_function_instance.pk, item=webhook_item(n))
        assert write.call_count == 0
        source = source_function_instance.source
        assert [r["id"] for r in source_recent_requests(source=source)] == [
            f"req-{n}" for n in range(11, 6, -1)
        ]
        assert write.call_count == 1
        [(_, writes, *_)] = [c.args for c in write.call_args_list]
        [(_, items, cap)] = [entry for entry in writes.lists if entry[0].endswith(":req")]
        assert cap == 5 and len(items) <= 10  # past twice the depth, the oldest were never kept
    assert source_traffic_summary(source=source, since=timezone.now() - timedelta(hours=1))["requests"] == 12
