"""The editor's saved test cases: list, save, delete, Run all (JSON, admin session + CSRF), and
the check Save & Deploy makes before deploying.

Registered by FunctionAdmin.get_urls() behind admin_site.admin_view. Listing needs read access
to the function; saving, deleting and running (code with egress) need Functions Admin on it.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import Http404, JsonResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_POST

from workspaces import permissions
from workspaces.admin_mixins import ScopedAdmin

from .admin_views import function_admin_or_403, function_visible_or_404
from .choices import SettingType
from .models import TestCase
from .selectors import testcases_for_function
from .testcases import (
    deploy_gate,
    deploy_override_audit,
    secret_names_set,
    testcase_create,
    testcase_delete,
    testcase_run,
    testcase_update,
    testcases_run,
)
from .validation import setting_name_from_label

MAX_BODY = 1024 * 1024
# The editor's extra files (FunctionAdmin.media): the dark theme (the admin's dark mode) and
# Ace's completion, both from django-ace's static files.
EDITOR_MEDIA = forms.Media(
    js=[
        "catalog/ace-csp.js",
        "django_ace/ace/theme-tomorrow_night.js",
        "django_ace/ace/ext-language_tools.js",
    ],
    css={"screen": ["django_ace/ace/css/theme/tomorrow_night.css"]},
)
MAX_SETTINGS = 200


def case_out(case, user) -> dict:
    return {
        "id": case.public_id,
        "name": case.name,
        "payload": case.payload,
        "settings": case.setting_values,
        "encryptedSettingsSet": secret_names_set(case, user),
        "expectation": case.expectation,
        "updatedAt": case.updated_at.isoformat(),
    }


def _body(request) -> dict:
    if len(request.body) > MAX_BODY:
        raise ValidationError({"payload": "The request is too large."})
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise ValidationError({"payload": "The body must be a JSON object."})
    return data


def _errors(exc: ValidationError) -> JsonResponse:
    errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    return JsonResponse({"errors": errors}, status=400)


def _case_or_404(function, case_id: str):
    case = testcases_for_function(function=function).filter(public_id=case_id).first()
    if case is None:
        raise Http404("No such test case.")
    return case


@require_GET
def testcase_list(request, object_id):
    function = function_visible_or_404(request, object_id)
    cases = [case_out(c, request.user) for c in testcases_for_function(function=function)]
    return JsonResponse(
        {"testCases": cases, "canEdit": permissions.can_admin_function(request.user, function)}
    )


@require_POST
def testcase_save(request, object_id):
    """Create (no `id`) or update a test case: {id?, name, payload, settings, expectation}."""
    function = function_admin_or_403(request, object_id)
    try:
        data = _body(request)
        fields = {
            "name": data.get("name"),
            "payload": data.get("payload"),
            "setting_values": data.get("settings"),
            "expectation": data.get("expectation"),
        }
        if data.get("id"):
            case = testcase_update(
                test_case=_case_or_404(function, str(data["id"])), user=request.user, **fields
            )
        else:
            fields = {k: v for k, v in fields.items() if v is not None}
            case = testcase_create(function=function, user=request.user, **{"name": "", **fields})
    except ValidationError as exc:
        return _errors(exc)
    return JsonResponse({"testCase": case_out(case, request.user)})


@require_POST
def testcase_remove(request, object_id, case_id):
    function = function_admin_or_403(request, object_id)
    testcase_delete(test_case=_case_or_404(function, case_id))
    return JsonResponse({"status": "SUCCESS"})


def editor_schema(raw) -> list[dict] | None:
    """The settings as the editor has them (maybe unsaved): [{name, label, type, required}]."""
    if not isinstance(raw, list):
        return None
    schema = []
    for item in raw[:MAX_SETTINGS]:
        if isinstance(item, dict) and isinstance(item.get("name"), str) and item["name"]:
            schema.append(
                {
                    "name": item["name"],
                    "label": str(item.get("label") or item["name"]),
                    "type": item.get("type") if item.get("type") in SettingType.values else "STRING",
                    "required": bool(item.get("required")),
                }
            )
    return schema


@require_POST
def testcase_run_all(request, object_id):
    """Run all (or `ids`) with the editor's code and settings: {code?, schema?, ids?}."""
    function = function_admin_or_403(request, object_id)
    try:
        data = _body(request)
    except ValidationError as exc:
        return _errors(exc)
    code = data.get("code") if isinstance(data.get("code"), str) else None
    schema = editor_schema(data.get("schema"))
    if isinstance(data.get("ids"), list):
        cases = [_case_or_404(function, str(i)) for i in data["ids"]]
        outcomes = [testcase_run(test_case=c, user=request.user, code=code, schema=schema) for c in cases]
    else:
        outcomes = testcases_run(function=function, user=request.user, code=code, schema=schema)
    passed = sum(1 for o in outcomes if o.passed)
    return JsonResponse(
        {"passed": passed, "failed": len(outcomes) - passed, "results": [o.to_dict() for o in outcomes]}
    )


def urls(wrap) -> list:
    """The editor's test case endpoints (catalog/admin_testcases.py)."""
    return [
        path("<int:object_id>/test-cases/", wrap(testcase_list), name="catalog_function_testcases"),
        path(
            "<int:object_id>/test-cases/save/",
            wrap(testcase_save),
            name="catalog_function_testcase_save",
        ),
        path(
            "<int:object_id>/test-cases/run/",
            wrap(testcase_run_all),
            name="catalog_function_testcase_run",
        ),
        path(
            "<int:object_id>/test-cases/<str:case_id>/delete/",
            wrap(testcase_remove),
            name="catalog_function_testcase_delete",
        ),
    ]


# --- Save & Deploy's check -------------------------------------------------------------------


def posted_schema(post) -> list[dict]:
    """The settings rows of a submitted editor form (the inline formset's fields), as a schema."""
    prefix = "setting_defs"
    try:
        total = min(int(post.get(f"{prefix}-TOTAL_FORMS") or 0), MAX_SETTINGS)
    except ValueError:
        total = 0
    schema = []
    for index in range(total):
        field = f"{prefix}-{index}-"
        label = (post.get(field + "label") or "").strip()
        if not label or post.get(field + "DELETE"):
            continue
        schema.append(
            {
                "name": setting_name_from_label(label),
                "label": label,
                "type": post.get(field + "type") or "STRING",
                "required": bool(post.get(field + "required")),
            }
        )
    return schema


def deploy_check(request, function, code: str) -> list:
    """Save & Deploy's test-case check (catalog.testcases.deploy_gate, as the API's deploy):
    the failed outcomes a Workspace Owner chose to deploy anyway, or a ValidationError (the
    form's error) on a failure."""
    return deploy_gate(
        function=function,
        user=request.user,
        code=code,
        schema=posted_schema(request.POST),
        override=request.POST.get("deploy_override") == "1",
    )


# --- the admin's list of test cases (Catalog -> Test cases) ----------------------------------


@admin.register(TestCase)
class TestCaseAdmin(ScopedAdmin):
    """Every test case the user may read, with its function and expectation. Cases are written
    in the editor (its test pane); here they are read, and deleted by Functions Admins."""

    list_display = ["name", "function_link", "expects", "created_by", "updated_at"]
    list_filter = ["function__resource_type"]
    search_fields = ["name", "function__display_name"]
    fields = ["name", "function_link", "payload", "setting_values", "expectation", "created_by", "updated_at"]
    readonly_fields = fields

    def visible(self, request):
        functions = permissions.functions_visible(request.user)
        return TestCase.objects.filter(function__in=functions).select_related("function", "created_by")

    def can_change(self, request, obj):
        return False  # edited in the editor, where it can be run

    def can_delete(self, request, obj):
        return permissions.can_admin_function(request.user, obj.function)

    def can_delete_some(self, request):
        return (
            self.visible(request)
            .filter(function__in=permissions.functions_administered(request.user))
            .exists()
        )

    def delete_model(self, request, obj):
        testcase_delete(test_case=obj)

    def delete_queryset(self, request, queryset):
        for case in queryset:
            testcase_delete(test_case=case)

    @admin.display(description="Function", ordering="function__display_name")
    def function_link(self, obj):
        url = reverse("admin:catalog_function_change", args=[obj.function_id])
        return format_html('<a href="{}">{}</a>', url, obj.function)

    @admin.display(description="Expects")
    def expects(self, obj):
        e = obj.expectation or {}
        parts = [f"error {e['errorType']}" if e.get("errorType") else e.get("status", "success")]
        parts += [key for key in ("output", "events", "requests") if key in e]
        return ", ".join(parts)


def override_record(request, function, version, overridden: list, mode: str = "") -> None:
    """Audit a deploy a Workspace Owner made although test cases failed."""
    deploy_override_audit(
        function=function, user=request.user, version=version, overridden=overridden, mode=mode
    )


def deploy_context(request, function) -> dict:
    """What the Save & Deploy dialog says about test cases, and whether to offer the override."""
    return {
        "fn_test_case_count": function.test_cases.count() if function else 0,
        "fn_can_override": bool(function and permissions.is_owner(request.user, function.workspace)),
    }
