"""Functions, versions, restore and deploy through the API (Segment's shapes and statuses)."""

import pytest

from catalog.models import Function
from runtime.choices import DeploymentStatus
from runtime.models import Deployment
from workspaces.models import AuditEvent

CODE = "async function onTrack(event, settings) { return event }"
SETTINGS = [
    {
        "name": "apiKey",
        "label": "API Key",
        "description": "key",
        "type": "STRING",
        "required": False,
        "sensitive": True,
    },
]


def create(api, **overrides):
    body = {"displayName": "My Function", "resourceType": "DESTINATION", "code": CODE, **overrides}
    return api.post("/api/functions", body, format="json")


def test_create_returns_segment_function_shape(api, workspace):
    response = create(api, settings=SETTINGS, description="d", logoUrl="https://example.com/l.png")
    assert response.status_code == 200
    function = response.json()["data"]["function"]
    assert function["id"].startswith("dfn_")
    assert function["resourceType"] == "DESTINATION"
    assert function["displayName"] == "My Function"
    assert function["settings"] == SETTINGS
    assert function["createdBy"] == "owner"
    assert function["workspaceId"] == "acme"
    assert function["catalogId"] == function["id"].removeprefix("dfn_")
    assert function["buildpack"] == "boreal"
    assert function["isLatestVersion"] is True and function["deployedAt"] is None
    assert function["previewWebhookUrl"].startswith("http")
    assert Function.objects.get(public_id=function["id"]).versions.count() == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"resourceType": "NOPE"}, "resourceType"),
        ({"code": "function ("}, "code"),
        ({"displayName": ""}, "displayName"),
        ({"settings": [{"label": "x", "type": "FLOAT"}]}, "settings.0.type"),
        ({"unknownKey": 1}, "unknownKey"),
    ],
)
def test_create_validation_errors_are_422_naming_the_field(api, overrides, field):
    response = create(api, **overrides)
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert any(e.get("field") == field for e in errors), errors
    assert all(e["type"] == "ValidationError" for e in errors)
    assert not Function.objects.filter(display_name="My Function").exists()


def test_duplicate_display_name_is_422(api, function):
    response = create(api, displayName=function.display_name)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "displayName"


def test_malformed_json_is_400(api):
    response = api.post("/api/functions", "{nope", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["type"] == "BadRequest"


def test_segment_media_types_are_json(api):
    response = api.post(
        "/api/functions",
        '{"displayName": "Vnd", "resourceType": "DESTINATION", "code": "async function onTrack(e) {}"}',
        content_type="application/vnd.segment.v1alpha+json",
        HTTP_ACCEPT="application/vnd.segment.v1+json",
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.segment.v1+json")
    assert response.json()["data"]["function"]["displayName"] == "Vnd"


def test_list_filters_by_type_and_paginates_with_both_param_styles(api, function, second_function):
    for n in range(3):
        create(api, displayName=f"Extra {n}")
    page = api.get("/api/functions?resourceType=DESTINATION&pagination.count=2").json()["data"]
    assert len(page["functions"]) == 2
    assert page["pagination"]["totalEntries"] == 4
    cursor = page["pagination"]["next"]
    rest = api.get(f"/api/functions?resourceType=DESTINATION&pagination[count]=2&pagination[cursor]={cursor}")
    rest = rest.json()["data"]
    ids = [f["id"] for f in page["functions"] + rest["functions"]]
    assert len(set(ids)) == 4 and second_function.public_id not in ids
    assert rest["pagination"]["next"] is None and rest["pagination"]["previous"] is not None
    assert "code" not in rest["functions"][0]


@pytest.mark.parametrize(
    "query", ["resourceType=BAD", "pagination.count=0", "pagination.count=x", "pagination.cursor=%%%"]
)
def test_list_rejects_bad_parameters(api, query):
    assert api.get(f"/api/functions?{query}").status_code == 422


def test_patch_saves_a_new_version_every_time(api, function):
    url = f"/api/functions/{function.public_id}"
    first = api.patch(url, {"code": CODE}, format="json")
    second = api.patch(url, {"displayName": "Renamed", "settings": SETTINGS}, format="json")
    assert first.status_code == second.status_code == 200
    body = second.json()["data"]["function"]
    assert body["displayName"] == "Renamed" and body["code"] == CODE and body["settings"] == SETTINGS
    assert function.versions.count() == 3
    assert api.patch(url, {"code": "}{"}, format="json").status_code == 422
    assert api.patch(url, {"resourceType": "SOURCE"}, format="json").status_code == 422
    assert function.versions.count() == 3


def test_versions_list_get_and_restore(api, function):
    original = function.latest_version
    api.patch(f"/api/functions/{function.public_id}", {"code": CODE}, format="json")
    versions = api.get(f"/api/functions/{function.public_id}/versions").json()["data"]["versions"]
    assert [v["number"] for v in versions] == [2, 1]
    assert versions[0]["isLatest"] and versions[0]["author"] == "owner"
    one = api.get(f"/api/functions/{function.public_id}/versions/{original.public_id}").json()["data"]
    assert one["version"]["code"] == original.code

    restored = api.post(
        f"/api/functions/{function.public_id}/versions", {"versionId": original.public_id}, format="json"
    )
    assert restored.status_code == 200
    version = restored.json()["data"]["version"]
    assert version["number"] == 3 and version["code"] == original.code
    assert version["restoredFrom"] == original.public_id
    function.refresh_from_db()
    assert function.code == original.code


def test_unknown_version_is_404(api, function, foreign_function):
    url = f"/api/functions/{function.public_id}/versions"
    assert api.get(f"{url}/nope").status_code == 404
    foreign = foreign_function.latest_version.public_id
    assert api.get(f"{url}/{foreign}").status_code == 404
    assert api.post(url, {"versionId": foreign}, format="json").status_code == 404
    assert api.post(url, {}, format="json").status_code == 422


def test_deploy_moves_instances_to_latest(api, function, instance, django_capture_on_commit_callbacks):
    api.patch(f"/api/functions/{function.public_id}", {"code": CODE}, format="json")
    function.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/functions/{function.public_id}/deploy")
    assert response.status_code == 200
    deployment = response.json()["data"]["functionDeployment"]
    assert deployment["status"] == "SUCCESS"
    assert deployment["versionId"] == function.latest_version.public_id
    assert [row["instanceId"] for row in deployment["instances"]] == [instance.public_id]
    # The deployment runs on commit (here: when the capture block ends).
    assert deployment["instances"][0]["deployment"]["status"] in DeploymentStatus.values
    state = api.get(f"/api/function-instances/{instance.public_id}").json()["data"]["instance"]
    assert state["deployment"]["status"] == DeploymentStatus.SUCCEEDED
    assert state["deployedVersionId"] == function.latest_version.public_id and state["isLatestVersion"]
    instance.refresh_from_db()
    assert instance.deployed_version_id == function.latest_version_id
    got = api.get(f"/api/functions/{function.public_id}").json()["data"]["function"]
    assert got["isLatestVersion"] is True and got["deployedAt"] is not None


def test_deploy_to_chosen_instances_and_unknown_ids(api, function, instance):
    url = f"/api/functions/{function.public_id}/deploy"
    assert api.post(url, {"instanceIds": ["nope"]}, format="json").status_code == 422
    assert api.post(url, {"instanceIds": [instance.public_id]}, format="json").status_code == 200
    assert Deployment.objects.filter(instance=instance).count() == 1


def test_delete_function(api, function, instance):
    response = api.delete(f"/api/functions/{function.public_id}")
    assert response.status_code == 200
    assert response.json() == {"data": {"status": "SUCCESS"}}
    assert not Function.objects.filter(pk=function.pk).exists()
    assert AuditEvent.objects.filter(object_id=function.public_id, action="deleted").exists()
    assert api.get(f"/api/functions/{function.public_id}").status_code == 404


def test_unknown_paths_and_methods_answer_in_the_envelope(api, function):
    missing = api.get("/api/nothing/here")
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["type"] == "NotFound"
    wrong_method = api.put(f"/api/functions/{function.public_id}", {}, format="json")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["errors"][0]["status"] == 405


def test_preview_webhook_url_is_shown_only_to_those_who_may_edit(
    api_as, function, functions_admin, read_only
):
    """The test webhook URL runs the function's code: readers get an empty string, as in the admin."""
    url = api_as(functions_admin).get(f"/api/functions/{function.public_id}").json()["data"]["function"]
    assert url["previewWebhookUrl"] == function.preview_webhook_url
    seen = api_as(read_only).get(f"/api/functions/{function.public_id}").json()["data"]["function"]
    assert seen["previewWebhookUrl"] == ""
