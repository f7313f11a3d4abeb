"""Writes for the function catalog: create, save (a new version every time), restore, delete."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max

from runtime.sandbox import SandboxRequest, SandboxResult
from runtime.sandbox.django import sandbox
from workspaces.choices import AuditAction
from workspaces.models import Source, Workspace
from workspaces.services import audit_record

from .choices import SANDBOX_KIND, ResourceType
from .ids import function_public_id
from .models import FUNCTION_EDITABLE_FIELDS, CapturedRequest, Function, FunctionVersion, SettingDefinition
from .starters import STARTER_SETTINGS, starter_code
from .validation import code_normalise, code_validate, settings_schema_validate

DUPLICATE_NAME = "A function named {name!r} already exists in this workspace."


@transaction.atomic
def function_create(
    *,
    workspace: Workspace,
    resource_type: str,
    display_name: str,
    created_by=None,
    code: str | None = None,
    settings: list | None = None,
    **fields,
) -> Function:
    """Create a function with its first version.

    `fields` are the other editable fields (FUNCTION_EDITABLE_FIELDS; None keeps the default).
    Without `code` the type's starter code is used (with its settings when `settings` is
    also omitted). Raises ValidationError for invalid code (with line and column), an
    invalid settings schema or a display name already used in the workspace; TypeError for a
    field that is not editable.
    """
    if resource_type not in ResourceType.values:
        raise ValidationError({"resource_type": f"Must be one of {', '.join(ResourceType.values)}."})
    if code is None:
        code = starter_code(resource_type)
        if settings is None:
            settings = STARTER_SETTINGS.get(resource_type, [])
    schema = settings_schema_validate(settings or [])
    given = _edited_fields({**fields, "display_name": display_name or "", "code": code})
    handlers = code_validate(code=given["code"], resource_type=resource_type)
    function = Function(
        workspace=workspace,
        public_id=function_public_id(resource_type),
        resource_type=resource_type,
        created_by=created_by,
        **given,
    )
    _clean_and_save(function)
    _schema_replace(function, schema)
    version = _version_create(function=function, author=created_by, handlers=handlers)
    audit_record(
        workspace=workspace,
        actor=created_by,
        action=AuditAction.CREATED,
        obj=function,
        version_id=version.public_id,
    )
    return function


@transaction.atomic
def function_save(
    *, function: Function, author=None, settings: list | None = None, **fields
) -> FunctionVersion:
    """Save a function (Segment's "Save"): every save makes a new LATEST version.

    Only the given `fields` (FUNCTION_EDITABLE_FIELDS; None leaves one unchanged) and, when
    given, the settings schema change. No instance changes what it runs; that is a deploy.
    Raises ValidationError as function_create does, TypeError for a field that is not editable.
    """
    function = Function.objects.select_for_update().get(pk=function.pk)
    given = _edited_fields(fields)
    if "code" in given or function.latest_version is None:
        code = given.get("code", function.code)
        handlers = code_validate(code=code, resource_type=function.resource_type)
    else:
        handlers = function.latest_version.handlers  # the code is the latest version's
    schema = settings_schema_validate(settings) if settings is not None else None
    for field, value in given.items():
        setattr(function, field, value)
    _clean_and_save(function)
    if schema is not None:
        _schema_replace(function, schema)
    version = _version_create(function=function, author=author, handlers=handlers)
    audit_record(
        workspace=function.workspace,
        actor=author,
        action=AuditAction.SAVED,
        obj=function,
        version_id=version.public_id,
    )
    return version


def _edited_fields(fields: dict) -> dict:
    """The editable fields given (not None), normalised: the name stripped, the code's line endings."""
    unknown = sorted(set(fields) - set(FUNCTION_EDITABLE_FIELDS))
    if unknown:
        raise TypeError(f"Not editable function fields: {', '.join(unknown)}")
    given = {name: value for name, value in fields.items() if value is not None}
    if "display_name" in given:
        given["display_name"] = given["display_name"].strip()
    if "code" in given:
        given["code"] = code_normalise(given["code"])
    return given


@transaction.atomic
def function_version_restore(*, function: Function, version: FunctionVersion, author=None):
    """Restore: a new LATEST version copying `version`'s code and settings; deploys nothing."""
    if version.function_id != function.pk:
        raise ValidationError({"versionId": "That version belongs to another function."})
    function = Function.objects.select_for_update().get(pk=function.pk)
    function.code = code_normalise(version.code)
    _clean_and_save(function)
    _schema_replace(function, version.settings_schema)
    restored = _version_create(
        function=function, author=author, handlers=version.handlers, restored_from=version
    )
    audit_record(
        workspace=function.workspace,
        actor=author,
        action=AuditAction.RESTORED,
        obj=function,
        version_id=restored.public_id,
        data={"restored_from": version.public_id},
    )
    return restored


@transaction.atomic
def function_delete(*, function: Function, actor=None) -> None:
    """Delete a function with its versions and its dependent instances (its own and the
    destination-insert instances in front of them, each audited), and source functions' sources.

    Interfaces ask permissions.can_delete_function first: the right to remove every instance.
    """
    removed = list(function.dependent_instances().select_related("function").order_by("pk"))
    owned_sources = [i.source_id for i in removed if i.function.resource_type == ResourceType.SOURCE]
    for instance in removed:
        audit_record(
            workspace=function.workspace,
            actor=actor,
            action=AuditAction.DELETED,
            obj=instance,
            data={"function": instance.function.public_id, "with": function.public_id},
        )
    audit_record(
        workspace=function.workspace,
        actor=actor,
        action=AuditAction.DELETED,
        obj=function,
        data={"instances": [i.public_id for i in removed]},
    )
    Function.objects.filter(pk=function.pk).update(latest_version=None)
    function.dependent_instances().delete()
    function.delete()
    Source.objects.filter(pk__in=owned_sources).delete()


def named_save(obj, *, siblings, field: str, message: str) -> None:
    """Validate and save `obj`, whose `field` must be unique among `siblings` (a queryset).

    The name clash is a field error: checked first, and again by the database constraint for a
    concurrent save with the same name. Used for functions and their test cases.
    """
    obj.full_clean(validate_unique=False, validate_constraints=False)
    error = ValidationError({field: message.format(name=getattr(obj, field))})
    if siblings.filter(**{field: getattr(obj, field)}).exclude(pk=obj.pk).exists():
        raise error
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError as exc:
        raise error from exc


def _clean_and_save(function: Function) -> None:
    siblings = Function.objects.filter(workspace_id=function.workspace_id)
    named_save(function, siblings=siblings, field="display_name", message=DUPLICATE_NAME)


def _schema_replace(function: Function, schema: list[dict]) -> None:
    function.setting_defs.all().delete()
    SettingDefinition.objects.bulk_create(
        SettingDefinition(function=function, position=index, **item) for index, item in enumerate(schema)
    )


def _version_create(
    *, function: Function, author, handlers: list[str], restored_from=None
) -> FunctionVersion:
    """A new LATEST version of the function's code; `handlers` are the names the sandbox's
    check found in that code (code_validate), stored so delivery need not look again."""
    last = function.versions.aggregate(n=Max("number"))["n"] or 0
    version = FunctionVersion.objects.create(
        function=function,
        number=last + 1,
        code=function.code,
        settings_schema=function_schema(function),
        handlers=list(handlers),
        author=author if getattr(author, "pk", None) else None,
        restored_from=restored_from,
    )
    function.latest_version = version
    function.save(update_fields=["latest_version", "updated_at"])
    return version


def function_schema(function: Function) -> list[dict]:
    """The function's current settings schema as a list of dicts."""
    return [item.as_schema() for item in function.setting_defs.all()]


CAPTURES_KEPT = 10


@transaction.atomic
def capture_store(*, function: Function, method: str, headers: dict, query: dict, body: str):
    """Keep a request sent to a function's test webhook; only the last CAPTURES_KEPT stay."""
    capture = CapturedRequest.objects.create(
        function=function, method=method, headers=headers, query=query, body=body
    )
    stale = CapturedRequest.objects.filter(function=function).values_list("pk", flat=True)[CAPTURES_KEPT:]
    CapturedRequest.objects.filter(pk__in=list(stale)).delete()
    return capture


def function_test_run(
    *, code: str, resource_type: str, payload, settings: dict, timeout_ms: int | None = None
) -> SandboxResult:
    """Run `code` once in a fresh isolate (no instance), as a function of `resource_type` would
    run on `payload` with the setting values `settings`: the editor's Run, the API's preview and
    the saved test cases.

    `timeout_ms` is the function's own timeout (the sandbox's default when None: a function not
    created yet). Nothing is stored. Raises runtime.sandbox.SandboxUnavailable when the sandbox
    host cannot run it; errors of the code itself are in the result.
    """
    timeout = {} if timeout_ms is None else {"timeout_ms": timeout_ms}
    request = SandboxRequest(
        code=code, kind=SANDBOX_KIND[resource_type], payload=payload, settings=settings, **timeout
    )
    return sandbox().run(request)
