"""Save & Deploy fan-out: one Deployment row and one task per instance, applied idempotently."""

from unittest import mock

import pytest
from django.core.exceptions import ValidationError

from catalog.models import FunctionVersion
from runtime import preflight, selectors
from runtime.choices import DeploymentStatus
from runtime.models import Deployment, FunctionInstance
from runtime.services import deployment_apply, deployment_request, function_save_and_deploy
from tests.factories import InstanceFactory, SourceFactory
from workspaces.choices import AuditAction
from workspaces.models import AuditEvent

BROKEN_CODE = "async function onTrack(event, settings) {\n  return (\n}\n"


@pytest.fixture
def instances(function, workspace):
    return [
        InstanceFactory(function=function, source=SourceFactory(workspace=workspace), name=f"i{n}")
        for n in range(3)
    ]


def new_code(function, marker="v2"):
    return function.code + f"\n// {marker}\n"


def running(instance):
    return FunctionInstance.objects.get(pk=instance.pk).deployed_version_id


def test_save_and_deploy_to_all_instances(function, instances, owner, django_capture_on_commit_callbacks):
    old = function.latest_version
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        result = function_save_and_deploy(function=function, author=owner, code=new_code(function))
    assert len(callbacks) == 1  # one callback publishes every task
    assert result.version.number == old.number + 1
    assert [running(i) for i in instances] == [result.version.pk] * 3
    statuses = Deployment.objects.filter(version=result.version).values_list("status", flat=True)
    assert sorted(statuses) == [DeploymentStatus.SUCCEEDED] * 3
    event = AuditEvent.objects.get(action=AuditAction.DEPLOYED)
    assert event.version_id == result.version.public_id
    assert event.actor == owner
    assert sorted(event.data["instances"]) == sorted(i.public_id for i in instances)


def test_save_and_deploy_to_chosen_instances(function, instances, owner, django_capture_on_commit_callbacks):
    old = function.latest_version
    chosen = [instances[0].public_id, str(instances[2].pk)]
    with django_capture_on_commit_callbacks(execute=True):
        result = function_save_and_deploy(
            function=function, author=owner, instance_ids=chosen, code=new_code(function)
        )
    assert [running(i) for i in instances] == [result.version.pk, old.pk, result.version.pk]
    assert Deployment.objects.count() == 2


def test_unknown_instance_id_saves_nothing(function, instances, owner, foreign_function):
    foreign = InstanceFactory(function=foreign_function)
    before = FunctionVersion.objects.filter(function=function).count()
    with pytest.raises(ValidationError) as excinfo:
        function_save_and_deploy(
            function=function, author=owner, instance_ids=[foreign.public_id], code=new_code(function)
        )
    assert foreign.public_id in str(excinfo.value)
    assert FunctionVersion.objects.filter(function=function).count() == before
    assert not Deployment.objects.exists()


def test_one_task_per_row_published_after_commit(
    function, instances, owner, django_capture_on_commit_callbacks
):
    with mock.patch("runtime.tasks.deployment_apply_task.delay") as delay:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            result = function_save_and_deploy(function=function, author=owner, code=new_code(function))
        assert delay.call_count == 0  # nothing leaves before the transaction commits
        for callback in callbacks:
            callback()
    assert sorted(c.args[0] for c in delay.call_args_list) == sorted(d.pk for d in result.deployments)
    assert all(running(i) != result.version.pk for i in instances)


def test_plain_save_changes_no_instance(function, instances, owner, django_capture_on_commit_callbacks):
    from catalog.services import function_save

    before = [running(i) for i in instances]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        version = function_save(function=function, author=owner, code=new_code(function))
    assert callbacks == []
    assert [running(i) for i in instances] == before
    assert version.pk not in before
    assert not Deployment.objects.exists()


def test_failing_preflight_keeps_previous_version(
    function, instance, owner, django_capture_on_commit_callbacks
):
    previous = running(instance)
    broken = FunctionVersion.objects.create(function=function, number=99, code=BROKEN_CODE)
    with django_capture_on_commit_callbacks(execute=True):
        (deployment,) = deployment_request(
            function=function, version=broken, instances=[instance], requested_by=owner
        )
    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.FAILED
    assert "SyntaxError" in deployment.error
    assert deployment.finished_at is not None
    assert running(instance) == previous


def test_missing_handler_fails_preflight(function, instance, owner, django_capture_on_commit_callbacks):
    silent = FunctionVersion.objects.create(function=function, number=99, code="const x = 1;\n")
    with django_capture_on_commit_callbacks(execute=True):
        (deployment,) = deployment_request(
            function=function, version=silent, instances=[instance], requested_by=owner
        )
    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.FAILED
    assert deployment.error


def pending(function, instance, owner, code):
    """A PENDING deployment whose task has not run (on_commit callbacks are discarded)."""
    number = function.versions.count() + 1
    version = FunctionVersion.objects.create(function=function, number=number, code=code)
    (deployment,) = deployment_request(
        function=function, version=version, instances=[instance], requested_by=owner
    )
    return deployment


def test_redelivered_task_is_harmless(function, instance, owner):
    deployment = pending(function, instance, owner, new_code(function))
    first = deployment_apply(deployment_id=deployment.pk)
    finished_at = first.finished_at
    assert first.status == DeploymentStatus.SUCCEEDED
    with mock.patch("runtime.preflight.sandbox") as sandbox:
        assert deployment_apply(deployment_id=deployment.pk) is None
    sandbox.assert_not_called()
    deployment.refresh_from_db()
    assert (deployment.status, deployment.finished_at) == (DeploymentStatus.SUCCEEDED, finished_at)
    assert running(instance) == deployment.version_id


def test_task_runs_the_service(function, instance, owner):
    from runtime.tasks import deployment_apply_task

    deployment = pending(function, instance, owner, new_code(function))
    deployment_apply_task.delay(deployment.pk)
    assert running(instance) == deployment.version_id


def test_older_deployment_is_superseded(function, instance, owner):
    older = pending(function, instance, owner, new_code(function, "older"))
    newer = pending(function, instance, owner, new_code(function, "newer"))
    assert deployment_apply(deployment_id=older.pk).status == DeploymentStatus.SUPERSEDED
    assert deployment_apply(deployment_id=newer.pk).status == DeploymentStatus.SUCCEEDED
    assert running(instance) == newer.version_id


def test_late_older_task_does_not_roll_back(function, instance, owner):
    older = pending(function, instance, owner, new_code(function, "older"))
    newer = pending(function, instance, owner, new_code(function, "newer"))
    deployment_apply(deployment_id=newer.pk)
    assert deployment_apply(deployment_id=older.pk).status == DeploymentStatus.SUPERSEDED
    assert running(instance) == newer.version_id


def test_preflight_checked_once_per_code(function, instances, owner, django_capture_on_commit_callbacks):
    real = preflight._preflight_run
    patch = mock.patch.object(preflight, "_preflight_run", side_effect=real)
    with patch as checked, django_capture_on_commit_callbacks(execute=True):
        result = function_save_and_deploy(function=function, author=owner, code=new_code(function))
    assert checked.call_count == 1
    assert all(running(i) == result.version.pk for i in instances)


def test_apply_is_a_handful_of_queries(function, instance, owner, django_assert_max_num_queries):
    deployment = pending(function, instance, owner, new_code(function))
    preflight.preflight_error(deployment.version)  # warm the memo, as the 2nd..1000th row finds it
    with django_assert_max_num_queries(10):
        deployment_apply(deployment_id=deployment.pk)
    assert running(instance) == deployment.version_id


def test_version_of_another_function_is_refused(function, second_function, instance, owner):
    with pytest.raises(ValidationError):
        deployment_request(
            function=function,
            version=second_function.latest_version,
            instances=[instance],
            requested_by=owner,
        )
    assert not Deployment.objects.exists()


def test_status_selector_reports_each_instance(function, instances, owner):
    deployment = pending(function, instances[0], owner, new_code(function))
    deployment_apply(deployment_id=deployment.pk)
    rows = {row["instanceId"]: row for row in selectors.deployment_status_by_instance(function=function)}
    assert rows[instances[0].public_id]["deployment"]["status"] == DeploymentStatus.SUCCEEDED
    assert rows[instances[0].public_id]["runningVersion"] == deployment.version.public_id
    assert rows[instances[1].public_id]["deployment"] is None
    assert list(Deployment.objects.filter(version=deployment.version).values_list("status", flat=True)) == [
        DeploymentStatus.SUCCEEDED
    ]


def test_stale_pending_deployments_are_published_again(db):
    from datetime import timedelta
    from unittest import mock

    from django.utils import timezone

    from runtime.services import deployments_republish_stale
    from tests.factories import InstanceFactory

    instance = InstanceFactory()
    old = Deployment.objects.create(instance=instance, version=instance.deployed_version)
    fresh = Deployment.objects.create(instance=instance, version=instance.deployed_version)
    Deployment.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    with mock.patch("runtime.services.deployment_tasks_publish") as publish:
        assert deployments_republish_stale(older_than_s=120) == 1
    publish.assert_called_once_with([old.pk])
    assert fresh.pk not in publish.call_args.args[0]


def test_deploy_refuses_a_version_whose_required_setting_the_instance_lacks(db):
    from catalog.services import function_create, function_save
    from runtime.services import instance_create
    from tests.factories import SourceFactory as Sources
    from tests.factories import WorkspaceFactory

    workspace = WorkspaceFactory(slug="settings-deploy")
    function = function_create(
        workspace=workspace, resource_type="DESTINATION", display_name="F", settings=[]
    )
    instance = instance_create(function=function, name="i", source=Sources(workspace=workspace))
    before = instance.deployed_version_id
    version = function_save(function=function, settings=[{"label": "API Key", "required": True}])
    [deployment] = deployment_request(
        function=function, version=version, instances=[instance], requested_by=None
    )
    result = deployment_apply(deployment_id=deployment.pk)
    assert result.status == DeploymentStatus.FAILED
    assert "apiKey: This setting is required." in result.error
    assert FunctionInstance.objects.get(pk=instance.pk).deployed_version_id == before
