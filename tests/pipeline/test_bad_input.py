"""Refused ingest requests: each gets its documented status and nothing is queued."""

import base64
import json

import pytest

from runtime.pipeline import routing

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch):
    calls = []
    monkeypatch.setattr(routing, "_task", lambda stage: pytest.fail(f"queued to {stage}"))

    def record(stage, key, items, **kwargs):
        calls.append(items)

    monkeypatch.setattr("runtime.pipeline.sources.enqueue", record)
    monkeypatch.setattr("runtime.pipeline.routing.enqueue", record)
    return calls


def basic(write_key):
    return "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()


def post_json(client, url, body, write_key=None, content_type="application/json"):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    headers = {"HTTP_AUTHORIZATION": basic(write_key)} if write_key else {}
    return client.post(url, data=data, content_type=content_type, **headers)


def track(**extra):
    return {"type": "track", "event": "Signed Up", "userId": "u1", **extra}


def test_valid_track_is_queued(client, tracking_source, destination, queued):
    resp = post_json(client, "/v1/track", track(), tracking_source.write_key)
    assert resp.status_code == 200
    assert resp.json() == {"success": True}
    assert len(queued) == 1


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        ("{not json", "application/json", 400, "bad_request"),
        ("[1, 2]", "application/json", 400, "bad_request"),
        (json.dumps(track()), "text/plain", 400, "bad_request"),
        (json.dumps({"event": "x"}), "application/json", 400, "no_user_anon_id"),
        (json.dumps({"userId": "u"}), "application/json", 400, "event_not_defined"),
    ],
)
def test_refused_track(client, tracking_source, queued, body, content_type, status, code):
    resp = post_json(client, "/v1/track", body, tracking_source.write_key, content_type)
    assert resp.status_code == status
    assert resp.json()["code"] == code
    assert queued == []


def test_oversize_event(client, tracking_source, queued):
    resp = post_json(client, "/v1/track", track(properties={"x": "a" * 33_000}), tracking_source.write_key)
    assert resp.status_code == 400
    assert resp.json()["code"] == "too_large"
    assert queued == []


def test_oversize_event_inside_batch(client, tracking_source, queued):
    batch = [track(), track(properties={"x": "a" * 33_000})]
    resp = post_json(client, "/v1/batch", {"batch": batch}, tracking_source.write_key)
    assert resp.status_code == 400
    assert queued == []


def test_oversize_batch(client, tracking_source, queued):
    batch = [track(properties={"x": "a" * 20_000}) for _ in range(30)]
    resp = post_json(client, "/v1/batch", {"batch": batch}, tracking_source.write_key)
    assert resp.status_code == 400
    assert resp.json()["code"] == "too_large"
    assert queued == []


def test_too_many_events(client, tracking_source, queued):
    resp = post_json(
        client, "/v1/batch", {"batch": [track() for _ in range(2501)]}, tracking_source.write_key
    )
    assert resp.status_code == 400
    assert queued == []


def test_batch_with_one_bad_message_queues_nothing(client, tracking_source, queued):
    batch = [track(), {"type": "identify", "traits": {}}, track()]
    resp = post_json(client, "/v1/batch", {"batch": batch}, tracking_source.write_key)
    assert resp.status_code == 400
    assert resp.json()["code"] == "no_user_anon_id"
    assert queued == []


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ({"type": "group", "userId": "u"}, "id_required"),
        ({"type": "alias", "userId": "u"}, "id_required"),
        ({"type": "track", "userId": "u", "event": "e", "properties": [1]}, "properties_not_object"),
        ({"type": "identify", "userId": "u", "traits": "x"}, "traits_not_object"),
        ({"type": "launch", "userId": "u"}, "bad_request"),
    ],
)
def test_segment_validation_codes(client, tracking_source, queued, message, code):
    resp = post_json(client, "/v1/batch", {"batch": [message]}, tracking_source.write_key)
    assert resp.status_code == 400
    assert resp.json()["code"] == code
    assert queued == []


def test_unknown_write_key(client, tracking_source, queued):
    resp = post_json(client, "/v1/track", track(), "nope")
    assert resp.status_code == 401
    resp = post_json(client, "/v1/track", track())
    assert resp.status_code == 401
    assert queued == []


def test_write_key_in_body(client, tracking_source, destination, queued):
    resp = post_json(client, "/v1/track", track(writeKey=tracking_source.write_key))
    assert resp.status_code == 200
    assert queued[0][0]["writeKey"] == tracking_source.write_key


def test_disabled_tracking_source(client, tracking_source, queued):
    tracking_source.enabled = False
    tracking_source.save()
    resp = post_json(client, "/v1/track", track(), tracking_source.write_key)
    assert resp.status_code == 403
    assert resp.json()["code"] == "source_disabled"
    assert queued == []


def test_get_is_not_allowed(client, tracking_source, source_function_instance, queued):
    assert client.get("/v1/track").status_code == 405
    assert client.get(source_function_instance.source.webhook_url.split("8000", 1)[1]).status_code == 405
    assert queued == []


def hook_path(instance):
    return f"/hooks/{instance.source.webhook_token}"


def test_webhook_accepts_json_and_form(client, source_function_instance, queued):
    path = hook_path(source_function_instance)
    assert client.post(path, data="{}", content_type="application/json").status_code == 200
    assert (
        client.post(path, data="a=1&b=2", content_type="application/x-www-form-urlencoded").status_code == 200
    )
    # Queued as the raw text (request.text() is what the sender signed); request.json() decodes it.
    assert [items[0]["payload"]["body"] for items in queued] == ["{}", "a=1&b=2"]


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        ("{nope", "application/json", 400),
        ("hello", "text/plain", 400),
        ("x" * (512 * 1024 + 1), "application/json", 413),
    ],
)
def test_webhook_refusals(client, source_function_instance, queued, data, content_type, status):
    resp = client.post(hook_path(source_function_instance), data=data, content_type=content_type)
    assert resp.status_code == status
    assert queued == []


def test_webhook_unknown_or_disabled(client, source_function_instance, queued):
    assert client.post("/hooks/not-a-token", data="{}", content_type="application/json").status_code == 404
    source_function_instance.enabled = False
    source_function_instance.save()
    resp = client.post(hook_path(source_function_instance), data="{}", content_type="application/json")
    assert resp.status_code == 404
    assert queued == []


def test_queue_down_answers_503(client, tracking_source, destination, source_function_instance, monkeypatch):
    def refuse(*args, **kwargs):
        raise routing.QueueUnavailable("broker down")

    monkeypatch.setattr("runtime.pipeline.sources.enqueue", refuse)
    monkeypatch.setattr("runtime.pipeline.routing.enqueue", refuse)
    assert post_json(client, "/v1/track", track(), tracking_source.write_key).status_code == 503
    resp = client.post(hook_path(source_function_instance), data="{}", content_type="application/json")
    assert resp.status_code == 503
