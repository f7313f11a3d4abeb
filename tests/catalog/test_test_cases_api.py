"""Test cases through the Public API and the editor's endpoints: shapes, write-only encrypted
values, runs, and the Save & Deploy check (refusal, the owner's audited override)."""

import json

import pytest

from catalog.models import TestCase
from catalog.services import function_create
from runtime.services import instance_create
from tests.api import conftest as api_fixtures
from tests.permission_matrix import form_fields
from workspaces.models import AuditEvent

# The API's persona clients (tests/api/conftest.py).
token_for, api_as, api = api_fixtures.token_for, api_fixtures.api_as, api_fixtures.api

pytestmark = pytest.mark.django_db

CODE = """async function onTrack(event, settings) {
  if (!settings.apiKey) throw new ValidationError('no key');
  return event.event;
}
"""
SECRET = "sk_api_case_secret_31"


@pytest.fixture
def dest(workspace, owner):
    return function_create(
        workspace=workspace,
        resource_type="DESTINATION",
        display_name="API cases",
        code=CODE,
        settings=[{"label": "API Key", "sensitive": True}, {"label": "Region"}],
        created_by=owner,
    )


def test_api_crud_and_run(api, api_as, functions_admin, dest):
    base = f"/api/functions/{dest.public_id}/test-cases"
    created = api.post(
        base,
        {
            "name": "tracks",
            "payload": {"type": "track", "event": "Paid"},
            "settings": {"apiKey": SECRET, "region": "eu"},
            "expectation": {"status": "success"},
        },
        format="json",
    )
    assert created.status_code == 200, created.content
    case = created.json()["data"]["testCase"]
    assert case["settings"] == {"region": "eu"}
    assert case["encryptedSettingsSet"] == ["apiKey"]
    assert SECRET not in created.content.decode()

    listed = api.get(base).json()["data"]
    assert [c["name"] for c in listed["testCases"]] == ["tracks"]
    # Another user sees the case, not that the owner set a value.
    other = api_as(functions_admin).get(f"{base}/{case['id']}").json()["data"]["testCase"]
    assert other["encryptedSettingsSet"] == []

    run = api.post(f"{base}/run", {}, format="json").json()["data"]["testRun"]
    assert (run["passed"], run["failed"]) == (1, 0)
    # The other user's run has no key: the function's own check fails the case.
    theirs = api_as(functions_admin).post(f"{base}/run", {}, format="json").json()["data"]["testRun"]
    assert theirs["failed"] == 1 and "ValidationError: no key" in theirs["results"][0]["failures"][0]
    assert SECRET not in json.dumps(theirs)

    changed = api.post(f"{base}/run", {"code": CODE.replace("event.event", "nope")}, format="json")
    assert changed.json()["data"]["testRun"]["failed"] == 1

    patched = api.patch(f"{base}/{case['id']}", {"expectation": {"status": "maybe"}}, format="json")
    assert patched.status_code in (400, 422)
    assert "status is success or error" in patched.content.decode()
    assert api.delete(f"{base}/{case['id']}").status_code == 200
    assert not TestCase.objects.exists()


def _deploy_post(client, function, **extra):
    url = f"/admin/catalog/function/{function.pk}/change/"
    data = form_fields(client.get(url).content.decode())
    data.update({"code": CODE.replace("return event.event;", "throw new Error('broken');"), "_deploy": "1"})
    data.update(extra)
    return client.post(url, data)


def test_save_and_deploy_runs_the_cases_first(login, owner, functions_admin, dest, source):
    instance_create(function=dest, name="Live", source=source, settings={"apiKey": "k"}, created_by=owner)
    client = login(owner)
    client.post(
        f"/admin/catalog/function/{dest.pk}/test-cases/save/",
        json.dumps(
            {"name": "works", "payload": {"type": "track", "event": "A"}, "settings": {"apiKey": "k"}}
        ),
        content_type="application/json",
    )
    versions = dest.versions.count()
    refused = _deploy_post(client, dest)
    assert refused.status_code == 200
    page = refused.content.decode()
    assert "Not deployed: 1 of 1 test cases failed" in page and "Error: broken" in page
    assert dest.versions.count() == versions

    deployed = _deploy_post(client, dest, deploy_override="1")
    assert deployed.status_code == 302
    assert dest.versions.count() == versions + 1
    audit = AuditEvent.objects.get(data__has_key="testCasesFailed")
    assert audit.data["testCasesFailed"] == [
        {"name": "works", "failures": ["expected success, got Error: broken"]}
    ]


def test_override_is_for_owners_only(login, owner, functions_admin, dest):
    client = login(owner)
    client.post(
        f"/admin/catalog/function/{dest.pk}/test-cases/save/",
        json.dumps({"name": "works", "payload": {"type": "track", "event": "A"}}),
        content_type="application/json",
    )
    # Without instances a deploy is a save; the functions admin's override is ignored.
    client = login(functions_admin)
    response = _deploy_post(client, dest, deploy_override="1")
    assert response.status_code == 200
    assert "Not deployed" in response.content.decode()
    assert "Workspace Owners may deploy anyway" not in response.content.decode()
    assert not AuditEvent.objects.filter(data__has_key="testCasesFailed").exists()


def _broken_latest(dest, owner):
    from catalog.services import function_save

    return function_save(
        function=dest, author=owner, code=CODE.replace("return event.event;", "throw new Error('broken');")
    )


def test_api_deploy_runs_the_cases_first(api, owner, dest, source, django_capture_on_commit_callbacks):
    instance = instance_create(
        function=dest, name="Live", source=source, settings={"apiKey": "k"}, created_by=owner
    )
    base = f"/api/functions/{dest.public_id}"
    for name in ("works", "also works"):
        api.post(
            f"{base}/test-cases",
            {"name": name, "payload": {"type": "track", "event": "A"}, "settings": {"apiKey": "k"}},
            format="json",
        )
    assert api.post(f"{base}/deploy", {}, format="json").status_code == 200  # v1 passes
    instance.refresh_from_db()
    running = instance.deployed_version_id
    broken = _broken_latest(dest, owner)

    refused = api.post(f"{base}/deploy", {}, format="json")
    assert refused.status_code == 422
    errors = refused.json()["errors"]
    assert errors[0]["field"] == "testCases"
    assert errors[0]["message"].startswith("Not deployed: 2 of 2 test cases failed.")
    assert "overrideTestCases" in errors[0]["message"]  # the caller is an owner
    assert sorted(e["testCaseName"] for e in errors[1:]) == ["also works", "works"]
    assert all("expected success, got Error: broken" in e["message"] for e in errors[1:])
    instance.refresh_from_db()
    assert instance.deployed_version_id == running
    assert not instance.deployments.filter(version=broken).exists()

    with django_capture_on_commit_callbacks(execute=True):
        deployed = api.post(f"{base}/deploy", {"overrideTestCases": True}, format="json")
    assert deployed.status_code == 200, deployed.content
    instance.refresh_from_db()
    assert instance.deployed_version_id == broken.pk
    audit = AuditEvent.objects.get(data__has_key="testCasesFailed")
    assert audit.actor == owner and audit.version_id == broken.public_id
    assert sorted(f["name"] for f in audit.data["testCasesFailed"]) == ["also works", "works"]


def test_api_override_is_for_owners_only(api, api_as, owner, functions_admin, dest):
    api.post(
        f"/api/functions/{dest.public_id}/test-cases",
        {"name": "works", "payload": {"type": "track", "event": "A"}, "settings": {"apiKey": "k"}},
        format="json",
    )
    _broken_latest(dest, owner)
    # No instances: nothing needs Source Admin, so a Functions Admin may deploy, not override.
    refused = api_as(functions_admin).post(
        f"/api/functions/{dest.public_id}/deploy", {"overrideTestCases": True}, format="json"
    )
    assert refused.status_code == 422
    assert "Not deployed: 1 of 1" in refused.json()["errors"][0]["message"]
    assert "overrideTestCases" not in refused.json()["errors"][0]["message"]
    assert not AuditEvent.objects.filter(data__has_key="testCasesFailed").exists()
