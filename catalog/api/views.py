"""Segment Public API: Functions, their versions, deploy and test runs (preview)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema

from catalog import selectors, services
from catalog.choices import ResourceType
from catalog.models import FUNCTION_EDITABLE_FIELDS, Function, FunctionVersion
from catalog.testcases import TestCasesFailed, deploy_gate, deploy_override_audit
from functions_platform.api.exceptions import (
    PayloadTooLarge,
    ServiceUnavailable,
    UnprocessableEntity,
    error,
    errors_response,
)
from functions_platform.api.schema import (
    PAGINATION_PARAMETERS,
    StatusSerializer,
    envelope,
    page_envelope,
    responses,
)
from functions_platform.api.views import ApiView
from runtime import selectors as runtime_selectors
from runtime import services as runtime_services
from runtime.canary import selectors as canary_selectors
from runtime.canary import services as canary_services
from runtime.sandbox import SandboxUnavailable
from workspaces import permissions

from . import serializers as s

PREVIEW_MAX_BYTES = 512 * 1024

FunctionEnvelope = envelope("Function", function=s.FunctionSerializer())
FunctionListEnvelope = page_envelope("FunctionList", "functions", s.ListFunctionItemSerializer)
VersionEnvelope = envelope("Version", version=s.VersionSerializer())
VersionListEnvelope = page_envelope("VersionList", "versions", s.VersionSerializer)
StatusEnvelope = envelope("DeleteStatus", status=StatusSerializer().fields["status"])
DeployEnvelope = envelope("Deploy", functionDeployment=s.FunctionDeploymentSerializer())
PreviewEnvelope = envelope("Preview", result=s.PreviewResultSerializer())


def function_out(function: Function, user) -> dict:
    return s.FunctionSerializer(function, context={"user": user}).data


def edited_fields(data: dict) -> dict:
    """The editable fields present in a create or update body, under the services' names."""
    return {name: data[api] for name, api in FUNCTION_EDITABLE_FIELDS.items() if api in data}


class FunctionScopedView(ApiView):
    """Views under /functions/{functionId}: the function must be visible (else 404)."""

    def function(self, function_id: str) -> Function:
        visible = permissions.functions_visible(self.user).filter(workspace=self.workspace)
        return self.get_in_scope(visible.select_related("workspace", "created_by"), public_id=function_id)

    def function_to_admin(self, function_id: str) -> Function:
        function = self.function(function_id)
        self.require(permissions.can_admin_function(self.user, function))
        return function


class FunctionListView(ApiView):
    @extend_schema(
        operation_id="listFunctions",
        parameters=[
            OpenApiParameter("resourceType", str, enum=ResourceType.values, description="Filter by type."),
            *PAGINATION_PARAMETERS,
        ],
        responses=responses(FunctionListEnvelope),
    )
    def get(self, request):
        queryset = permissions.functions_visible(self.user).filter(workspace=self.workspace)
        resource_type = request.query_params.get("resourceType")
        if resource_type is not None:
            if resource_type not in ResourceType.values:
                choices = ", ".join(ResourceType.values)
                raise UnprocessableEntity({"resourceType": [f"Must be one of {choices}."]})
            queryset = queryset.filter(resource_type=resource_type)
        queryset = queryset.select_related("workspace", "created_by").order_by("created_at", "pk")
        return self.respond_page("functions", queryset, lambda f: s.ListFunctionItemSerializer(f).data)

    @extend_schema(
        operation_id="createFunction",
        request=s.CreateFunctionSerializer,
        responses=responses(FunctionEnvelope, extra=(503,)),
    )
    def post(self, request):
        self.require(permissions.can_create_function(self.user, self.workspace))
        data = self.input(s.CreateFunctionSerializer)
        function = services.function_create(
            workspace=self.workspace,
            resource_type=data["resourceType"],
            created_by=self.user,
            settings=data.get("settings", []),
            **edited_fields(data),
        )
        return self.respond({"function": function_out(function, self.user)})


class FunctionDetailView(FunctionScopedView):
    @extend_schema(operation_id="getFunction", responses=responses(FunctionEnvelope))
    def get(self, request, function_id):
        return self.respond({"function": function_out(self.function(function_id), self.user)})

    @extend_schema(
        operation_id="updateFunction",
        request=s.UpdateFunctionSerializer,
        responses=responses(FunctionEnvelope, extra=(503,)),
    )
    def patch(self, request, function_id):
        function = self.function_to_admin(function_id)
        data = self.input(s.UpdateFunctionSerializer)
        services.function_save(
            function=function, author=self.user, settings=data.get("settings"), **edited_fields(data)
        )
        function.refresh_from_db()
        return self.respond({"function": function_out(function, self.user)})

    @extend_schema(operation_id="deleteFunction", responses=responses(StatusEnvelope))
    def delete(self, request, function_id):
        function = self.function_to_admin(function_id)
        refused = permissions.instances_refused(self.user, function.dependent_instances())
        self.require(not refused, delete_refused_message(self.user, refused))
        services.function_delete(function=function, actor=self.user)
        return self.respond({"status": "SUCCESS"})


def delete_refused_message(user, refused) -> str:
    """Why a delete is refused: the instances it would remove that `user` may not remove."""
    shown = [f"{i.name} ({i.public_id})" for i in refused if permissions.can_view_instance(user, i)]
    hidden = len(refused) - len(shown)
    listed = ", ".join(shown + ([f"{hidden} you cannot see"] if hidden else []))
    return (
        "Deleting this function also deletes its instances, and removing an instance needs Source "
        f"Admin on its source; you may not remove: {listed}."
    )


class FunctionDeployView(FunctionScopedView):
    @extend_schema(
        operation_id="deployFunction",
        request=s.DeploySerializer,
        responses=responses(DeployEnvelope),
    )
    def post(self, request, function_id):
        function = self.function_to_admin(function_id)
        data = self.input(s.DeploySerializer)
        instances = runtime_services.instances_for_deploy(
            function=function, instance_ids=data.get("instanceIds")
        )
        self.require(
            permissions.can_deploy(self.user, function, instances),
            "Deploying needs Source Admin on the source of every affected instance.",
        )
        version = function.latest_version
        try:  # the saved test cases first, as the admin's Save & Deploy
            overridden = deploy_gate(
                function=function, user=self.user, code=version.code, override=data["overrideTestCases"]
            )
        except TestCasesFailed as exc:
            return tests_failed_response(exc)
        if "canary" in data:
            return self._canary(function, version, instances, data["canary"], overridden)
        runtime_services.deployment_request(
            function=function, version=version, instances=instances, requested_by=self.user
        )
        deploy_override_audit(function=function, user=self.user, version=version, overridden=overridden)
        rows = self._rows(function, instances)
        failed = any((row["deployment"] or {}).get("status") == "FAILED" for row in rows)
        return self.respond(
            {
                "functionDeployment": {
                    "status": "FAILED" if failed else "SUCCESS",
                    "mode": "ALL",
                    "versionId": version.public_id,
                    "instances": rows,
                }
            }
        )

    def _canary(self, function, version, instances, options: dict, overridden):
        try:
            canaries = canary_services.canaries_start(
                version=version,
                instances=instances,
                percent=options["percent"],
                duration_s=options.get("durationSeconds"),
                max_events=options.get("maxEvents"),
                requested_by=self.user,
            )
        except ValidationError as exc:  # named under `canary`, as the serializer's own errors
            detail = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
            raise UnprocessableEntity({"canary": detail}) from None
        deploy_override_audit(
            function=function, user=self.user, version=version, overridden=overridden, mode="canary"
        )
        return self.respond(
            {
                "functionDeployment": {
                    "status": "SUCCESS",
                    "mode": "CANARY",
                    "versionId": version.public_id,
                    "instances": self._rows(function, instances),
                    "canaries": [canary_selectors.canary_out(c) for c in canaries],
                }
            }
        )

    def _rows(self, function, instances) -> list[dict]:
        # Re-read: with eager Celery the deployments have already run by now.
        targeted = {instance.public_id for instance in instances}
        return [
            row
            for row in runtime_selectors.deployment_status_by_instance(function=function)
            if row["instanceId"] in targeted
        ]


def tests_failed_response(exc: TestCasesFailed):
    """422: the summary, then one error per failed test case (its id, name and reasons)."""
    summary = f"Not deployed: {len(exc.failed)} of {exc.total} test cases failed."
    if exc.may_override:
        summary += ' Workspace Owners may deploy anyway with "overrideTestCases": true (audited).'
    items = [error(422, summary, "testCases")]
    items += [
        error(
            422,
            f"“{o.case.name}”: {'; '.join(o.failures)}",
            "testCases",
            testCaseId=o.case.public_id,
            testCaseName=o.case.name,
        )
        for o in exc.failed
    ]
    return errors_response(422, items)


class VersionListView(FunctionScopedView):
    @extend_schema(
        operation_id="listFunctionVersions",
        parameters=PAGINATION_PARAMETERS,
        responses=responses(VersionListEnvelope),
    )
    def get(self, request, function_id):
        function = self.function(function_id)
        queryset = function.versions.select_related("author", "restored_from", "function").order_by("-number")
        return self.respond_page("versions", queryset, lambda v: s.VersionSerializer(v).data)

    @extend_schema(
        operation_id="restoreFunctionVersion",
        request=s.RestoreVersionSerializer,
        responses=responses(VersionEnvelope),
    )
    def post(self, request, function_id):
        function = self.function_to_admin(function_id)
        data = self.input(s.RestoreVersionSerializer)
        version = self.get_in_scope(function.versions.all(), public_id=data["versionId"])
        restored = services.function_version_restore(function=function, version=version, author=self.user)
        return self.respond({"version": s.VersionSerializer(restored).data})


class VersionDetailView(FunctionScopedView):
    @extend_schema(operation_id="getFunctionVersion", responses=responses(VersionEnvelope))
    def get(self, request, function_id, version_id):
        function = self.function(function_id)
        try:
            version = selectors.version_get(function=function, version_id=version_id)
        except FunctionVersion.DoesNotExist:
            raise Http404
        return self.respond({"version": s.VersionSerializer(version).data})


def _check_size(request) -> None:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > PREVIEW_MAX_BYTES or len(request.body) > PREVIEW_MAX_BYTES:
        raise PayloadTooLarge(f"A test run takes at most {PREVIEW_MAX_BYTES // 1024} KiB.")


def _run(*, code: str, resource_type: str, payload, settings_values: dict, timeout_ms: int) -> dict:
    """One test run in a fresh isolate, as the editor's Run does (catalog.services.function_test_run)."""
    if resource_type == ResourceType.SOURCE:
        payload = _source_payload(payload)
    elif not isinstance(payload, dict | list):
        raise UnprocessableEntity({"payload": ["An event object, or a list of events for onBatch."]})
    try:
        result = services.function_test_run(
            code=code,
            resource_type=resource_type,
            payload=payload,
            settings=settings_values,
            timeout_ms=timeout_ms,
        )
    except SandboxUnavailable as exc:
        raise ServiceUnavailable(f"The sandbox is unavailable: {exc}")
    return {
        "status": result.status,
        "error": result.error,
        "returned": result.returned,
        "events": result.events,
        "objects": result.objects,
        "logs": result.logs,
        "requests": result.requests,
        "durationMs": result.duration_ms,
        "cpuMs": result.cpu_ms,
    }


def _source_payload(payload) -> dict:
    """A source function's request envelope: {method, headers, query, body}."""
    if not isinstance(payload, dict):
        raise UnprocessableEntity({"payload": ["A request object: {method, headers, query, body}."]})
    unknown = sorted(set(payload) - {"method", "headers", "query", "body", "url"})
    if unknown:
        raise UnprocessableEntity({f"payload.{key}": ["Unknown field."] for key in unknown})
    for key in ("headers", "query"):
        if not isinstance(payload.get(key, {}), dict):
            raise UnprocessableEntity({f"payload.{key}": ["Must be an object."]})
    return {
        "method": str(payload.get("method") or "POST").upper(),
        "headers": payload.get("headers") or {"content-type": "application/json"},
        "query": payload.get("query") or {},
        "body": payload.get("body", {}),
        **({"url": payload["url"]} if "url" in payload else {}),
    }


class FunctionPreviewView(FunctionScopedView):
    @extend_schema(
        operation_id="previewFunction",
        request=s.PreviewSerializer,
        responses=responses(PreviewEnvelope, extra=(413, 503)),
    )
    def post(self, request, function_id):
        _check_size(request)
        function = self.function_to_admin(function_id)
        data = self.input(s.PreviewSerializer)
        result = _run(
            code=data.get("code", function.code),
            resource_type=function.resource_type,
            payload=data["payload"],
            settings_values=data["settings"],
            timeout_ms=function.timeout_ms,
        )
        return self.respond({"result": result})


class AdHocPreviewView(ApiView):
    @extend_schema(
        operation_id="previewCode",
        request=s.AdHocPreviewSerializer,
        responses=responses(PreviewEnvelope, extra=(413, 503)),
    )
    def post(self, request):
        _check_size(request)
        administers_any = (
            permissions.functions_administered(self.user).filter(workspace=self.workspace).exists()
        )
        self.require(permissions.can_create_function(self.user, self.workspace) or administers_any)
        data = self.input(s.AdHocPreviewSerializer)
        result = _run(
            code=data["code"],
            resource_type=data["resourceType"],
            payload=data["payload"],
            settings_values=data["settings"],
            timeout_ms=settings.FUNCTIONS_DEFAULT_TIMEOUT_MS,
        )
        return self.respond({"result": result})
