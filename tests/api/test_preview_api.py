"""Test runs through the API: a fresh isolate, the runtime's full result, size limits."""

import pytest

from catalog.services import function_create

DEST_CODE = """
async function onTrack(event, settings) {
  console.log('got', event.event);
  return {seen: event.event, key: settings.apiKey};
}
async function onBatch(events, settings) { return events.length }
"""
SOURCE_CODE = """
async function onRequest(request, settings) {
  const body = request.json();
  Segment.track({event: body.name, userId: 'u1', properties: {q: request.url.searchParams.get('q')}});
}
"""


@pytest.fixture
def dest(workspace, owner):
    return function_create(
        workspace=workspace,
        resource_type="DESTINATION",
        display_name="Echo",
        code=DEST_CODE,
        created_by=owner,
    )


def test_preview_saved_function_with_event_and_settings(api, dest):
    response = api.post(
        f"/api/functions/{dest.public_id}/preview",
        {"payload": {"type": "track", "event": "Signed Up"}, "settings": {"apiKey": "k"}},
        format="json",
    )
    assert response.status_code == 200, response.content
    result = response.json()["data"]["result"]
    assert result["status"] == "success" and result["error"] is None
    assert result["returned"] == {"seen": "Signed Up", "key": "k"}
    assert any("got" in str(line) for line in result["logs"])
    assert result["durationMs"] >= 0 and isinstance(result["requests"], list)


def test_preview_list_runs_on_batch(api, dest):
    response = api.post(
        f"/api/functions/{dest.public_id}/preview",
        {"payload": [{"type": "track", "event": "a"}, {"type": "track", "event": "b"}]},
        format="json",
    )
    assert response.json()["data"]["result"]["returned"] == 2


def test_preview_reports_thrown_errors(api, dest):
    code = "async function onTrack(event) { throw new ValidationError('bad event') }"
    response = api.post(
        f"/api/functions/{dest.public_id}/preview",
        {"payload": {"type": "track", "event": "x"}, "code": code},
        format="json",
    )
    result = response.json()["data"]["result"]
    assert result["status"] == "error"
    assert result["error"]["type"] == "ValidationError" and result["error"]["message"] == "bad event"


def test_adhoc_source_preview_emits_events(api):
    response = api.post(
        "/api/functions/preview",
        {
            "code": SOURCE_CODE,
            "resourceType": "SOURCE",
            "payload": {
                "method": "POST",
                "headers": {"content-type": "application/json"},
                "query": {"q": "1"},
                "body": {"name": "Order Placed"},
            },
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    result = response.json()["data"]["result"]
    assert result["status"] == "success", result
    assert result["events"][0]["event"] == "Order Placed"


def test_preview_validation_and_limits(api, dest, read_only, api_as):
    url = f"/api/functions/{dest.public_id}/preview"
    assert api.post(url, {"payload": "just a string"}, format="json").status_code == 422
    assert api.post(url, {"settings": {}}, format="json").json()["errors"][0]["field"] == "payload"
    big = {"payload": {"type": "track", "event": "x", "properties": {"blob": "x" * (513 * 1024)}}}
    too_big = api.post(url, big, format="json")
    assert too_big.status_code == 413
    assert too_big.json()["errors"][0]["type"] == "PayloadTooLarge"
    assert (
        api.post(
            "/api/functions/preview", {"code": "x", "resourceType": "SOURCE", "payload": []}, format="json"
        ).status_code
        == 422
    )
    # Read-only users see the function but may not run it.
    assert api_as(read_only).post(url, {"payload": {"type": "track"}}, format="json").status_code == 403
