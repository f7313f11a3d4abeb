"""Instances: Segment's insert-function-instances, our function instances, errors and metrics."""

import pytest

from catalog.validation import MASK
from runtime.models import DeliveryStat, ErrorLog, FunctionInstance
from workspaces.models import Source

INSERT_CODE = "async function onTrack(event, settings) { return event }"
SETTINGS = [
    {
        "name": "region",
        "label": "Region",
        "description": "",
        "type": "STRING",
        "required": True,
        "sensitive": False,
    },
    {
        "name": "apiKey",
        "label": "API Key",
        "description": "",
        "type": "STRING",
        "required": False,
        "sensitive": True,
    },
]


@pytest.fixture
def insert_function(api):
    body = {
        "displayName": "Insert",
        "resourceType": "INSERT_DESTINATION",
        "code": INSERT_CODE,
        "settings": SETTINGS,
    }
    return api.post("/api/functions", body, format="json").json()["data"]["function"]


def test_insert_instance_crud_with_and_without_prefix(api, insert_function, instance):
    bare_id = insert_function["id"].removeprefix("ifnd_")
    body = {
        "functionId": bare_id,
        "integrationId": instance.public_id,
        "name": "Clean",
        "settings": {"region": "eu", "apiKey": "s3cret"},
    }
    created = api.post("/api/insert-function-instances", body, format="json")
    assert created.status_code == 200, created.content
    item = created.json()["data"]["insertFunctionInstance"]
    assert item["integrationId"] == instance.public_id
    assert item["classId"] == bare_id
    assert item["settings"] == {"region": "eu"}
    assert item["encryptedSettings"] == {"apiKey": MASK}
    assert "s3cret" not in created.content.decode()
    assert FunctionInstance.objects.get(public_id=item["id"]).all_settings()["apiKey"] == "s3cret"

    for function_id in (bare_id, insert_function["id"]):
        listed = api.get(f"/api/insert-function-instances?functionId={function_id}").json()["data"]
        assert [i["id"] for i in listed["instances"]] == [item["id"]]

    url = f"/api/insert-function-instances/{item['id']}"
    assert api.get(url).json()["data"]["insertFunctionInstance"]["name"] == "Clean"
    patched = api.patch(url, {"enabled": False, "settings": {"region": "us"}}, format="json")
    assert patched.status_code == 200
    assert patched.json()["data"]["insertFunctionInstance"]["enabled"] is False
    # The secret was omitted: write-only values are kept.
    assert FunctionInstance.objects.get(public_id=item["id"]).all_settings() == {
        "region": "us",
        "apiKey": "s3cret",
    }
    assert api.delete(url).json() == {"data": {"status": "SUCCESS"}}
    assert api.get(url).status_code == 404


def test_insert_instance_validation(api, insert_function, instance, function):
    url = "/api/insert-function-instances"
    assert api.get(url).status_code == 422  # functionId is required
    base = {
        "functionId": insert_function["id"],
        "integrationId": instance.public_id,
        "name": "X",
        "settings": {},
    }
    missing_required = api.post(url, base, format="json")
    assert missing_required.status_code == 422
    assert missing_required.json()["errors"][0]["field"] == "region"
    assert api.post(url, {**base, "settings": {"region": 1}}, format="json").status_code == 422
    assert api.post(url, {**base, "integrationId": "nope"}, format="json").status_code == 404
    # A destination function is not an insert function.
    assert api.post(url, {**base, "functionId": function.public_id}, format="json").status_code == 404
    assert api.post(url, {**base, "extra": 1}, format="json").json()["errors"][0]["field"] == "extra"
    assert not FunctionInstance.objects.filter(name="X").exists()


def test_function_instances_connect_configure_delete(api, function, other_source):
    url = f"/api/functions/{function.public_id}/instances"
    created = api.post(url, {"name": "Mobile fwd", "sourceId": other_source.public_id}, format="json")
    assert created.status_code == 200, created.content
    item = created.json()["data"]["instance"]
    assert item["sourceId"] == other_source.public_id and item["webhookUrl"] is None
    assert item["deployedVersionId"] == function.latest_version.public_id
    assert [i["id"] for i in api.get(url).json()["data"]["instances"]] == [item["id"]]

    detail = f"/api/function-instances/{item['id']}"
    assert api.patch(detail, {"name": "Renamed", "enabled": False}, format="json").status_code == 200
    assert api.get(detail).json()["data"]["instance"]["name"] == "Renamed"
    assert api.patch(detail, {"settings": {"nope": "x"}}, format="json").status_code == 422
    assert api.delete(detail).status_code == 200
    assert not FunctionInstance.objects.filter(public_id=item["id"]).exists()
    assert api.post(url, {"name": "No source"}, format="json").json()["errors"][0]["field"] == "sourceId"


def test_source_function_instance_has_its_own_webhook(api):
    code = "async function onRequest(request, settings) { Segment.track({event: 'x', userId: 'u'}) }"
    body = {"displayName": "Hook", "resourceType": "SOURCE", "code": code}
    function = api.post("/api/functions", body, format="json").json()["data"]["function"]
    created = api.post(f"/api/functions/{function['id']}/instances", {"name": "Stripe"}, format="json")
    assert created.status_code == 200, created.content
    item = created.json()["data"]["instance"]
    source = Source.objects.get(public_id=item["sourceId"])
    assert item["webhookUrl"] == source.webhook_url and "/hooks/" in item["webhookUrl"]
    api.delete(f"/api/function-instances/{item['id']}")
    assert not Source.objects.filter(pk=source.pk).exists()


def test_errors_and_metrics(api, instance):
    ErrorLog.objects.create(instance=instance, category="retry", error_type="RetryError", message="later")
    ErrorLog.objects.create(instance=instance, category="bad_request", error_type="TypeError", message="x")
    from django.utils import timezone

    DeliveryStat.objects.create(
        instance=instance, bucket=timezone.now(), delivered=9, failed=1, latency={"50": 9, "250": 1}
    )
    errors = api.get(f"/api/function-instances/{instance.public_id}/errors?pagination.count=1").json()["data"]
    assert errors["pagination"]["totalEntries"] == 2
    assert errors["errorLogs"][0]["type"] == "TypeError"  # newest first
    metrics = api.get(f"/api/function-instances/{instance.public_id}/metrics").json()["data"]["metrics"]
    assert metrics["errorsByCategory"] == {"retry": 1, "bad_request": 1}
    assert metrics["errorsTotal"] == 2
    assert metrics["delivered"] == 9 and metrics["failed"] == 1
    assert metrics["p95LatencyMs"] == 250.0
    assert [point["delivered"] for point in metrics["series"]] == [9]


def test_sources_crud(api, source):
    created = api.post("/api/sources", {"name": "Server"}, format="json")
    assert created.status_code == 200
    item = created.json()["data"]["source"]
    assert item["kind"] == "TRACKING_API" and len(item["writeKey"]) == 32
    url = f"/api/sources/{item['id']}"
    assert api.patch(url, {"enabled": False}, format="json").json()["data"]["source"]["enabled"] is False
    assert api.patch(url, {"writeKey": "x"}, format="json").status_code == 422
    assert api.post("/api/sources", {"name": "F", "kind": "FUNCTION"}, format="json").status_code == 422
    listed = api.get("/api/sources").json()["data"]["sources"]
    assert {s["id"] for s in listed} == {source.public_id, item["id"]}
    assert api.delete(url).json() == {"data": {"status": "SUCCESS"}}
    assert not Source.objects.filter(public_id=item["id"]).exists()
