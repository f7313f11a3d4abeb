"""Writes for function instances: connect, configure, enable, delete; Save & Deploy fan-out."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from catalog.choices import ResourceType
from catalog.models import Function, FunctionVersion
from catalog.services import function_save
from catalog.validation import MASK, instance_settings_validate
from functions_platform.celery import app as celery_app
from workspaces.choices import AuditAction, SourceKind
from workspaces.ids import int_param
from workspaces.models import Source
from workspaces.services import audit_record

from . import metrics
from .canary.watches import canaries_supersede, watches_start
from .choices import DeploymentStatus
from .models import Deployment, FunctionInstance
from .preflight import preflight_error_for, settings_error_for, version_schema


def instance_schema(instance: FunctionInstance) -> list[dict]:
    """The settings schema an instance is configured against: its deployed version's.

    A setting the LATEST version marks sensitive counts as sensitive already: once its author
    says a value is a secret, it is masked and write-only before any deploy moves it.
    """
    latest = instance.function.latest_version.settings_schema
    schema = instance.deployed_version.settings_schema if instance.deployed_version_id else latest
    secret = {item["name"] for item in latest if item.get("sensitive")}
    return [{**item, "sensitive": bool(item.get("sensitive")) or item["name"] in secret} for item in schema]


def instance_settings_columns(instance: FunctionInstance, schema: list[dict]) -> tuple[dict, dict]:
    """(plain, secret) values as `schema` says they are stored, wherever they are stored now.

    A setting that changed sides between versions may still sit in the other column; a name the
    schema does not declare stays where it is.
    """
    plain, secret = dict(instance.settings or {}), instance.secret_values()
    for item in schema:
        name = item["name"]
        if item.get("sensitive") and name in plain:
            secret[name] = plain.pop(name)
        elif not item.get("sensitive") and name in secret:
            plain[name] = secret.pop(name)
    return plain, secret


def instance_settings_shown(instance: FunctionInstance) -> tuple[dict, dict]:
    """(plain values, sensitive names with the mask): what an API answer or an admin page shows."""
    plain, secret = instance_settings_columns(instance, instance_schema(instance))
    return plain, dict.fromkeys(secret, MASK)


def _settings_realign(instance_id: int) -> None:
    # After a deploy: store each value in the column its (new) schema says.
    instance = FunctionInstance.objects.select_related("deployed_version", "function__latest_version").get(
        pk=instance_id
    )
    plain, secret = instance_settings_columns(instance, instance_schema(instance))
    if plain != (instance.settings or {}) or secret != instance.secret_values():
        FunctionInstance.objects.filter(pk=instance_id).update(
            settings=plain, encrypted_settings=json.dumps(secret)
        )


@transaction.atomic
def instance_create(
    *,
    function: Function,
    name: str,
    source: Source | None = None,
    destination: FunctionInstance | None = None,
    settings: dict | None = None,
    enabled: bool = True,
    created_by=None,
) -> FunctionInstance:
    """Connect a function: create an instance running the function's LATEST version.

    A source function creates its own Source (the webhook); a destination or source-insert
    function needs the `source` it receives events from; a destination-insert function needs
    the `destination` instance it runs in front of. Raises ValidationError on bad settings or
    a target in another workspace.
    """
    source = _instance_target(function, name, source, destination)
    version = function.latest_version
    plain, secret = instance_settings_validate(schema=version.settings_schema, values=settings or {})
    instance = FunctionInstance(
        function=function,
        name=(name or "").strip(),
        enabled=enabled,
        source=source,
        destination=destination,
        deployed_version=version,
        deployed_at=timezone.now(),
        settings=plain,
        encrypted_settings=json.dumps(secret),
        created_by=created_by if getattr(created_by, "pk", None) else None,
    )
    instance.full_clean()
    instance.save()
    audit_record(
        workspace=function.workspace,
        actor=created_by,
        action=AuditAction.CONNECTED,
        obj=instance,
        version_id=version.public_id,
        data={"function": function.public_id, "source": source.public_id},
    )
    return instance


def _instance_target(function, name, source, destination) -> Source:
    instance_target_check(function=function, source=source, destination=destination)
    if function.resource_type == ResourceType.SOURCE:
        source = Source(workspace=function.workspace, name=(name or "").strip(), kind=SourceKind.FUNCTION)
        source.full_clean()
        source.save()
        return source
    return destination.source if function.resource_type == ResourceType.INSERT_DESTINATION else source


def instance_target_check(
    *, function: Function, source: Source | None = None, destination: FunctionInstance | None = None
) -> None:
    """Raise ValidationError unless `function` may be connected to that source or destination
    (the checks of instance_create, without writing: forms ask it before saving)."""
    kind = function.resource_type
    if kind == ResourceType.SOURCE:
        if source is not None:
            raise ValidationError({"source": "A source function creates its own source."})
        return
    if kind == ResourceType.INSERT_DESTINATION:
        if destination is None:
            raise ValidationError({"destination": "Choose the destination this insert function runs before."})
        if destination.function.resource_type != ResourceType.DESTINATION:
            raise ValidationError({"destination": "That instance is not a destination."})
        if destination.insert_instances.exists():
            raise ValidationError({"destination": "That destination already has an insert function."})
        source = destination.source
    if source is None:
        raise ValidationError({"source": "Choose the source this function receives events from."})
    if source.workspace_id != function.workspace_id:
        raise ValidationError({"source": "That source belongs to another workspace."})


@transaction.atomic
def instance_update(
    *,
    instance: FunctionInstance,
    actor=None,
    name: str | None = None,
    enabled: bool | None = None,
    settings: dict | None = None,
) -> FunctionInstance:
    """Rename, enable/disable or reconfigure an instance; sensitive values stay write-only."""
    fields = []
    if name is not None:
        instance.name = name.strip()
        fields.append("name")
    if enabled is not None:
        instance.enabled = enabled
        fields.append("enabled")
    if settings is not None:
        plain, secret = instance_settings_validate(
            schema=instance_schema(instance),
            values=settings,
            # Both columns: a value whose setting changed sides may still sit in the other one.
            previous_secrets=instance.all_settings(),
        )
        instance.settings = plain
        instance.encrypted_settings = json.dumps(secret)
        fields += ["settings", "encrypted_settings"]
    instance.full_clean()
    instance.save(update_fields=[*fields, "updated_at"])
    if instance.function.resource_type == ResourceType.SOURCE and fields:
        _sync_owned_source(instance)
    audit_record(
        workspace=instance.function.workspace,
        actor=actor,
        action=AuditAction.UPDATED,
        obj=instance,
        data={"fields": [f for f in fields if f != "encrypted_settings"]},
    )
    return instance


def _sync_owned_source(instance: FunctionInstance) -> None:
    # A source function's instance and its Source are one thing to the user.
    Source.objects.filter(pk=instance.source_id).update(
        name=instance.name, enabled=instance.enabled, updated_at=timezone.now()
    )


@transaction.atomic
def instance_delete(*, instance: FunctionInstance, actor=None) -> None:
    """Delete an instance; a source function's own Source goes with it."""
    audit_record(workspace=instance.function.workspace, actor=actor, action=AuditAction.DELETED, obj=instance)
    owned = instance.source_id if instance.function.resource_type == ResourceType.SOURCE else None
    instance.delete()
    if owned:
        Source.objects.filter(pk=owned).delete()


# --- deployment (Save & Deploy fan-out) -------------------------------------------------------
# The services below check no permissions (interfaces do, before calling) but audit every deploy.


@dataclass(frozen=True)
class SaveAndDeployResult:
    """What a Save & Deploy produced: the new LATEST version and one Deployment per instance."""

    version: FunctionVersion
    deployments: list[Deployment]


@transaction.atomic
def function_save_and_deploy(
    *, function: Function, author, instance_ids=None, **save_fields
) -> SaveAndDeployResult:
    """Save (a new version) then deploy it to every instance, or to those in `instance_ids`.

    `instance_ids` takes instance public ids (or primary keys); an id that is not an instance
    of this function raises ValidationError and nothing is saved.
    """
    version = function_save(function=function, author=author, **save_fields)
    instances = instances_for_deploy(function=function, instance_ids=instance_ids)
    deployments = deployment_request(
        function=function, version=version, instances=instances, requested_by=author
    )
    return SaveAndDeployResult(version=version, deployments=deployments)


def instances_for_deploy(*, function: Function, instance_ids=None) -> list[FunctionInstance]:
    """The function's instances a deploy targets: all of them, or the listed ones (all must exist)."""
    queryset = FunctionInstance.objects.filter(function=function).only("pk", "public_id", "source_id")
    if instance_ids is None:
        return list(queryset)
    wanted = {str(value) for value in instance_ids}
    numeric = [number for number in map(int_param, wanted) if number is not None]
    found = list(queryset.filter(Q(public_id__in=wanted) | Q(pk__in=numeric)))
    known = {i.public_id for i in found} | {str(i.pk) for i in found}
    missing = sorted(wanted - known)
    if missing:
        raise ValidationError({"instanceIds": f"Not instances of this function: {', '.join(missing)}."})
    return found


@transaction.atomic
def deployment_request(
    *, function: Function, version: FunctionVersion, instances, requested_by, watch: bool = True
) -> list[Deployment]:
    """Ask for `instances` to run `version`: one PENDING row each, one task each after commit.

    Ends the instances' canaries; with `watch`, each destination instance it changes is
    watched for CANARY_WATCH_S after its switch and rolled back automatically if the new
    version fails (docs/safe-change.md). A canary's promotion deploys without a watch.
    """
    if version.function_id != function.pk:
        raise ValidationError({"versionId": "That version belongs to another function."})
    instances = list(instances)
    if any(instance.function_id != function.pk for instance in instances):
        raise ValidationError({"instanceIds": "Every instance must be an instance of this function."})
    requester = requested_by if getattr(requested_by, "pk", None) else None
    deployments = Deployment.objects.bulk_create(
        Deployment(instance_id=instance.pk, version=version, requested_by=requester) for instance in instances
    )
    audit_record(
        workspace=function.workspace,
        actor=requested_by,
        action=AuditAction.DEPLOYED,
        obj=function,
        version_id=version.public_id,
        data={"instances": [instance.public_id for instance in instances]},
    )
    instance_pks = [instance.pk for instance in instances]
    if watch:
        watches_start(function=function, version=version, instance_ids=instance_pks)
    else:
        canaries_supersede(instance_ids=instance_pks, reason="Replaced by a deploy.")
    ids = [deployment.pk for deployment in deployments]
    if ids:
        transaction.on_commit(lambda: _deployments_publish(ids))
    return deployments


@transaction.atomic
def instance_rollback(*, instance: FunctionInstance, requested_by) -> Deployment:
    """Deploy the version `instance` ran before its current one: one PENDING row, one task.

    The row is carried out like any deployment (pre-flight with the instance's settings, the
    switch; FAILED with the reason leaves the instance where it is). Afterwards the version it
    left is its previous one, so a second roll back returns to it. Checks no permissions (the
    interfaces ask permissions.can_rollback) but audits. Raises ValidationError when the
    instance never ran another version.
    """
    instance = FunctionInstance.objects.select_related(
        "function__workspace", "deployed_version", "previous_version"
    ).get(pk=instance.pk)
    target = instance.previous_version
    if target is None:
        raise ValidationError({"instance": "This instance has no previous version to roll back to."})
    requester = requested_by if getattr(requested_by, "pk", None) else None
    canaries_supersede(instance_ids=[instance.pk], reason="Replaced by a roll back.")
    deployment = Deployment.objects.create(instance=instance, version=target, requested_by=requester)
    audit_record(
        workspace=instance.function.workspace,
        actor=requested_by,
        action=AuditAction.ROLLED_BACK,
        obj=instance,
        version_id=target.public_id,
        data={"from": getattr(instance.deployed_version, "public_id", None), "deployment": deployment.pk},
    )
    transaction.on_commit(lambda: _deployments_publish([deployment.pk]))
    return deployment


def _deployments_publish(deployment_ids: list[int]) -> None:
    deployment_tasks_publish(deployment_ids)


def deployment_tasks_publish(deployment_ids: list[int]) -> None:
    """Publish one deployment_apply_task per row through a single broker connection."""
    # Found by its registered name (RuntimeConfig.ready imports the tasks): this module is
    # below the tasks, which call it.
    task = celery_app.tasks["runtime.deployment_apply"]
    if celery_app.conf.task_always_eager:
        for deployment_id in deployment_ids:
            task.delay(deployment_id)
        return
    with celery_app.producer_or_acquire() as producer:
        for deployment_id in deployment_ids:
            task.apply_async((deployment_id,), producer=producer)


def deployment_apply(*, deployment_id: int) -> Deployment | None:
    """Carry out one Deployment; safe to run twice or late.

    Claims the row (PENDING→RUNNING, only one runner wins), marks it SUPERSEDED when a newer
    deployment of the same instance exists, pre-flights the code in the sandbox (FAILED, with
    the reason, leaves the instance on its previous version) and switches the instance.
    Returns the finished row, or None when another run already claimed it. Raises
    SandboxUnavailable when the sandbox cannot run, so the task retries instead of failing.
    """
    with connection.cursor() as cursor:
        cursor.execute(_sql(_PENDING_SQL), [deployment_id, DeploymentStatus.PENDING])
        pending = cursor.fetchone()
    if pending is None:
        return None  # a redelivery or a late run: someone else settled it
    instance_id, version_id = pending
    # Outside the transaction: the first check in a process may start the sandbox host.
    error = preflight_error_for(version_id) or settings_error_for(instance_id, version_id)
    settled = _deployment_settle(deployment_id, instance_id, version_id, error)
    if settled is not None:
        metrics.deploy_observe(settled.status)
    return settled


# Hand-written statements: a fan-out runs this a thousand times, and compiling ORM queries was
# most of its cost. Plain SQL that both SQLite and PostgreSQL accept.
_PENDING_SQL = "SELECT instance_id, version_id FROM {d} WHERE id = %s AND status = %s"
_NEWER_SQL = (
    "SELECT EXISTS (SELECT 1 FROM {d} WHERE instance_id = i.id AND id > %s) FROM {i} i WHERE i.id = %s"
)
_SETTLE_SQL = (
    "UPDATE {d} SET status = %s, error = %s, started_at = %s, finished_at = %s WHERE id = %s AND status = %s"
)
# The version it leaves becomes its previous one (re-deploying the same version keeps it).
_SWITCH_SQL = (
    "UPDATE {i} SET previous_version_id = CASE WHEN deployed_version_id = %s THEN previous_version_id "
    "ELSE deployed_version_id END, deployed_version_id = %s, deployed_at = %s, updated_at = %s WHERE id = %s"
)


def _sql(template: str) -> str:
    return template.format(d=Deployment._meta.db_table, i=FunctionInstance._meta.db_table)


@transaction.atomic
def _deployment_settle(deployment_id: int, instance_id: int, version_id: int, error: str):
    # One transaction, three statements. The instance row lock comes first: it orders
    # concurrent deployments of one instance (the newer-request check is made under it, so an
    # old version never wins by switching late) and redeliveries of this one. The settle is a
    # conditional update, so exactly one run moves the row out of PENDING; a worker dying
    # half-way leaves it PENDING for the redelivered task.
    started = timezone.now()
    with connection.cursor() as cursor:
        lock = " FOR UPDATE OF i" if connection.features.has_select_for_update_of else ""
        cursor.execute(_sql(_NEWER_SQL) + lock, [deployment_id, instance_id])
        row = cursor.fetchone()
        if row is None or row[0]:
            status = DeploymentStatus.SUPERSEDED
        elif error:
            status = DeploymentStatus.FAILED
        else:
            status = DeploymentStatus.SUCCEEDED
        finished = timezone.now()  # read under the instance lock
        error = error if status == DeploymentStatus.FAILED else ""
        cursor.execute(
            _sql(_SETTLE_SQL), [status, error, started, finished, deployment_id, DeploymentStatus.PENDING]
        )
        if cursor.rowcount != 1:
            return None  # another run settled it first
        if status == DeploymentStatus.SUCCEEDED:
            cursor.execute(_sql(_SWITCH_SQL), [version_id, version_id, finished, finished, instance_id])
            if version_schema(version_id):  # no declared setting: nothing changes sides
                _settings_realign(instance_id)
    return Deployment(
        pk=deployment_id,
        instance_id=instance_id,
        version_id=version_id,
        status=status,
        error=error,
        started_at=started,
        finished_at=finished,
    )


def deployments_republish_stale(*, older_than_s: int) -> int:
    """Publish the task again for PENDING deployments older than `older_than_s` seconds.

    Covers a task that never reached the broker or whose result was lost; deployment_apply
    is idempotent, so a duplicate is harmless. Returns how many were re-published.
    """
    cutoff = timezone.now() - timedelta(seconds=older_than_s)
    pending = Deployment.objects.filter(status=DeploymentStatus.PENDING, created_at__lt=cutoff)
    ids = list(pending.values_list("pk", flat=True)[:5000])
    if ids:
        _deployments_publish(ids)
    return len(ids)
