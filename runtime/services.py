"""Writes for function instances: connect, configure, enable, delete."""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from catalog.choices import ResourceType
from catalog.models import Function
from catalog.validation import instance_settings_validate
from workspaces.choices import AuditAction, SourceKind
from workspaces.models import Source
from workspaces.services import audit_record

from .models import FunctionInstance


def instance_schema(instance: FunctionInstance) -> list[dict]:
    """The settings schema an instance is configured against: its deployed version's."""
    if instance.deployed_version_id:
        return instance.deployed_version.settings_schema
    return instance.function.latest_version.settings_schema


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
        workspace=function.workspace, actor=created_by, action=AuditAction.CONNECTED,
        obj=instance, version_id=version.public_id,
        data={"function": function.public_id, "source": source.public_id},
    )
    return instance


def _instance_target(function, name, source, destination) -> Source:
    kind = function.resource_type
    if kind == ResourceType.SOURCE:
        if source is not None:
            raise ValidationError({"source": "A source function creates its own source."})
        source = Source(workspace=function.workspace, name=(name or "").strip(), kind=SourceKind.FUNCTION)
        source.full_clean()
        source.save()
        return source
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
    return source


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
            schema=instance_schema(instance), values=settings,
            previous_secrets=instance.secret_values(),
        )
        instance.settings = plain
        instance.encrypted_settings = json.dumps(secret)
        fields += ["settings", "encrypted_settings"]
    instance.full_clean()
    instance.save(update_fields=[*fields, "updated_at"])
    if instance.function.resource_type == ResourceType.SOURCE and fields:
        _sync_owned_source(instance)
    audit_record(
        workspace=instance.function.workspace, actor=actor, action=AuditAction.UPDATED,
        obj=instance, data={"fields": [f for f in fields if f != "encrypted_settings"]},
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
    audit_record(
        workspace=instance.function.workspace, actor=actor, action=AuditAction.DELETED, obj=instance
    )
    owned = instance.source_id if instance.function.resource_type == ResourceType.SOURCE else None
    instance.delete()
    if owned:
        Source.objects.filter(pk=owned).delete()
