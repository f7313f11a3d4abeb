"""Deploys with context: the previous version a deploy leaves behind, rolling back to it (service,
admin, API), "behind latest" in the lists, the Save & Deploy dialog's rows and diff."""

import importlib
import json

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.test import APIClient

from catalog.services import function_save
from runtime.choices import DeploymentStatus
from runtime.models import Deployment, FunctionInstance
from runtime.selectors import deploy_targets
from runtime.services import function_save_and_deploy, instance_rollback
from tests.factories import InstanceFactory, SourceFactory
from workspaces.choices import AuditAction
from workspaces.models import AuditEvent
from workspaces.services import access_token_create

pytestmark = pytest.mark.django_db

SETTINGS_V1 = [{"label": "Region", "required": True}]


def fresh(instance):
    return FunctionInstance.objects.select_related("deployed_version", "previous_version").get(pk=instance.pk)


def deploy(function, owner, marker, **kwargs):
    return function_save_and_deploy(
        function=function, author=owner, code=function.code + f"\n// {marker}\n", **kwargs
    )


@pytest.fixture
def on_v2(function, instance, owner, django_capture_on_commit_callbacks):
    """The instance deployed from v1 to v2."""
    v1 = function.latest_version
    with django_capture_on_commit_callbacks(execute=True):
        v2 = deploy(function, owner, "v2").version
    return v1, v2


def test_a_deploy_keeps_the_version_it_leaves(
    function, instance, owner, on_v2, django_capture_on_commit_callbacks
):
    v1, v2 = on_v2
    assert (fresh(instance).deployed_version, fresh(instance).previous_version) == (v2, v1)
    # Deploying the version it already runs changes nothing about what it ran before.
    from runtime.services import deployment_request

    with django_capture_on_commit_callbacks(execute=True):
        deployment_request(function=function, version=v2, instances=[instance], requested_by=owner)
    assert (fresh(instance).deployed_version, fresh(instance).previous_version) == (v2, v1)


def test_rollback_deploys_the_previous_version_and_audits(
    instance, owner, on_v2, django_capture_on_commit_callbacks
):
    v1, v2 = on_v2
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        deployment = instance_rollback(instance=instance, requested_by=owner)
    assert len(callbacks) == 1
    deployment.refresh_from_db()
    assert (deployment.version, deployment.status, deployment.requested_by) == (
        v1,
        DeploymentStatus.SUCCEEDED,
        owner,
    )
    assert (fresh(instance).deployed_version, fresh(instance).previous_version) == (v1, v2)
    event = AuditEvent.objects.get(action=AuditAction.ROLLED_BACK)
    assert (event.actor, event.version_id, event.object_id) == (owner, v1.public_id, instance.public_id)
    assert event.data == {"from": v2.public_id, "deployment": deployment.pk}
    # A second roll back returns to the version the first one left.
    with django_capture_on_commit_callbacks(execute=True):
        instance_rollback(instance=instance, requested_by=owner)
    assert fresh(instance).deployed_version == v2


def test_rollback_needs_a_previous_version(instance, owner):
    with pytest.raises(ValidationError, match="no previous version"):
        instance_rollback(instance=instance, requested_by=owner)
    assert not Deployment.objects.exists()


def test_a_rollback_whose_settings_no_longer_fit_fails_with_the_reason(
    function, workspace, owner, django_capture_on_commit_callbacks
):
    with_region = function_save(function=function, author=owner, code=function.code, settings=SETTINGS_V1)
    function.refresh_from_db()
    instance = InstanceFactory(
        function=function, source=SourceFactory(workspace=workspace), settings={"region": "eu"}
    )
    with django_capture_on_commit_callbacks(execute=True):
        without = deploy(function, owner, "no settings", settings=[]).version
    FunctionInstance.objects.filter(pk=instance.pk).update(settings={})  # reconfigured without a region
    with django_capture_on_commit_callbacks(execute=True):
        deployment = instance_rollback(instance=instance, requested_by=owner)
    deployment.refresh_from_db()
    assert deployment.version == with_region and deployment.status == DeploymentStatus.FAILED
    assert "region" in deployment.error
    assert fresh(instance).deployed_version == without  # stays where it was


def test_backfill_finds_earlier_deploys_and_the_connected_version(
    function, instance, workspace, owner, on_v2, django_capture_on_commit_callbacks
):
    v1, v2 = on_v2
    with django_capture_on_commit_callbacks(execute=True):
        deploy(function, owner, "v3", instance_ids=[instance.public_id])
    connected = InstanceFactory(
        function=function, source=SourceFactory(workspace=workspace), name="connected"
    )
    FunctionInstance.objects.filter(pk=connected.pk).update(deployed_version=v2)
    AuditEvent.objects.create(
        workspace=workspace, action=AuditAction.CONNECTED, object_type="functioninstance",
        object_id=connected.public_id, version_id=v1.public_id,
    )  # fmt: skip
    FunctionInstance.objects.update(previous_version=None)
    migration = importlib.import_module("runtime.migrations.0006_instance_previous_version")
    migration.previous_versions_backfill(apps, None)
    assert fresh(instance).previous_version == v2  # from its deployments
    assert fresh(connected).previous_version == v1  # from the audit trail


def test_admin_rollback_button_and_action(
    client, owner, read_only, instance, on_v2, django_capture_on_commit_callbacks
):
    v1, v2 = on_v2
    client.force_login(read_only)
    url = reverse("admin:runtime_functioninstance_rollback", args=[instance.pk])
    assert client.post(url).status_code == 403
    page = client.get(reverse("admin:runtime_functioninstance_change", args=[instance.pk])).content.decode()
    assert 'id="fn-rollback-start"' not in page  # not offered to who may not
    client.force_login(owner)
    page = client.get(reverse("admin:runtime_functioninstance_change", args=[instance.pk])).content.decode()
    assert f"Roll back to v{v1.number}" in page and "behind latest" not in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url)
    assert response.status_code == 302 and response["Location"].endswith("#deploys")
    assert fresh(instance).deployed_version == v1
    listing = reverse("admin:runtime_functioninstance_changelist")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(listing, {"action": "rollback_selected", "_selected_action": [instance.pk]})
    assert response.status_code == 302
    assert fresh(instance).deployed_version == v2


def test_behind_latest_in_the_catalog_and_the_instance_list(client, owner, function, instance, workspace):
    other = InstanceFactory(function=function, source=SourceFactory(workspace=workspace), name="other")
    function_save(function=function, author=owner, code=function.code + "\n// v2\n")
    client.force_login(owner)
    catalog = client.get(reverse("admin:catalog_function_changelist")).content.decode()
    assert "2 behind latest" in catalog
    listing = reverse("admin:runtime_functioninstance_changelist")
    behind = client.get(listing + "?behind=yes").content.decode()
    assert "behind latest (v2)" in behind and instance.name in behind and other.name in behind
    function.refresh_from_db()
    FunctionInstance.objects.filter(pk=other.pk).update(deployed_version=function.latest_version)
    assert other.name not in client.get(listing + "?behind=yes").content.decode()
    assert other.name in client.get(listing + "?behind=no").content.decode()
    assert "1 behind latest" in client.get(reverse("admin:catalog_function_changelist")).content.decode()


def test_dialog_rows_and_diff(client, owner, function, instance, on_v2):
    v1, v2 = on_v2
    function.refresh_from_db()
    [row] = deploy_targets(function=function)
    assert (row["running"], row["behind"], row["deployment"].status) == (
        v2,
        False,
        DeploymentStatus.SUCCEEDED,
    )
    client.force_login(owner)
    url = reverse("admin:catalog_function_deploy_diff", args=[function.pk])
    body = {"from": v1.public_id, "code": v2.code + "\nconst added = 1;\n"}
    data = client.post(url, json.dumps(body), content_type="application/json").json()
    assert data["from"] == {"id": v1.public_id, "number": v1.number}
    added = [r["text"] for r in data["rows"] if r["kind"] == "add" and r["text"] != "+"]
    assert added == ["+// v2", "+const added = 1;"] and data["removed"] == 0
    same = client.post(
        url, json.dumps({"from": v2.public_id, "code": v2.code}), content_type="application/json"
    )
    assert same.json()["rows"] == []
    missing = client.post(url, json.dumps({"from": "nope", "code": ""}), content_type="application/json")
    assert missing.status_code == 404
    assert client.post(url, "[]", content_type="application/json").status_code == 400


@pytest.mark.django_db(transaction=True)  # real commits: the deployment runs before the answer
def test_api_rollback(owner, workspace, instance, on_v2):
    v1, v2 = on_v2
    client = APIClient()
    _, secret = access_token_create(workspace=workspace, user=owner, name="t")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    got = client.get(f"/api/function-instances/{instance.public_id}").json()["data"]["instance"]
    assert (got["deployedVersionId"], got["previousVersionId"]) == (v2.public_id, v1.public_id)
    response = client.post(f"/api/function-instances/{instance.public_id}/rollback")
    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert data["deployment"]["status"] == "SUCCEEDED" and data["deployment"]["versionId"] == v1.public_id
    assert (data["instance"]["deployedVersionId"], data["instance"]["previousVersionId"]) == (
        v1.public_id,
        v2.public_id,
    )
    FunctionInstance.objects.filter(pk=instance.pk).update(previous_version=None)
    refused = client.post(f"/api/function-instances/{instance.public_id}/rollback")
    assert refused.status_code == 422
    assert "no previous version" in refused.json()["errors"][0]["message"]
