"""The API's deploy with a canary (POST /api/functions/{id}/deploy {"canary": {...}}): the
options' checks, the canary it starts on each instance, and the saved test cases it runs first,
as the admin's Save & Deploy."""

import pytest

from catalog.testcases import testcase_create
from runtime.canary.choices import CanaryKind, CanaryStatus
from runtime.canary.models import Canary
from runtime.models import FunctionInstance
from runtime.pipeline.delivery import deliver
from workspaces.choices import AuditAction
from workspaces.models import AuditEvent

from .conftest import events, sink_hits

pytestmark = pytest.mark.django_db


def deploy(client, function, body):
    return client.post(f"/api/functions/{function.public_id}/deploy", body, format="json")


@pytest.mark.parametrize(
    ("canary", "field", "message"),
    [
        ({"percent": 0, "durationSeconds": 900}, "canary.percent", "Choose a percentage from 1 to 50."),
        ({"percent": 51, "durationSeconds": 900}, "canary.percent", "Choose a percentage from 1 to 50."),
        ({"durationSeconds": 900}, "canary.percent", "required"),
        ({"percent": 10}, "canary.durationSeconds", "Give a period or an event count"),
        ({"percent": 10, "durationSeconds": 5}, "canary.durationSeconds", "60"),
        ({"percent": 10, "maxEvents": 900, "shadow": True}, "canary.shadow", "Unknown field"),
    ],
)
def test_bad_canary_options_are_refused_with_the_field(dest, api_as, owner, canary, field, message):
    instance, v1, _, v3 = dest
    answer = deploy(api_as(owner), instance.function, {"canary": canary})
    assert answer.status_code == 422
    errors = answer.json()["errors"]
    assert any(e.get("field") == field and message in e["message"] for e in errors), errors
    assert not Canary.objects.exists()
    assert FunctionInstance.objects.get(pk=instance.pk).deployed_version == v1


def test_a_deploy_with_a_canary_sends_a_share_to_latest(dest, api_as, owner, functions_admin, sink):
    instance, v1, _, v3 = dest  # v3 is LATEST
    body = {"canary": {"percent": 30, "maxEvents": 100_000}}
    # Deploying to the instance needs Source Admin on its source too.
    assert deploy(api_as(functions_admin), instance.function, body).status_code == 403

    answer = deploy(api_as(owner), instance.function, body)
    assert answer.status_code == 200, answer.content
    data = answer.json()["data"]["functionDeployment"]
    assert (data["mode"], data["status"], data["versionId"]) == ("CANARY", "SUCCESS", v3.public_id)
    [canary] = data["canaries"]
    assert (canary["status"], canary["percent"], canary["kind"]) == ("ACTIVE", 30, CanaryKind.CANARY)
    assert data["instances"][0]["runningVersion"] == v1.public_id  # the rest stays on v1

    deliver(instance_id=instance.pk, events=events(60))
    tags = {hit["v"] for hit in sink_hits(sink)}
    assert tags == {"v1", "v3"}
    assert FunctionInstance.objects.get(pk=instance.pk).deployed_version == v1
    started = AuditEvent.objects.get(action=AuditAction.CANARY_STARTED)
    assert started.actor == owner and started.version_id == v3.public_id


def test_a_canary_deploy_runs_the_test_cases_first(dest, api_as, owner):
    instance, v1, _, _ = dest
    function = instance.function
    # v3 posts to settings.url: without one the case's run fails (fetch of undefined).
    testcase_create(
        function=function, name="needs a url", payload={"type": "track", "event": "A"}, user=owner
    )
    body = {"canary": {"percent": 10, "durationSeconds": 900}}
    refused = deploy(api_as(owner), function, body)
    assert refused.status_code == 422
    errors = refused.json()["errors"]
    assert errors[0]["field"] == "testCases" and "1 of 1 test cases failed" in errors[0]["message"]
    assert errors[1]["testCaseName"] == "needs a url"
    assert not Canary.objects.exists()

    forced = deploy(api_as(owner), function, {**body, "overrideTestCases": True})
    assert forced.status_code == 200, forced.content
    assert Canary.objects.get().status == CanaryStatus.ACTIVE
    audit = AuditEvent.objects.get(data__has_key="testCasesFailed")
    assert audit.data["mode"] == "canary" and audit.data["testCasesFailed"][0]["name"] == "needs a url"


def test_a_canary_of_the_running_version_says_why(dest, api_as, owner, django_capture_on_commit_callbacks):
    instance, _, _, v3 = dest
    with django_capture_on_commit_callbacks(execute=True):
        assert deploy(api_as(owner), instance.function, {}).status_code == 200
    assert FunctionInstance.objects.get(pk=instance.pk).deployed_version == v3
    again = deploy(api_as(owner), instance.function, {"canary": {"percent": 10, "durationSeconds": 900}})
    assert again.status_code == 422
    assert again.json()["errors"][0]["field"] == "canary.versionId"
    assert "already runs that version" in again.json()["errors"][0]["message"]


def test_the_admins_save_and_deploy_as_a_canary_checks_cases_and_audits_the_override(dest, login, owner):
    from tests.permission_matrix import form_fields

    from .conftest import code

    instance, v1, _, _ = dest
    function = instance.function
    testcase_create(
        function=function, name="needs a url", payload={"type": "track", "event": "A"}, user=owner
    )
    client = login(owner)
    url = f"/admin/catalog/function/{function.pk}/change/"
    data = form_fields(client.get(url).content.decode())
    data.update({"code": code("v7"), "_deploy": "1", "deploy_mode": "canary", "canary-percent": "20"})
    data["canary-duration"] = "900"

    refused = client.post(url, data)
    assert refused.status_code == 200 and "Not deployed: 1 of 1 test cases failed" in refused.content.decode()
    assert not Canary.objects.exists()

    forced = client.post(url, {**data, "deploy_override": "1"})
    assert forced.status_code == 302
    canary = Canary.objects.get()
    assert (canary.percent, canary.version, canary.status) == (
        20,
        function.versions.latest("number"),
        "ACTIVE",
    )
    assert FunctionInstance.objects.get(pk=instance.pk).deployed_version == v1
    audit = AuditEvent.objects.get(data__has_key="testCasesFailed")
    assert audit.data["mode"] == "canary" and audit.version_id == canary.version.public_id
