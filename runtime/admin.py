import json

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.loader import render_to_string
from django.urls import path
from django.utils.html import format_html

from catalog.choices import ResourceType
from workspaces import permissions
from workspaces.admin_mixins import ScopedAdmin, WorkspaceFilter
from workspaces.ids import int_param

from . import admin_deploys
from .admin_forms import (
    PREFIX,
    InstanceForm,
    connect_allowed,
    functions_connectable,
    settings_rows,
)
from .admin_tabs import instance_tabs_context
from .canary import admin as canary_admin
from .deadletters import admin as dead_letters_admin  # noqa: F401  (registers the dead-letter pages)
from .debugger import views as debugger_views
from .inspector import admin as inspector_admin  # noqa: F401  (registers the inspector's pages)
from .models import Deployment, ErrorLog, FunctionInstance, IngestDrop
from .replay import admin as replay_admin
from .services import (
    instance_create,
    instance_delete,
    instance_schema,
    instance_settings_shown,
    instance_update,
)


@admin.register(FunctionInstance)
class FunctionInstanceAdmin(ScopedAdmin):
    """Connect Source / Connect destination, and instance pages (settings, Errors, Event delivery)."""

    form = InstanceForm
    change_form_template = "admin/runtime/functioninstance/change_form.html"
    list_display = ["name", "function", "source", "enabled", "running_version", "deployed_at"]
    list_filter = ["enabled", "function__resource_type", admin_deploys.BehindLatestFilter]
    search_fields = ["name", "public_id", "function__display_name"]
    readonly_fields = ["public_id", "running_version", "webhook", "webhook_hidden", "masked_settings"]
    actions = [admin_deploys.rollback_selected]

    def visible(self, request):
        return permissions.instances_visible(request.user).select_related(
            "function__workspace", "function__latest_version", "source", "deployed_version"
        )

    def get_urls(self):
        wrap = self.admin_site.admin_view
        rollback = path(
            "<int:object_id>/rollback/",
            wrap(admin_deploys.rollback_view),
            name="runtime_functioninstance_rollback",
        )
        safe_change = [*canary_admin.canary_urls(wrap), *replay_admin.replay_urls(wrap)]
        return [rollback, *debugger_views.admin_urls(wrap), *safe_change, *super().get_urls()]

    def get_actions(self, request):
        actions = super().get_actions(request)
        # Offered to those who may deploy somewhere; each selected instance is checked too.
        may_deploy = permissions.functions_administered(request.user).exists() and (
            permissions.sources_administered(request.user).exists()
        )
        if not may_deploy:
            actions.pop("rollback_selected", None)
        return actions

    def can_view(self, request, obj):
        return permissions.can_view_instance(request.user, obj)

    def can_change(self, request, obj):
        return permissions.can_configure_instance(request.user, obj)

    def can_delete_some(self, request):
        return (
            self.visible(request).filter(source__in=permissions.sources_administered(request.user)).exists()
        )

    def can_add(self, request):
        return functions_connectable(request.user).exists()

    def _function_for(self, request, obj):
        if obj is not None:
            return obj.function
        raw = request.POST.get("function") or request.GET.get("function")
        if raw and int_param(raw) is not None:
            return functions_connectable(request.user).filter(pk=int_param(raw)).first()
        return None

    def get_fields(self, request, obj=None):
        if obj is not None:
            # The webhook URL is a credential: only those who may manage the source see it.
            webhook = (
                "webhook" if permissions.can_admin_source(request.user, obj.source) else "webhook_hidden"
            )
            fields = ["public_id", "function", "name", "enabled", "running_version", webhook]
            fields += ["source"] if obj.function.resource_type != ResourceType.SOURCE else []
        else:
            fields = ["function", "name", "source", "destination", "enabled"]
            function = self._function_for(request, None)
            if function is not None:
                # A source function makes its own source; a destination insert runs on its
                # destination's source.
                if function.resource_type in (ResourceType.SOURCE, ResourceType.INSERT_DESTINATION):
                    fields.remove("source")
                if function.resource_type != ResourceType.INSERT_DESTINATION:
                    fields.remove("destination")
        return fields

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        readonly = ["public_id", "function", "source", "running_version", "webhook", "webhook_hidden"]
        if not self.can_change(request, obj):
            readonly += ["name", "enabled"]
        return readonly

    def get_form(self, request, obj=None, change=False, **kwargs):
        function = self._function_for(request, obj)
        can_edit = obj is None or self.can_change(request, obj)
        schema = []
        if function is not None and can_edit:
            schema = instance_schema(obj) if obj else function.latest_version.settings_schema
        secrets = instance_settings_shown(obj)[1] if obj else {}
        readonly = self.get_readonly_fields(request, obj)
        kwargs["fields"] = [f for f in self.get_fields(request, obj) if f not in readonly]
        base = super().get_form(request, obj, change=change, **kwargs)

        class Form(base):
            def __init__(self, *args, **kw):
                super().__init__(*args, schema=schema, secrets=secrets, user=request.user, **kw)
                if "destination" in self.fields:
                    self.fields["destination"].required = True

        return Form

    def get_fieldsets(self, request, obj=None):
        fieldsets = [(None, {"fields": self.get_fields(request, obj)})]
        function = self._function_for(request, obj)
        if function is None:
            return fieldsets
        if obj is not None and not self.can_change(request, obj):
            return [*fieldsets, ("Settings", {"fields": ["masked_settings"]})]
        schema = instance_schema(obj) if obj else function.latest_version.settings_schema
        if schema:
            fieldsets.append(("Settings", {"fields": [PREFIX + i["name"] for i in schema]}))
        return fieldsets

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        user = request.user
        if db_field.name == "function":
            kwargs["queryset"] = functions_connectable(user)
        elif db_field.name == "source":
            kwargs["queryset"] = self._in_function_workspace(request, permissions.sources_administered(user))
        elif db_field.name == "destination":
            kwargs["queryset"] = self._in_function_workspace(
                request,
                permissions.instances_visible(user).filter(
                    function__resource_type=ResourceType.DESTINATION,
                    source__in=permissions.sources_administered(user),
                ),
                "function__workspace",
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def _in_function_workspace(self, request, queryset, field="workspace"):
        # A user in two workspaces is offered only the chosen function's workspace's objects.
        function = self._function_for(request, None)
        return queryset.filter(**{field: function.workspace_id}) if function is not None else queryset

    @admin.display(description="Running version")
    def running_version(self, obj):
        return admin_deploys.running_version_label(obj)

    @admin.display(description="Webhook URL")
    def webhook(self, obj):
        url = obj.source.webhook_url if obj.source_id else None
        if not url or obj.function.resource_type != ResourceType.SOURCE:
            return "-"
        return format_html(
            '<div class="fn-copy"><code id="fn-webhook-url">{}</code>'
            '<button type="button" class="fn-copy-btn" data-copy="#fn-webhook-url">Copy</button></div>',
            url,
        )

    @admin.display(description="Webhook URL")
    def webhook_hidden(self, obj):
        if obj.function.resource_type != ResourceType.SOURCE:
            return "-"
        return "hidden (Source Admin only)"

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context.update(instance_tabs_context(obj, request.GET.get("range")))
            context.update(admin_deploys.instance_deploys_context(request, obj))
            if obj.function.resource_type == ResourceType.SOURCE:
                context.update(debugger_views.traffic_context(obj.source))
            context.update(canary_admin.instance_canary_context(request, obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def response_add(self, request, obj, post_url_continue=None):
        # Stay on the new instance: it shows the webhook URL (source functions) and the tabs.
        if "_addanother" not in request.POST and "_popup" not in request.POST:
            request.POST = request.POST.copy()
            request.POST["_continue"] = "1"
        return super().response_add(request, obj, post_url_continue)

    @admin.display(description="Settings")
    def masked_settings(self, obj):
        rows = settings_rows(instance_schema(obj), *instance_settings_shown(obj))
        return render_to_string("admin/runtime/functioninstance/settings_table.html", {"rows": rows})

    def save_model(self, request, obj, form, change):
        values = form.cleaned_data.get("settings_values", {})
        if change:
            instance_update(
                instance=obj,
                actor=request.user,
                name=obj.name,
                enabled=obj.enabled,
                settings=values if form.schema else None,
            )
            return
        if not connect_allowed(request.user, {"function": obj.function, **form.cleaned_data}):
            raise PermissionDenied  # the form refuses first; this guards any other caller
        created = instance_create(
            function=obj.function,
            name=obj.name,
            source=form.cleaned_data.get("source"),
            destination=form.cleaned_data.get("destination"),
            settings=values,
            enabled=obj.enabled,
            created_by=request.user,
        )
        obj.pk, obj.source, obj._state.adding = created.pk, created.source, False

    def delete_model(self, request, obj):
        instance_delete(instance=obj, actor=request.user)


class DeploymentWorkspaceFilter(WorkspaceFilter):
    lookup = "instance__function__workspace"


@admin.register(Deployment)
class DeploymentAdmin(ScopedAdmin):
    """Deployment status per instance (read-only: rows are written by the deploy services)."""

    list_display = [
        "instance",
        "function",
        "version_label",
        "status",
        "short_error",
        "requested_by",
        "created_at",
        "finished_at",
    ]
    list_filter = [DeploymentWorkspaceFilter, "status"]
    search_fields = [
        "instance__name",
        "instance__public_id",
        "version__public_id",
        "instance__function__display_name",
    ]
    list_select_related = ["instance__function", "version", "requested_by"]
    readonly_fields = [
        "instance",
        "function",
        "version_label",
        "status",
        "error",
        "requested_by",
        "created_at",
        "started_at",
        "finished_at",
    ]
    fields = readonly_fields

    def visible(self, request):
        return Deployment.objects.filter(
            instance__in=permissions.instances_visible(request.user)
        ).select_related("instance__function", "version", "requested_by")

    @admin.display(description="Function", ordering="instance__function__display_name")
    def function(self, obj):
        return obj.instance.function

    @admin.display(description="Version", ordering="version__number")
    def version_label(self, obj):
        return f"v{obj.version.number} ({obj.version.public_id})"

    @admin.display(description="Error")
    def short_error(self, obj):
        return (obj.error[:80] + "…") if len(obj.error) > 80 else obj.error

    def can_change(self, request, obj):
        return False

    def has_add_permission(self, request):
        return False


@admin.register(ErrorLog)
class ErrorLogAdmin(ScopedAdmin):
    list_display = ["created_at", "instance", "category", "error_type", "message"]
    list_filter = ["category"]

    def visible(self, request):
        return ErrorLog.objects.filter(
            instance__in=permissions.instances_visible(request.user)
        ).select_related("instance")

    def can_change(self, request, obj):
        return False

    def has_add_permission(self, request):
        return False


@admin.register(IngestDrop)
class IngestDropAdmin(ScopedAdmin):
    """Tracking API messages dropped at ingest, with Segment's code and the reason."""

    list_display = ["created_at", "source", "code", "message"]
    # No source filter: it would list every source's name; the source page links here with
    # ?source__id__exact=<id> instead, over the visible rows only.
    list_filter = ["code"]
    readonly_fields = ["created_at", "source", "code", "message", "event_display"]
    fields = readonly_fields

    def visible(self, request):
        return IngestDrop.objects.filter(source__in=permissions.sources_visible(request.user)).select_related(
            "source"
        )

    def lookup_allowed(self, lookup, value, request=None):
        return lookup == "source__id__exact" or super().lookup_allowed(lookup, value, request)

    def can_change(self, request, obj):
        return False

    def has_add_permission(self, request):
        return False

    @admin.display(description="Message as sent")
    def event_display(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.event, indent=2, sort_keys=True))
