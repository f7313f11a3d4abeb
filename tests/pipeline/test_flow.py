"""Events through the whole pipeline in embedded mode (eager tasks, SQLite, the real sandbox)."""

import json

import pytest

from catalog.choices import ResourceType
from catalog.services import function_create, function_save
from runtime.choices import ErrorCategory
from runtime.models import DeliveryStat, ErrorLog
from runtime.selectors import delivery_summary
from tests.factories import InstanceFactory

from .conftest import SINK_DESTINATION, make_function, sink_events
from .test_bad_input import basic

pytestmark = pytest.mark.django_db


def send(client, source, path, body):
    resp = client.post(
        path,
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=basic(source.write_key),
    )
    assert resp.status_code == 200, resp.content
    return resp


def test_track_reaches_destination_normalised(client, tracking_source, destination, sink):
    send(client, tracking_source, "/v1/track", {"event": "Signed Up", "userId": "u1", "messageId": "m-1"})
    [event] = sink_events(sink)
    assert event["type"] == "track"
    assert event["event"] == "Signed Up"
    assert event["messageId"] == "m-1"
    assert event["writeKey"] == tracking_source.write_key
    assert event["receivedAt"] and event["timestamp"] and event["sentAt"]
    summary = delivery_summary(instance=destination)
    assert summary["delivered"] == 1
    assert summary["p95_ms"] is not None


def test_batch_merges_shared_context_and_dedupes(client, tracking_source, destination, sink):
    batch = [{"type": "track", "event": f"e{i}", "userId": "u", "messageId": f"id-{i}"} for i in range(5)]
    body = {"batch": batch, "context": {"ip": "1.2.3.4"}}
    send(client, tracking_source, "/v1/batch", body)
    send(client, tracking_source, "/v1/import", body)  # same messageIds: not delivered again
    events = sink_events(sink)
    assert sorted(e["messageId"] for e in events) == [f"id-{i}" for i in range(5)]
    assert all(e["context"]["ip"] == "1.2.3.4" for e in events)


def test_integrations_object_and_disabled_destination(client, workspace, tracking_source, destination, sink):
    other = make_function(workspace, SINK_DESTINATION, display_name="Second")
    second = InstanceFactory(
        function=other,
        source=tracking_source,
        name="second",
        settings={"url": sink.url_for("/sink")},
        enabled=False,
    )
    send(client, tracking_source, "/v1/track", {"event": "a", "userId": "u", "integrations": {"All": False}})
    send(
        client,
        tracking_source,
        "/v1/track",
        {"event": "b", "userId": "u", "integrations": {"All": False, "Sink Forwarder": True}},
    )
    send(
        client,
        tracking_source,
        "/v1/track",
        {"event": "c", "userId": "u", "integrations": {"to sink": False}},
    )
    assert [e["event"] for e in sink_events(sink)] == ["b"]
    assert not DeliveryStat.objects.filter(instance=second).exists()


def test_unsupported_and_rejected_are_counted(client, workspace, tracking_source, sink):
    code = "async function onTrack(e) { if (e.event === 'bad') throw new ValidationError('no'); }"
    instance = InstanceFactory(function=make_function(workspace, code), source=tracking_source, name="strict")
    send(
        client,
        tracking_source,
        "/v1/batch",
        {
            "batch": [
                {"type": "track", "event": "ok", "userId": "u"},
                {"type": "track", "event": "bad", "userId": "u"},
                {"type": "identify", "userId": "u"},
            ]
        },
    )
    summary = delivery_summary(instance=instance)
    assert (summary["delivered"], summary["rejected"], summary["unsupported"]) == (1, 1, 1)
    categories = set(ErrorLog.objects.filter(instance=instance).values_list("category", flat=True))
    assert categories == {ErrorCategory.MESSAGE_REJECTED, ErrorCategory.UNSUPPORTED_EVENT_TYPE}


def test_retry_then_success_delivers_once(client, tracking_source, destination, httpserver):
    httpserver.clear_all_handlers()
    httpserver.expect_ordered_request("/sink").respond_with_data("busy", status=500)
    httpserver.expect_ordered_request("/sink").respond_with_json({})
    send(client, tracking_source, "/v1/track", {"event": "e", "userId": "u", "messageId": "r-1"})
    attempts = [json.loads(r.get_data())["messageId"] for r, _ in httpserver.log]
    assert attempts == ["r-1", "r-1"]
    summary = delivery_summary(instance=destination)
    assert (summary["retried"], summary["delivered"], summary["failed"]) == (1, 1, 0)


def test_retries_give_up_after_window(client, tracking_source, destination, httpserver, settings):
    settings.DELIVERY_RETRY_WINDOW_S = 0.0005
    httpserver.clear_all_handlers()
    httpserver.expect_request("/sink").respond_with_data("down", status=503)
    send(client, tracking_source, "/v1/track", {"event": "e", "userId": "u"})
    assert delivery_summary(instance=destination)["failed"] == 1
    assert ErrorLog.objects.get(instance=destination).category == ErrorCategory.RETRY


ON_BATCH = """
async function onBatch(events, settings) {
  await fetch(settings.url, {method: 'POST', body: JSON.stringify(events)});
  return events.map(e => ({
    status: e.properties.fail && !cache_seen(e) ? 503 : e.properties.reject ? 400 : 200}));
}
const seen = new Set();
function cache_seen(e) { const was = seen.has(e.messageId); seen.add(e.messageId); return was; }
async function onTrack(event, settings) {
  await fetch(settings.url, {method: 'POST', body: JSON.stringify([event])});
}
"""


def test_on_batch_partial_failure_retries_only_failed(client, workspace, tracking_source, sink):
    fn = make_function(workspace, ON_BATCH, batch_max_count=10)
    instance = InstanceFactory(
        function=fn, source=tracking_source, name="batcher", settings={"url": sink.url_for("/sink")}
    )
    batch = [
        {
            "type": "track",
            "event": "e",
            "userId": "u",
            "messageId": f"b{i}",
            "properties": {"fail": i == 1, "reject": i == 2},
        }
        for i in range(4)
    ]
    send(client, tracking_source, "/v1/batch", {"batch": batch})
    posts = [[e["messageId"] for e in json.loads(r.get_data())] for r, _ in sink.log]
    assert posts[0] == ["b0", "b1", "b2", "b3"]
    assert posts[1:] == [["b1"]]  # a lone retry runs the single-event handler
    summary = delivery_summary(instance=instance)
    assert (summary["delivered"], summary["failed"], summary["retried"]) == (3, 1, 1)


def test_a_version_stores_the_handlers_the_sandbox_found(workspace):
    function = function_create(
        workspace=workspace, resource_type=ResourceType.DESTINATION, display_name="Batcher", code=ON_BATCH
    )
    assert sorted(function.latest_version.handlers) == ["onBatch", "onTrack"]
    renamed = function_save(function=function, display_name="Batcher 2")  # same code, same handlers
    assert sorted(renamed.handlers) == ["onBatch", "onTrack"]


def test_delivery_calls_on_batch_only_when_the_version_defines_it(client, workspace, tracking_source, sink):
    # The code names onBatch only in a comment: the sandbox's check finds it undefined.
    code = "// onBatch = later\n" + SINK_DESTINATION
    fn = function_create(
        workspace=workspace, resource_type=ResourceType.DESTINATION, display_name="One by one", code=code
    )
    assert sorted(fn.latest_version.handlers) == ["onIdentify", "onTrack"]
    InstanceFactory(function=fn, source=tracking_source, settings={"url": sink.url_for("/sink")})
    batch = [{"type": "track", "event": "e", "userId": "u", "messageId": f"b{i}"} for i in range(3)]
    send(client, tracking_source, "/v1/batch", {"batch": batch})
    assert sorted(e["messageId"] for e in sink_events(sink)) == ["b0", "b1", "b2"]  # one call each


def test_embedded_mode_caps_immediate_delivery_retries(settings):
    """Eager mode cannot wait between retries: after a few immediate attempts it gives up."""
    from runtime.pipeline import outcomes

    settings.DELIVERY_RETRY_WINDOW_S = 4 * 3600
    settings.PIPELINE_EAGER_DELIVERY_RETRIES = 3
    assert outcomes.delivery_retry_delay(3, 0.0) is not None
    assert outcomes.delivery_retry_delay(4, 0.0) is None


def test_error_log_does_not_keep_the_write_key(instance):
    from runtime.models import ErrorLog
    from runtime.pipeline import records

    event = {"type": "track", "event": "E", "userId": "u", "writeKey": "wk_secret_value"}
    records.error_log_record(
        instance=instance,
        category="bad_request",
        error={"type": "Error", "message": "boom"},
        input={"event": event, "batch": [event]},
    )
    stored = ErrorLog.objects.get(instance=instance).input
    assert "wk_secret_value" not in str(stored)
    assert stored["event"]["event"] == "E" and stored["batch"][0]["userId"] == "u"
