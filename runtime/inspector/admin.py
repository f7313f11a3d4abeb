"""Admin pages of the request inspector: each workspace's URL and its last requests, live."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Max
from django.http import Http404, JsonResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_GET

from workspaces import permissions
from workspaces.admin_mixins import ScopedAdmin
from workspaces.ids import int_param

from ..models import RequestInspector
from .selectors import inspected_as_dict, inspector_requests
from .services import inspector_for, inspectors_ensure


@admin.register(RequestInspector)
class RequestInspectorAdmin(ScopedAdmin):
    """A workspace's request inspector: its URL to post to, and what was posted (newest first)."""

    change_form_template = "admin/runtime/requestinspector/change_form.html"
    list_display = ["workspace", "url_display", "request_count", "last_request"]
    fields = ["workspace", "url_display", "try_it"]
    readonly_fields = fields

    def visible(self, request):
        workspaces = permissions.workspaces_for_inspector(request.user)
        return (
            RequestInspector.objects.filter(workspace__in=workspaces)
            .select_related("workspace")
            .annotate(_count=Count("requests"), _last=Max("requests__created_at"))
        )

    def can_change(self, request, obj):
        return False  # kept requests are a record: nobody edits them

    def changelist_view(self, request, extra_context=None):
        # Inspectors are made on first use: every readable workspace gets its row listed.
        inspectors_ensure(workspaces=permissions.workspaces_for_inspector(request.user))
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "workspace/<int:workspace_id>/requests/",
                wrap(requests_json),
                name="runtime_requestinspector_requests",
            ),
            *super().get_urls(),
        ]

    @admin.display(description="URL")
    def url_display(self, obj):
        return format_html(
            '<div class="fn-copy"><code class="fn-inspector-url" id="fn-inspector-url-{}">{}</code>'
            '<button type="button" class="fn-copy-btn" data-copy="#fn-inspector-url-{}">Copy</button></div>',
            obj.pk,
            obj.url,
            obj.pk,
        )

    @admin.display(description="Try it")
    def try_it(self, obj):
        return format_html(
            "<code>curl -X POST '{}/hello' -H 'Content-Type: application/json' -d '{{\"hello\": \"world\"}}'</code>",
            obj.url,
        )

    @admin.display(description="Requests kept", ordering="_count")
    def request_count(self, obj):
        return obj._count

    @admin.display(description="Last request", ordering="_last")
    def last_request(self, obj):
        return obj._last or "-"

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            rows = [inspected_as_dict(r) for r in inspector_requests(inspector=obj)]
            context["fn_inspector"] = {
                "requestsUrl": reverse("admin:runtime_requestinspector_requests", args=[obj.workspace_id]),
                "requests": rows,
            }
        return super().render_change_form(request, context, add, change, form_url, obj)


@require_GET
def requests_json(request, workspace_id):
    """The workspace inspector's kept requests, newest first (?after=<id>: only newer ones).

    404 outside the user's workspaces; 403 for a member who may not read the inspector.
    """
    workspace = permissions.workspaces_visible(request.user).filter(pk=workspace_id).first()
    if workspace is None:
        raise Http404("Not found.")
    if not permissions.can_view_inspector(request.user, workspace):
        raise PermissionDenied
    after = request.GET.get("after", "")
    inspector = inspector_for(workspace=workspace)
    rows = inspector_requests(inspector=inspector, after_id=int_param(after))
    return JsonResponse({"requests": [inspected_as_dict(r) for r in rows]})
