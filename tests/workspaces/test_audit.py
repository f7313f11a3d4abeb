"""The audit trail records who created, saved, restored, deployed, connected or deleted what."""

from catalog.services import function_create, function_delete, function_save, function_version_restore
from runtime.services import function_save_and_deploy, instance_create, instance_delete
from workspaces.choices import AuditAction
from workspaces.models import AuditEvent


def actions(workspace):
    return [(e.action, e.object_type, e.actor.username if e.actor else None) for e in
            AuditEvent.objects.filter(workspace=workspace).order_by("id")]  # fmt: skip


def test_every_action_is_recorded_with_actor_and_version(
    workspace, source, owner, django_capture_on_commit_callbacks
):
    function = function_create(
        workspace=workspace, resource_type="DESTINATION", display_name="Audited", created_by=owner
    )
    first = function.latest_version
    saved = function_save(function=function, author=owner, description="v2")
    restored = function_version_restore(function=function, version=first, author=owner)
    function.refresh_from_db()
    instance = instance_create(function=function, name="Audited instance", source=source, created_by=owner)
    with django_capture_on_commit_callbacks(execute=True):
        deployed = function_save_and_deploy(function=function, author=owner, description="v4")
    instance_delete(instance=instance, actor=owner)
    function_delete(function=function, actor=owner)
    assert actions(workspace)[-8:] == [
        (AuditAction.CREATED, "function", "owner"),
        (AuditAction.SAVED, "function", "owner"),
        (AuditAction.RESTORED, "function", "owner"),
        (AuditAction.CONNECTED, "functioninstance", "owner"),
        (AuditAction.SAVED, "function", "owner"),
        (AuditAction.DEPLOYED, "function", "owner"),
        (AuditAction.DELETED, "functioninstance", "owner"),
        (AuditAction.DELETED, "function", "owner"),
    ]
    versions = list(
        AuditEvent.objects.filter(workspace=workspace).order_by("id").values_list("version_id", flat=True)
    )
    assert versions[-8:-2] == [first.public_id, saved.public_id, restored.public_id, restored.public_id,
                               deployed.version.public_id, deployed.version.public_id]  # fmt: skip


def test_audit_admin_is_for_owners_only(login, owner, functions_admin, workspace, function):
    from django.urls import reverse

    from workspaces.services import audit_record

    event = audit_record(workspace=workspace, actor=owner, action=AuditAction.SAVED, obj=function)
    url = reverse("admin:workspaces_auditevent_change", args=[event.pk])
    assert login(owner).get(url).status_code == 200
    assert login(functions_admin).get(url).status_code == 404
    assert login(functions_admin).get(reverse("admin:workspaces_auditevent_changelist")).status_code == 403
