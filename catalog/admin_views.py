"""The function editor's admin endpoints: type chooser, test runs, captures, versions, deploys.

Registered by FunctionAdmin.get_urls() behind admin_site.admin_view (login + CSRF). Every view
asks workspaces.permissions: an invisible function is a 404, a refused verb a 403.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from runtime.inspector.selectors import captures_display
from runtime.pipeline.samples import samples_recent
from runtime.sandbox import SandboxUnavailable
from runtime.selectors import deployments_for_function, function_versions
from workspaces import permissions
from workspaces.ids import int_param

from .choices import ResourceType
from .models import Function
from .selectors import version_diff, version_get
from .services import function_test_run, function_version_restore

MAX_TEST_BODY = 1024 * 1024
SAMPLE_CONTEXT = {"ip": "8.8.8.8", "library": {"name": "analytics.js", "version": "2.11.1"}}


def sample_events() -> dict[str, dict]:
    """One template event per Segment event type, for the destination test pane."""
    base = {
        "messageId": "test-message-1",
        "timestamp": "2026-01-01T12:00:00.000Z",
        "userId": "user-1",
        "anonymousId": "anon-1",
        "context": SAMPLE_CONTEXT,
    }
    return {
        "track": {
            **base,
            "type": "track",
            "event": "Order Completed",
            "properties": {"orderId": "o-1", "revenue": 42.5, "currency": "USD"},
        },
        "identify": {**base, "type": "identify", "traits": {"email": "jane@example.com", "name": "Jane"}},
        "page": {**base, "type": "page", "name": "Home", "properties": {"path": "/", "title": "Home"}},
        "screen": {**base, "type": "screen", "name": "Dashboard", "properties": {"variation": "blue"}},
        "group": {**base, "type": "group", "groupId": "g-1", "traits": {"name": "Acme Inc."}},
        "alias": {**base, "type": "alias", "previousId": "anon-1"},
        "delete": {**base, "type": "delete"},
    }


def function_visible_or_404(request, object_id) -> Function:
    """The function if the user may see it (404 otherwise)."""
    function = permissions.functions_visible(request.user).filter(pk=object_id).first()
    if function is None:
        raise Http404("Not found.")
    return function


def function_admin_or_403(request, object_id) -> Function:
    function = function_visible_or_404(request, object_id)
    if not permissions.can_admin_function(request.user, function):
        raise PermissionDenied
    return function


@require_GET
def type_choose(request, admin_site):
    """New Function, step 1: choose the type; the editor then opens on its template."""
    if not permissions.workspaces_for_function_create(request.user).exists():
        raise PermissionDenied
    add_url = reverse("admin:catalog_function_add")
    types = [
        {"value": value, "label": label, "url": f"{add_url}?resource_type={value}", "help": TYPE_HELP[value]}
        for value, label in ResourceType.choices
    ]
    context = {
        **admin_site.each_context(request),
        "title": "New Function",
        "types": types,
        "opts": Function._meta,
    }
    return render(request, "admin/catalog/function/type_choose.html", context)


TYPE_HELP = {
    ResourceType.SOURCE: "Receive webhooks from any service and turn them into Segment events.",
    ResourceType.DESTINATION: "Send the events of a source to any API.",
    ResourceType.INSERT_DESTINATION: "Transform, enrich or filter events before a destination.",
    ResourceType.INSERT_SOURCE: "Transform, enrich or filter events as a source receives them.",
}


# --- test runs --------------------------------------------------------------------------------


@require_POST
def test_run(request):
    """Run code once in a fresh isolate with test settings; answer the whole result as JSON.

    Body: {code, resourceType, payload, settings, function?: id, workspace?: id}. Running
    executes code with egress, so it takes Functions Admin on the function (or, for a function
    not created yet, the right to create functions in the workspace).
    """
    if len(request.body) > MAX_TEST_BODY:
        return JsonResponse({"error": "The test request is too large."}, status=413)
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse({"error": "The body must be JSON."}, status=400)
    if not isinstance(data, dict):
        return JsonResponse({"error": "The body must be a JSON object."}, status=400)
    resource_type, timeout_ms = _test_target(request, data)
    code, settings = data.get("code"), data.get("settings") or {}
    if not isinstance(code, str) or not code.strip() or not isinstance(settings, dict):
        return JsonResponse({"error": "Send code (a string) and settings (an object)."}, status=400)
    return JsonResponse(_sandbox_run(code, resource_type, data.get("payload"), settings, timeout_ms))


def _test_target(request, data) -> tuple[str, int | None]:
    """The type to run the code as and the timeout: the function's, or a new function's default."""
    if data.get("function"):
        function = function_admin_or_403(request, data["function"])
        return function.resource_type, function.timeout_ms
    allowed = permissions.workspaces_for_function_create(request.user)
    workspace_id = str(data.get("workspace") or "")
    if workspace_id:  # unset while the add form's workspace is not chosen yet
        allowed = allowed.filter(pk=int_param(workspace_id)) if int_param(workspace_id) else allowed.none()
    if not allowed.exists():
        raise PermissionDenied
    if data.get("resourceType") not in ResourceType.values:
        raise PermissionDenied  # nothing sensible to run; the form never sends this
    return data["resourceType"], None


def _sandbox_run(code: str, resource_type: str, payload, settings: dict, timeout_ms: int | None) -> dict:
    try:
        result = function_test_run(
            code=code, resource_type=resource_type, payload=payload, settings=settings, timeout_ms=timeout_ms
        )
    except SandboxUnavailable as exc:
        return {
            "status": "error",
            "error": {"type": "SandboxUnavailable", "message": str(exc), "stack": ""},
            "returned": None,
            "events": [],
            "objects": [],
            "logs": [],
            "requests": [],
        }
    # What fetch sent to the request inspector, masked (the raw captures may hold secrets).
    captured = captures_display(result.captured, settings=settings)
    return {**result.to_dict(), "captured": captured, "batch": isinstance(payload, list)}


@require_GET
def capture_latest(request, object_id):
    """The newest request captured by the function's test webhook (or null)."""
    function = function_admin_or_403(request, object_id)
    capture = function.captures.first()
    if capture is None:
        return JsonResponse({"capture": None})
    return JsonResponse(
        {
            "capture": {
                "id": capture.pk,
                "method": capture.method,
                "headers": capture.headers,
                "query": capture.query,
                "body": _capture_body(capture),
                "createdAt": capture.created_at.isoformat(),
            }
        }
    )


def _capture_body(capture):
    content_type = next((v for k, v in capture.headers.items() if k.lower() == "content-type"), "")
    if "json" in content_type:
        try:
            return json.loads(capture.body)
        except ValueError:
            return capture.body
    if "x-www-form-urlencoded" in content_type:
        return {k: v[0] if len(v) == 1 else v for k, v in parse_qs(capture.body).items()}
    return capture.body


# --- recent events of a source -----------------------------------------------------------------


def sample_sources(user, function) -> list[dict]:
    """Sources of the function's workspace the user may read, for the test pane's picker."""
    sources = permissions.sources_visible(user).filter(workspace_id=function.workspace_id).order_by("name")
    return [{"id": s.public_id, "name": s.name, "kind": s.kind} for s in sources]


@require_GET
def source_samples(request, object_id):
    """The recent events of one source (?source=<pk or public id>) of the function's workspace.

    Needs read access to the function and to the source; a source outside the workspace, or one
    the user may not read, is a 404 like any object outside the user's scope. Without `source`
    it lists the sources the user may read there (what the test pane's picker offers).
    """
    function = function_visible_or_404(request, object_id)
    wanted = request.GET.get("source", "")
    if not wanted:
        return JsonResponse({"sources": sample_sources(request.user, function)})
    lookup = {"pk": int_param(wanted)} if int_param(wanted) is not None else {"public_id": wanted}
    source = function.workspace.sources.filter(**lookup).first()
    if source is None or not permissions.can_view_source(request.user, source):
        raise Http404("No such source.")
    return JsonResponse(
        {"source": {"id": source.public_id, "name": source.name}, "events": samples_recent(source.pk)}
    )


# --- versions ---------------------------------------------------------------------------------


@require_GET
def versions(request, object_id, admin_site):
    """Version history with LATEST/DEPLOYED labels and a unified or split diff of two versions."""
    function = function_visible_or_404(request, object_id)
    history = function_versions(function=function)
    diff = _diff_context(request, function, history)
    context = {
        **admin_site.each_context(request),
        "title": f"Version history: {function}",
        "function": function,
        "versions": history,
        "opts": Function._meta,
        "original": function,
        **diff,
        "can_restore": permissions.can_admin_function(request.user, function),
    }
    return render(request, "admin/catalog/function/versions.html", context)


def _diff_context(request, function, history) -> dict:
    if len(history) < 2 and not request.GET.get("old"):
        return {"mode": "split"}
    try:
        new = version_get(function=function, version_id=request.GET.get("new") or history[0].public_id)
        old = version_get(function=function, version_id=request.GET.get("old") or history[1].public_id)
    except (ValueError, IndexError, function.versions.model.DoesNotExist):
        raise Http404("No such version.")
    mode = "unified" if request.GET.get("mode") == "unified" else "split"
    diff = version_diff(old=old, new=new)
    return {
        "mode": mode,
        "diff": diff,
        "old": old,
        "new": new,
        "rows": split_rows(diff.code) if mode == "split" else [],
        "unified": unified_rows(diff.code),
    }


def unified_rows(text: str) -> list[dict]:
    """Lines of a unified diff with a CSS class each (add, del, hunk, ctx)."""
    rows = []
    for line in text.splitlines():
        if line.startswith(("+++", "---")):
            continue
        kind = {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "ctx")
        rows.append({"kind": kind, "text": line})
    return rows


def split_rows(text: str) -> list[dict]:
    """A unified diff as side-by-side rows: removed lines paired with the added lines after them."""
    rows, removed, added = [], [], []

    def flush():
        for index in range(max(len(removed), len(added))):
            rows.append(
                {
                    "left": removed[index] if index < len(removed) else None,
                    "right": added[index] if index < len(added) else None,
                    "kind": "change",
                }
            )
        removed.clear()
        added.clear()

    for line in unified_rows(text):
        if line["kind"] == "del":
            removed.append(line["text"][1:])
        elif line["kind"] == "add":
            added.append(line["text"][1:])
        else:
            flush()
            body = line["text"] if line["kind"] == "hunk" else line["text"][1:]
            rows.append({"left": body, "right": body, "kind": line["kind"]})
    flush()
    return rows


@require_POST
def version_restore(request, object_id, version_id):
    """Restore: a new LATEST version copying the chosen one (deploys nothing)."""
    function = function_admin_or_403(request, object_id)
    try:
        version = version_get(function=function, version_id=version_id)
    except function.versions.model.DoesNotExist:
        raise Http404("No such version.")
    try:
        restored = function_version_restore(function=function, version=version, author=request.user)
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
        return redirect("admin:catalog_function_versions", function.pk)
    messages.success(
        request, f"Restored v{version.number} as v{restored.number} (LATEST). Save & Deploy to make it live."
    )
    return redirect("admin:catalog_function_versions", function.pk)


# --- deployments ------------------------------------------------------------------------------


@require_GET
def deployments(request, object_id):
    """Deployment rows of one Save & Deploy (?version=<public id>) or of one instance
    (?instance=<public id>), newest first, for the progress panels."""
    function = function_visible_or_404(request, object_id)
    version = None
    if request.GET.get("version"):
        try:
            version = version_get(function=function, version_id=request.GET["version"])
        except function.versions.model.DoesNotExist:
            raise Http404("No such version.")
    rows = deployments_for_function(function=function, version=version)
    if request.GET.get("instance"):
        rows = rows.filter(instance__public_id=request.GET["instance"])
    items = [
        {
            "id": d.pk,
            "instance": d.instance.name,
            "instanceId": d.instance.public_id,
            "instanceUrl": reverse("admin:runtime_functioninstance_change", args=[d.instance_id]),
            "status": d.status,
            "version": d.version.number,
            "error": d.error,
            "requestedBy": d.requested_by.get_username() if d.requested_by else "",
            "createdAt": d.created_at.isoformat(),
            "finishedAt": d.finished_at.isoformat() if d.finished_at else None,
        }
        for d in rows[:1000]
    ]
    done = all(item["status"] not in ("PENDING", "RUNNING") for item in items)
    return JsonResponse({"deployments": items, "done": done})
