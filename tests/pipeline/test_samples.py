"""Recent events per source (runtime.pipeline.samples) and where ingest records them."""

import json
from unittest import mock

import pytest
from django.core.cache import cache

from runtime.pipeline import samples
from runtime.pipeline.samples import samples_recent, samples_record

from .test_flow import send
from .test_functions import hook

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def event(n, **extra):
    return {"type": "track", "event": f"e{n}", "messageId": f"m-{n}", "writeKey": "wk_secret", **extra}


def test_keeps_the_newest_twenty_newest_first_without_write_key():
    samples_record(7, [event(n) for n in range(15)])
    samples_record(7, [event(n) for n in range(15, 30)])
    recent = samples_recent(7)
    assert [e["event"] for e in recent] == [f"e{n}" for n in range(29, 9, -1)]
    assert all("writeKey" not in e for e in recent)
    assert samples_recent(8) == []


def test_a_large_batch_is_one_cache_write_of_its_last_events():
    with mock.patch.object(samples.cache, "set", wraps=samples.cache.set) as cache_set:
        samples_record(7, [event(n) for n in range(500)])
    assert cache_set.call_count == 1
    assert [e["messageId"] for e in samples_recent(7)][:2] == ["m-499", "m-498"]
    assert len(samples_recent(7)) == 20


def test_oversize_events_are_skipped():
    big = event(1, properties={"blob": "x" * (32 * 1024)})
    samples_record(7, [event(0), big, event(2)])
    assert [e["event"] for e in samples_recent(7)] == ["e2", "e0"]
    samples_record(8, [big])
    assert samples_recent(8) == []


def test_cache_errors_are_logged_not_raised(caplog):
    with mock.patch.object(samples.cache, "get", side_effect=ConnectionError("redis down")):
        samples_record(7, [event(1)])
        assert samples_recent(7) == []
    assert "could not keep sample events" in caplog.text


def test_tracking_api_records_samples(client, tracking_source):
    send(client, tracking_source, "/v1/track", {"event": "Signed Up", "userId": "u1", "messageId": "m-1"})
    batch = [{"type": "identify", "userId": "u2", "traits": {"plan": "pro"}}]
    send(client, tracking_source, "/v1/batch", {"batch": batch})
    recent = samples_recent(tracking_source.pk)
    assert [e["type"] for e in recent] == ["identify", "track"]
    assert recent[1]["event"] == "Signed Up" and recent[1]["messageId"] == "m-1"
    assert recent[1]["receivedAt"] and "writeKey" not in recent[1]
    assert tracking_source.write_key not in json.dumps(recent)


def test_tracking_api_still_accepts_when_the_cache_fails(client, tracking_source, destination, sink):
    with mock.patch.object(samples.cache, "set", side_effect=ConnectionError("redis down")):
        send(client, tracking_source, "/v1/track", {"event": "Signed Up", "userId": "u1"})
    assert len([r for r, _ in sink.log if r.path == "/sink"]) == 1


def test_refused_requests_record_nothing(client, tracking_source):
    resp = client.post(
        "/v1/track", data=json.dumps({"event": "x"}), content_type="application/json"
    )  # no write key
    assert resp.status_code == 401
    assert samples_recent(tracking_source.pk) == []


def test_source_function_events_are_recorded(client, source_function_instance, sink):
    items = [{"name": "Order Placed", "user": "u1"}, {"name": "Order Shipped", "user": "u2"}]
    assert hook(client, source_function_instance, {"items": items}).status_code == 200
    recent = samples_recent(source_function_instance.source_id)
    assert [e["event"] for e in recent] == ["Order Shipped", "Order Placed"]
    assert all("writeKey" not in e for e in recent)
