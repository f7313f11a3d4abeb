from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Max
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html

from runtime.canary.admin import canary_options
from runtime.canary.services import function_save_and_canary
from runtime.replay.admin import replay_panel_config
from runtime.selectors import behind_latest_count, deploy_targets
from runtime.services import function_save_and_deploy, instances_for_deploy
from workspaces import permissions
from workspaces.admin_mixins import ScopedAdmin, WorkspaceFilter

from . import admin_deploy, admin_testcases, admin_views
from .admin_forms import READONLY_CODE_WIDGET, FunctionForm, SettingDefinitionForm, SettingDefinitionFormSet
from .choices import ResourceType
from .models import FUNCTION_EDITABLE_FIELDS, Function, SettingDefinition
from .services import function_create, function_delete, function_save
from .starters import starter_code
from .validation import setting_name_from_label


class SettingDefinitionInline(admin.TabularInline):
    model = SettingDefinition
    form = SettingDefinitionForm
    formset = SettingDefinitionFormSet
    extra = 0
    fields = ["label", "generated_name", "type", "description", "required", "sensitive"]
    readonly_fields = ["generated_name"]
    verbose_name = "setting"

    @admin.display(description="Name (settings.…)")
    def generated_name(self, obj):
        return obj.name or setting_name_from_label(obj.label or "")

    def has_add_permission(self, request, obj=None):
        return obj is None or permissions.can_admin_function(request.user, obj)

    def has_change_permission(self, request, obj=None):
        return obj is None or permissions.can_admin_function(request.user, obj)

    def has_delete_permission(self, request, obj=None):
        return obj is None or permissions.can_admin_function(request.user, obj)

    def has_view_permission(self, request, obj=None):
        return True


@admin.register(Function)
class FunctionAdmin(ScopedAdmin):
    """The workspace's Functions catalog and the function editor (code, settings, test, deploy)."""

    delete_cascades_protected = True  # function_delete removes the instances first

    form = FunctionForm
    change_form_template = "admin/catalog/function/change_form.html"
    change_list_template = "admin/catalog/function/change_list.html"
    list_display = [
        "logo",
        "display_name",
        "resource_type",
        "short_description",
        "workspace",
        "version_count",
        "instance_count",
        "last_deploy",
    ]
    list_display_links = ["display_name"]
    list_filter = [WorkspaceFilter, "resource_type"]
    search_fields = ["display_name", "description", "public_id"]
    inlines = [SettingDefinitionInline]
    readonly_fields = ["public_id", "connect_link", "code_view", "history_link"]

    def get_urls(self):
        wrap = self.admin_site.admin_view
        site = {"admin_site": self.admin_site}
        return [
            path("new/", wrap(admin_views.type_choose), site, name="catalog_function_new"),
            path("test/", wrap(admin_views.test_run), name="catalog_function_test"),
            path(
                "<int:object_id>/captures/latest/",
                wrap(admin_views.capture_latest),
                name="catalog_function_capture",
            ),
            path(
                "<int:object_id>/samples/",
                wrap(admin_views.source_samples),
                name="catalog_function_samples",
            ),
            path(
                "<int:object_id>/versions/",
                wrap(admin_views.versions),
                site,
                name="catalog_function_versions",
            ),
            path(
                "<int:object_id>/versions/<str:version_id>/restore/",
                wrap(admin_views.version_restore),
                name="catalog_function_restore",
            ),
            path(
                "<int:object_id>/deployments/",
                wrap(admin_views.deployments),
                name="catalog_function_deployments",
            ),
            *admin_testcases.urls(wrap),
            path(
                "<int:object_id>/deploy-diff/",
                wrap(admin_deploy.deploy_diff),
                name="catalog_function_deploy_diff",
            ),
            *super().get_urls(),
        ]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"request": request})

    def visible(self, request):
        return (
            permissions.functions_visible(request.user)
            .select_related("workspace")
            .annotate(
                _versions=Count("versions", distinct=True),
                _instances=Count("instances", distinct=True),
                _behind=behind_latest_count(),
                _last_deploy=Max("instances__deployed_at"),
            )
        )

    def can_view(self, request, obj):
        return permissions.can_view_function(request.user, obj)

    def can_change(self, request, obj):
        return permissions.can_admin_function(request.user, obj)

    def can_delete(self, request, obj):
        return permissions.can_delete_function(request.user, obj)

    def can_delete_some(self, request):
        return permissions.functions_administered(request.user).exists()

    def can_add(self, request):
        return permissions.workspaces_for_function_create(request.user).exists()

    def get_fields(self, request, obj=None):
        editable_fields = list(FUNCTION_EDITABLE_FIELDS)
        if obj is None:
            return ["resource_type", "workspace", *editable_fields]
        editable = self.can_change(request, obj)
        if not editable:
            editable_fields[editable_fields.index("code")] = "code_view"
        fields = ["public_id", "workspace", "resource_type", *editable_fields, "history_link"]
        return [*fields, "connect_link"] if editable else fields

    def get_fieldsets(self, request, obj=None):
        fields = self.get_fields(request, obj)
        code = [f for f in fields if f in ("code", "code_view")]
        build = ["resource_type", *code] if obj is None else code
        rest = [f for f in fields if f not in build]
        return [
            ("Code", {"fields": build, "classes": ["fn-build"]}),
            ("Configure", {"fields": rest, "classes": ["fn-configure"]}),
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        readonly = ["public_id", "workspace", "resource_type", "connect_link", "history_link", "code_view"]
        if not self.can_change(request, obj):
            readonly += [name for name in FUNCTION_EDITABLE_FIELDS if name != "code"]
        return readonly

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "workspace":
            kwargs["queryset"] = permissions.workspaces_for_function_create(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="")
    def logo(self, obj):
        # Only web URLs become an image: a stored value is never trusted to be one.
        if not obj.logo_url.lower().startswith(("https://", "http://")):
            return format_html('<span class="fn-logo fn-logo-empty">{}</span>', obj.display_name[:1].upper())
        return format_html('<img class="fn-logo" src="{}" alt="" width="24" height="24">', obj.logo_url)

    @admin.display(description="Description")
    def short_description(self, obj):
        return obj.description if len(obj.description) <= 80 else obj.description[:79] + "…"

    @admin.display(description="Versions", ordering="_versions")
    def version_count(self, obj):
        return obj._versions

    @admin.display(description="Instances", ordering="_instances")
    def instance_count(self, obj):
        if not obj._behind:
            return obj._instances
        # Instances still on an older version: the list link shows which.
        url = (
            reverse("admin:runtime_functioninstance_changelist") + f"?function__id__exact={obj.pk}&behind=yes"
        )
        return format_html(
            '{} <a href="{}" class="fn-badge fn-badge-behind" title="Instances not running LATEST">{} behind latest</a>',
            obj._instances,
            url,
            obj._behind,
        )

    @admin.display(description="Last deploy", ordering="_last_deploy")
    def last_deploy(self, obj):
        return obj._last_deploy or "-"

    @admin.display(description="Code")
    def code_view(self, obj):
        rendered = READONLY_CODE_WIDGET.render("code_readonly", obj.code, attrs={"id": "id_code_readonly"})
        return format_html('<div class="fn-code-readonly">{}</div>', rendered)

    @property
    def media(self):
        return super().media + READONLY_CODE_WIDGET.media + admin_testcases.EDITOR_MEDIA

    @admin.display(description="Version history")
    def history_link(self, obj):
        url = reverse("admin:catalog_function_versions", args=[obj.pk])
        return format_html(
            '<a href="{}" id="fn-history-link">Version history ({} versions)</a>', url, obj.versions.count()
        )

    @admin.display(description="Instances")
    def connect_link(self, obj):
        url = reverse("admin:runtime_functioninstance_add") + f"?function={obj.pk}"
        listing = reverse("admin:runtime_functioninstance_changelist") + f"?function__id__exact={obj.pk}"
        label = "Connect Source" if obj.resource_type == ResourceType.SOURCE else "Connect destination"
        if obj.resource_type in (ResourceType.INSERT_DESTINATION, ResourceType.INSERT_SOURCE):
            label = "Connect"
        return format_html(
            '<a href="{}" class="fn-connect">{}</a> · <a href="{}">Instances</a>', url, label, listing
        )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context.update(editor_context(request, obj, can_edit=add or (obj and self.can_change(request, obj))))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def response_change(self, request, obj):
        version = getattr(request, "_deployed_version", None)
        if version is None:
            return super().response_change(request, obj)
        self.message_user(request, f"Saved v{version.number} and deploying it.")
        url = reverse("admin:catalog_function_change", args=[obj.pk])
        return HttpResponseRedirect(f"{url}?deployed={version.public_id}")

    # Writes go through the services: one call per save, after the inlines are validated.
    def save_model(self, request, obj, form, change):
        pass

    def save_formset(self, request, form, formset, change):
        pass

    def save_related(self, request, form, formsets, change):
        for formset in formsets:  # the admin's change message reads these
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        schema = next((fs.schema() for fs in formsets if isinstance(fs, SettingDefinitionFormSet)), None)
        data = form.cleaned_data
        if change and "_deploy" in request.POST:
            self._save_and_deploy(request, form, data, schema)
            return
        edited = edited_fields(data)
        if change:
            function_save(function=form.instance, author=request.user, settings=schema, **edited)
            return
        if data.get("use_template") and not schema:
            schema = None  # the template's own settings
        created = function_create(
            workspace=data["workspace"],
            resource_type=data["resource_type"],
            settings=schema,
            created_by=request.user,
            **edited,
        )
        form.instance.pk, form.instance.public_id = created.pk, created.public_id
        form.instance._state.adding = False

    def delete_model(self, request, obj):
        function_delete(function=obj, actor=request.user)

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        kind = request.GET.get("resource_type")
        if kind in ResourceType.values:
            initial["code"] = starter_code(kind)
        return initial

    def _save_and_deploy(self, request, form, data, schema):
        function = form.instance
        # Checked before anything is written; the change view's transaction covers the rest.
        chosen = (
            None
            if request.POST.get("deploy_target", "all") == "all"
            else request.POST.getlist("deploy_instances")
        )
        instances = instances_for_deploy(function=function, instance_ids=chosen)  # checked by the form
        if not permissions.can_deploy(request.user, function, instances):
            raise PermissionDenied
        if request.POST.get("deploy_mode") == "canary":
            self._save_and_canary(request, form, instances, data, schema)
            return
        result = function_save_and_deploy(
            function=function,
            author=request.user,
            instance_ids=[i.public_id for i in instances],
            settings=schema,
            **edited_fields(data),
        )
        request._deployed_version = result.version
        admin_testcases.override_record(
            request, function, result.version, getattr(form, "tests_overridden", [])
        )

    def _save_and_canary(self, request, form, instances, data, schema):
        function = form.instance
        fields = {"settings": schema, **edited_fields(data)}
        try:
            version, canaries = function_save_and_canary(
                function=function,
                author=request.user,
                instance_ids=[i.public_id for i in instances],
                **canary_options(request.POST),
                **fields,
            )
        except ValidationError as exc:
            version = function_save(function=function, author=request.user, **fields)
            messages.error(request, f"Saved v{version.number}; no canary started: {'; '.join(exc.messages)}")
            return
        overridden = getattr(form, "tests_overridden", [])
        admin_testcases.override_record(request, function, version, overridden, mode="canary")
        messages.success(request, f"Saved v{version.number}: canary on {len(canaries)} instance(s).")


def edited_fields(data: dict) -> dict:
    """The editable fields of a cleaned function form, as the catalog services take them."""
    return {name: data[name] for name in FUNCTION_EDITABLE_FIELDS}


def editor_context(request, obj, *, can_edit: bool) -> dict:
    """What the editor's template and JS need: URLs, samples, templates and deploy targets."""
    config = {
        "testUrl": reverse("admin:catalog_function_test"),
        "function": obj.pk if obj else None,
        "resourceType": obj.resource_type if obj else request.GET.get("resource_type", ""),
        "samples": admin_views.sample_events(),
        "templates": {} if obj else {value: starter_code(value) for value in ResourceType.values},
        "canRun": bool(can_edit),
    }
    if obj is not None:
        config.update(
            {
                "captureUrl": reverse("admin:catalog_function_capture", args=[obj.pk]),
                "deploymentsUrl": reverse("admin:catalog_function_deployments", args=[obj.pk]),
                "deployDiffUrl": reverse("admin:catalog_function_deploy_diff", args=[obj.pk]),
                "versionsUrl": reverse("admin:catalog_function_versions", args=[obj.pk]),
                "previewWebhookUrl": obj.preview_webhook_url if can_edit else "",
                "deployed": request.GET.get("deployed", ""),
                "testCasesUrl": reverse("admin:catalog_function_testcases", args=[obj.pk]),
            }
        )
        if can_edit and obj.resource_type != ResourceType.SOURCE:
            config["samplesUrl"] = reverse("admin:catalog_function_samples", args=[obj.pk])
            config["sampleSources"] = admin_views.sample_sources(request.user, obj)
    targets = deploy_targets(function=obj) if obj else []
    return {
        "fn_config": config,
        "fn_can_edit": bool(can_edit),
        "fn_deploy_targets": targets,
        "fn_function": obj,
        "fn_replay_config": replay_panel_config(request, obj) if obj and can_edit else None,
        **admin_testcases.deploy_context(request, obj),
    }
