"""Source functions and insert functions in the pipeline (embedded mode, real sandbox)."""

import json

import pytest

from catalog.choices import ResourceType
from runtime import ingest
from runtime.choices import ErrorCategory
from runtime.models import ErrorLog
from runtime.selectors import delivery_summary
from tests.factories import InstanceFactory

from .conftest import SINK_DESTINATION, make_function, sink_events
from .test_flow import send

pytestmark = pytest.mark.django_db


def hook(client, instance, body, **headers):
    return client.post(
        f"/hooks/{instance.source.webhook_token}",
        data=json.dumps(body),
        content_type="application/json",
        **headers,
    )


def test_webhook_events_reach_destination(client, source_function_instance, sink):
    items = [{"name": "Order Placed", "user": "u1"}, {"name": "Order Shipped", "user": "u2"}]
    resp = hook(client, source_function_instance, {"items": items}, HTTP_X_VIA="stripe")
    assert resp.status_code == 200
    events = sink_events(sink)
    assert [(e["event"], e["userId"], e["properties"]["via"]) for e in events] == [
        ("Order Placed", "u1", "stripe"),
        ("Order Shipped", "u2", "stripe"),
    ]
    assert {e["writeKey"] for e in events} == {source_function_instance.source.write_key}
    assert all(e["context"]["library"]["name"] for e in events)


def test_source_retry_error_is_retried_then_logged(client, source_function_instance, sink, settings):
    settings.SOURCE_RETRY_MAX = 2
    resp = hook(client, source_function_instance, {"items": [{"name": "x", "user": "u"}], "retry": True})
    assert resp.status_code == 200
    assert sink_events(sink) == []  # emitted events are only sent when the handler succeeds
    log = ErrorLog.objects.get(instance=source_function_instance)
    assert (log.category, log.error_type, log.attempts) == (ErrorCategory.RETRY, "RetryError", 3)
    assert json.loads(log.input["payload"]["body"])["retry"] is True


def test_source_throw_is_bad_request(client, source_function_instance):
    hook(client, source_function_instance, {"boom": True})
    log = ErrorLog.objects.get(instance=source_function_instance)
    assert (log.category, log.error_type, log.attempts) == (ErrorCategory.BAD_REQUEST, "TypeError", 1)


def test_invalid_emitted_event_rejects_the_run(client, source_function_instance, sink):
    # Segment.track validates as it is called: the handler throws and nothing is sent.
    hook(client, source_function_instance, {"items": [{"name": "ok", "user": "u"}, {"name": "no user"}]})
    assert sink_events(sink) == []
    log = ErrorLog.objects.get(instance=source_function_instance)
    assert log.category == ErrorCategory.MESSAGE_REJECTED


def test_emitted_events_get_the_tracking_api_rules():
    events = [
        {"type": "track", "event": "e", "userId": "u"},
        {"type": "track", "event": "big", "userId": "u", "properties": {"x": "a" * 40_000}},
    ]
    good, rejected = ingest.emitted_events_prepare(events, write_key="wk", run_id="run-1")
    again, _ = ingest.emitted_events_prepare(events, write_key="wk", run_id="run-1")
    assert [e["event"] for e in good] == ["e"]
    assert good[0]["messageId"] == again[0]["messageId"]  # a redelivered run emits the same ids
    assert rejected[0]["code"] == "too_large"


INSERT = """
async function onTrack(event) {
  if (event.event === 'drop me') throw new DropEvent('no');
  if (event.event === 'vanish') return null;
  event.properties = {...event.properties, enriched: true};
  return event;
}
"""


def test_destination_insert_modifies_and_drops(client, workspace, tracking_source, destination, sink):
    insert_fn = make_function(workspace, INSERT, kind=ResourceType.INSERT_DESTINATION)
    insert = InstanceFactory(
        function=insert_fn, source=tracking_source, destination=destination, name="enrich"
    )
    batch = [{"type": "track", "event": name, "userId": "u"} for name in ("keep", "drop me", "vanish")]
    send(client, tracking_source, "/v1/batch", {"batch": batch})
    [event] = sink_events(sink)
    assert (event["event"], event["properties"]["enriched"]) == ("keep", True)
    assert delivery_summary(instance=destination)["filtered"] == 2
    assert delivery_summary(instance=insert)["filtered"] == 2


def test_source_insert_runs_before_routing(client, workspace, tracking_source, destination, sink):
    insert_fn = make_function(workspace, INSERT, kind=ResourceType.INSERT_SOURCE)
    InstanceFactory(function=insert_fn, source=tracking_source, name="source insert")
    batch = [{"type": "track", "event": name, "userId": "u"} for name in ("keep", "drop me")]
    send(client, tracking_source, "/v1/batch", {"batch": batch})
    assert [(e["event"], e["properties"]["enriched"]) for e in sink_events(sink)] == [("keep", True)]


FORM_SOURCE = """
async function onRequest(request, settings) {
  const body = request.json();
  Segment.track({event: 'Form ' + body.action, userId: body.user, properties: {tags: body.tag,
                 page: request.url.searchParams.get('page'), text: request.text()}});
}
"""


def test_form_webhook_reaches_the_function_as_an_object(client, workspace, sink):
    function = make_function(workspace, FORM_SOURCE, kind=ResourceType.SOURCE, display_name="Form In")
    instance = InstanceFactory(function=function, name="form in")
    dest = make_function(workspace, SINK_DESTINATION, display_name="Form Out")
    InstanceFactory(
        function=dest, source=instance.source, name="form out", settings={"url": sink.url_for("/sink")}
    )
    resp = client.post(
        f"/hooks/{instance.source.webhook_token}?page=7",
        data="action=signup&user=f-1&tag=a&tag=b",
        content_type="application/x-www-form-urlencoded",
    )
    assert resp.status_code == 200
    [event] = sink_events(sink)
    assert (event["event"], event["userId"]) == ("Form signup", "f-1")
    assert event["properties"]["tags"] == ["a", "b"] and event["properties"]["page"] == "7"
    assert event["properties"]["text"] == "action=signup&user=f-1&tag=a&tag=b"  # the raw body
