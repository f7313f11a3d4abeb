"""Admin views of the source debugger: a source's page, its live JSON, and the editor's list.

Reading a source's traffic needs read access to the source (404 otherwise); its webhook URL
and request headers are credentials-bearing and shown only to those who may manage it
(`permissions.can_admin_source`), everyone else gets them hidden. docs/editor.md.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib import admin
from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from catalog.choices import ResourceType
from workspaces import permissions
from workspaces.choices import SourceKind

from ..admin_charts import delivery_chart
from ..models import FunctionInstance
from . import selectors

WINDOW = timedelta(days=7)
PREVIEW_CHARS = 160
HIDDEN = "hidden (Source Admin only)"
OUTCOMES = ("delivered", "filtered", "failed", "retrying", "duplicate")


def _source(request, source_id: int):
    return get_object_or_404(
        permissions.sources_visible(request.user).select_related("workspace"), pk=source_id
    )


def _urls(source) -> dict:
    return {
        "page": reverse("admin:runtime_source_debugger", args=[source.pk]),
        "data": reverse("admin:runtime_source_debugger_data", args=[source.pk]),
    }


def _destinations(source) -> list[dict]:
    instances = FunctionInstance.objects.filter(
        source=source, function__resource_type=ResourceType.DESTINATION
    ).order_by("name", "id")
    return [{"id": i.public_id, "name": i.name, "enabled": i.enabled} for i in instances]


def _owner_instance(source):
    """The source function instance that owns a FUNCTION source (its editor replays requests)."""
    return (
        FunctionInstance.objects.filter(source=source, function__resource_type=ResourceType.SOURCE)
        .select_related("function")
        .first()
    )


def _counts_by_outcome(events: list[dict]) -> dict:
    counts = dict.fromkeys(OUTCOMES, 0)
    for event in events:
        for outcome in event.get("outcomes", []):
            counts[outcome["outcome"]] = counts.get(outcome["outcome"], 0) + 1
    return counts


def _preview(row: dict) -> str:
    if row["kind"] == "tracking":
        names = [f"{e.get('type')} {e.get('name') or ''}".strip() for e in row["events"][:5]]
        more = f" … +{row['count'] - len(names)}" if row.get("count", 0) > len(names) else ""
        return ", ".join(names) + more
    body = row.get("payload", {}).get("body")
    text = body if isinstance(body, str) else str(body)
    return text[:PREVIEW_CHARS]


def _summary(row: dict) -> dict:
    run = row.get("run")
    return {
        "id": row["id"],
        "at": row["at"],
        "kind": row["kind"],
        "call": row.get("call") or "webhook",
        "status": row["status"],
        "error": row.get("error") or "",
        "code": row.get("code") or "",
        "run": None if run is None else {"status": run["status"], "error": run.get("error")},
        "eventCount": row.get("count") if row["kind"] == "tracking" else len(row["events"]),
        "dropped": row.get("droppedCount", 0),
        "outcomes": _counts_by_outcome(row["events"]),
        "preview": _preview(row),
    }


def _hide_credentials(row: dict) -> dict:
    payload = dict(row.get("payload") or {})
    payload["url"] = HIDDEN if row["kind"] == "webhook" else payload.get("url", "")
    payload["headers"] = []
    payload["headersHidden"] = True
    return {**row, "payload": payload}


@require_GET
def debugger_data(request, source_id: int):
    """The live list (`GET`, polled every 2 s) or, with `?request=<id>`, one request in full."""
    source = _source(request, source_id)
    manage = permissions.can_admin_source(request.user, source)
    rows = selectors.source_recent_requests(
        source=source, limit=settings.DEBUGGER_SHOW, reveal_credentials=manage
    )
    wanted = request.GET.get("request")
    if wanted:
        row = next((r for r in rows if r["id"] == wanted), None)
        if row is None:
            return JsonResponse({"error": "This request is no longer kept."}, status=404)
        return JsonResponse({"request": row if manage else _hide_credentials(row)})
    return JsonResponse(
        {
            "source": {"id": source.pk, "name": source.name, "kind": source.kind},
            "canManage": manage,
            "keep": settings.DEBUGGER_KEEP,
            "shown": settings.DEBUGGER_SHOW,
            "destinations": _destinations(source),
            "counts": selectors.source_traffic_summary(source=source, since=timezone.now() - WINDOW),
            "requests": [_summary(r) for r in rows],
        }
    )


def traffic_context(source) -> dict:
    """Request and event counts (7 days) and the hourly chart of requests, for a source's pages."""
    since = timezone.now() - WINDOW
    series = [
        {"bucket": p["bucket"], "requests": p["requests"] - p["errors"], "errors": p["errors"]}
        for p in selectors.source_traffic_series(source=source, since=since)
    ]
    return {
        "fn_traffic": selectors.source_traffic_summary(source=source, since=since),
        "fn_traffic_chart": delivery_chart(series, since=since, kinds=("requests", "errors")),
        "fn_debugger_url": _urls(source)["page"],
    }


@require_GET
def debugger_page(request, source_id: int):
    """A source's debugger: counts, chart and its requests, live."""
    source = _source(request, source_id)
    owner = _owner_instance(source) if source.kind == SourceKind.FUNCTION else None
    editor = None
    if owner is not None and permissions.can_admin_function(request.user, owner.function):
        editor = reverse("admin:catalog_function_change", args=[owner.function_id])
    context = {
        **admin.site.each_context(request),
        **traffic_context(source),
        "title": f"Source debugger: {source.name}",
        "source": source,
        "owner_instance": owner,
        "editor_url": editor,
        "fn_debugger_config": {**_urls(source), "editorUrl": editor, "sourceId": source.pk},
        "keep": settings.DEBUGGER_KEEP,
        "shown": settings.DEBUGGER_SHOW,
    }
    return TemplateResponse(request, "admin/runtime/debugger/page.html", context)


@require_GET
def editor_sources(request, function_id: int):
    """The sources whose traffic the editor's test pane may load: the function's own (a source
    function's instances' sources) first, then the other readable sources of its workspace."""
    function = get_object_or_404(permissions.functions_visible(request.user), pk=function_id)
    visible = permissions.sources_visible(request.user).filter(workspace=function.workspace_id)
    own = set(function.instances.values_list("source_id", flat=True))
    rows = sorted(visible, key=lambda s: (s.pk not in own, s.name.lower(), s.pk))
    return JsonResponse(
        {
            "function": {"id": function.pk, "type": function.resource_type},
            "sources": [
                {"id": s.pk, "name": s.name, "kind": s.kind, "own": s.pk in own, **_urls(s)} for s in rows
            ],
        }
    )


def admin_urls(wrap) -> list:
    """The debugger's admin URLs (mounted under /admin/runtime/functioninstance/)."""
    return [
        path("debugger/<int:source_id>/", wrap(debugger_page), name="runtime_source_debugger"),
        path("debugger/<int:source_id>/data/", wrap(debugger_data), name="runtime_source_debugger_data"),
        path(
            "debugger/function/<int:function_id>/sources/",
            wrap(editor_sources),
            name="runtime_source_debugger_sources",
        ),
    ]
