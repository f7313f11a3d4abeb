"""Refused ingest requests: each gets its documented status and nothing is queued."""

import base64
import json

import pytest

from runtime.pipeline import queue
from runtime.pipeline.drops import SAMPLES_PER_REQUEST
from runtime.selectors import source_drop_counts, source_drops_recent

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch):
    calls = []
    monkeypatch.setattr(queue, "_task", lambda stage: pytest.fail(f"queued to {stage}"))

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


def test_oversize_event_inside_batch_is_dropped_alone(client, tracking_source, destination, queued):
    batch = [track(), track(properties={"x": "a" * 33_000})]
    resp = post_json(client, "/v1/batch", {"batch": batch}, tracking_source.write_key)
    assert resp.status_code == 200
    assert [len(items) for items in queued] == [1]
    assert source_drop_counts(source=tracking_source) == {"too_large": 1}
    kept = source_drops_recent(source=tracking_source).get()
    assert kept.event == {"type": "track", "truncated": True, "bytes": kept.event["bytes"]}


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


def test_batch_with_bad_messages_queues_the_valid_ones(client, tracking_source, destination, queued):
    batch = [track(messageId="a"), {"type": "identify", "traits": {}}, track(messageId="b"), "nope"]
    resp = post_json(client, "/v1/batch", {"batch": batch}, tracking_source.write_key)
    assert resp.status_code == 200
    assert resp.json() == {"success": True}
    assert [[m["messageId"] for m in items] for items in queued] == [["a", "b"]]
    assert source_drop_counts(source=tracking_source) == {"bad_request": 1, "no_user_anon_id": 1}
    reasons = {d.code: (d.message, d.event) for d in source_drops_recent(source=tracking_source)}
    assert reasons["no_user_anon_id"] == (
        "One of userId, anonymousId is required",
        {"type": "identify", "traits": {}},
    )


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ({"type": "group", "userId": "u"}, "id_required"),
        ({"type": "alias", "userId": "u"}, "id_required"),
        ({"type": "track", "userId": "u", "event": "e", "properties": [1]}, "properties_not_object"),
        ({"type": "identify", "userId": "u", "traits": "x"}, "traits_not_object"),
        ({"type": "track", "userId": "u"}, "event_not_defined"),
        ({"type": "track", "userId": "u", "event": 5}, "event_not_string"),
        ({"type": "page", "userId": {"a": 1}}, "id_not_string"),
        ({"type": "page", "userId": "u", "name": 1}, "name_not_string"),
        ({"type": "launch", "userId": "u"}, "bad_request"),
        ({"type": "track", "userId": "u", "event": "e", "messageId": "m" * 101}, "bad_request"),
    ],
)
def test_segment_validation_codes(client, tracking_source, queued, message, code):
    resp = post_json(client, "/v1/batch", {"batch": [message]}, tracking_source.write_key)
    assert resp.status_code == 200
    assert queued == []
    assert source_drop_counts(source=tracking_source) == {code: 1}
    if message["type"] != "launch":  # a single call is refused with the code
        resp = post_json(client, f"/v1/{message['type']}", message, tracking_source.write_key)
        assert resp.status_code == 400
        assert resp.json()["code"] == code
    assert queued == []


def test_import_is_batch(client, tracking_source, destination, queued):
    batch = [track(messageId="ok"), {"type": "track", "userId": "u"}]
    resp = post_json(client, "/v1/import", {"batch": batch}, tracking_source.write_key)
    assert resp.status_code == 200
    assert [[m["messageId"] for m in items] for items in queued] == [["ok"]]
    assert source_drop_counts(source=tracking_source) == {"event_not_defined": 1}


def test_many_drops_count_all_and_keep_a_few(client, tracking_source, queued):
    batch = [{"type": "track", "userId": "u"}] * 300
    assert post_json(client, "/v1/batch", {"batch": batch}, tracking_source.write_key).status_code == 200
    assert source_drop_counts(source=tracking_source) == {"event_not_defined": 300}
    assert source_drops_recent(source=tracking_source).count() == SAMPLES_PER_REQUEST


def test_database_down_answers_503(client, tracking_source, source_function_instance, monkeypatch):
    from django.db import OperationalError

    def down(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr("runtime.views.tracking_source", down)
    monkeypatch.setattr("runtime.views.webhook_instance_id", down)
    resp = post_json(client, "/v1/batch", {"batch": [track()]}, tracking_source.write_key)
    assert (resp.status_code, resp.json()["code"]) == (503, "unavailable")
    resp = client.post(hook_path(source_function_instance), data="{}", content_type="application/json")
    assert resp.status_code == 503


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
        raise queue.QueueUnavailable("broker down")

    monkeypatch.setattr("runtime.pipeline.sources.enqueue", refuse)
    monkeypatch.setattr("runtime.pipeline.routing.enqueue", refuse)
    assert post_json(client, "/v1/track", track(), tracking_source.write_key).status_code == 503
    resp = client.post(hook_path(source_function_instance), data="{}", content_type="application/json")
    assert resp.status_code == 503


def test_drops_show_on_the_source_page_and_in_the_api(client, login, owner, tracking_source, queued):
    from workspaces.services import access_token_create

    batch = [track(), {"type": "track", "userId": "u", "event": ""}]
    post_json(client, "/v1/batch", {"batch": batch}, tracking_source.write_key)
    login(owner)
    page = client.get(f"/admin/workspaces/source/{tracking_source.pk}/change/").content.decode()
    assert "1 × <code>event_not_defined</code>" in page
    listing = client.get(f"/admin/runtime/ingestdrop/?source__id__exact={tracking_source.pk}")
    assert "track requires event" in listing.content.decode()
    token = access_token_create(workspace=tracking_source.workspace, user=owner, name="t")[1]
    resp = client.get(f"/api/sources/{tracking_source.public_id}/drops", HTTP_AUTHORIZATION=f"Bearer {token}")
    data = resp.json()["data"]
    assert data["counts"] == {"event_not_defined": 1}
    assert [(d["code"], d["message"], d["event"]["event"]) for d in data["drops"]] == [
        ("event_not_defined", "track requires event", "")
    ]
