from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html
from django_ace import AceWidget

from workspaces import permissions
from workspaces.admin_mixins import ScopedAdmin, WorkspaceFilter

from .choices import ResourceType
from .models import Function, FunctionVersion, SettingDefinition
from .services import function_create, function_delete, function_save
from .templates import template_code
from .validation import code_validate, setting_name_from_label, settings_schema_validate

CODE_WIDGET = AceWidget(
    mode="javascript", theme="chrome", width="100%", height="520px", tabsize=2,
    showprintmargin=False,
)


class FunctionForm(forms.ModelForm):
    logo_url = forms.URLField(required=False, assume_scheme="https", max_length=500)
    code = forms.CharField(widget=CODE_WIDGET, required=False,
                           help_text="Leave empty on creation to start from the type's template.")

    class Meta:
        model = Function
        fields = ["workspace", "resource_type", "display_name", "description", "logo_url", "code",
                  "batch_max_count", "timeout_ms"]

    def clean(self):
        data = super().clean()
        resource_type = data.get("resource_type") or getattr(self.instance, "resource_type", None)
        code = data.get("code")
        if not code and self.instance.pk is None and resource_type:
            data["code"] = code = template_code(resource_type)
            data["use_template"] = True
        if not code:
            self.add_error("code", "Code is required.")
        elif resource_type:
            try:
                code_validate(code=code, resource_type=resource_type)
            except ValidationError as exc:
                self.add_error("code", exc.message_dict.get("code", exc.messages))
        self._check_unique_name(data)
        return data

    def _check_unique_name(self, data):
        workspace = data.get("workspace") or getattr(self.instance, "workspace", None)
        name = (data.get("display_name") or "").strip()
        if workspace is None or not name:
            return
        clash = Function.objects.filter(workspace=workspace, display_name=name)
        if clash.exclude(pk=self.instance.pk).exists():
            self.add_error("display_name", f"A function named {name!r} already exists in this workspace.")

    def validate_unique(self):
        pass  # done in clean() with a clearer message


class SettingDefinitionForm(forms.ModelForm):
    class Meta:
        model = SettingDefinition
        fields = ["label", "type", "description", "required", "sensitive"]
        widgets = {"description": forms.TextInput(attrs={"size": 40})}


class SettingDefinitionFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        rows = [f.cleaned_data for f in self.forms
                if f.cleaned_data and not f.cleaned_data.get("DELETE")]
        try:
            settings_schema_validate([
                {k: row.get(k) for k in ("label", "type", "description", "required", "sensitive")}
                for row in rows
            ])
        except ValidationError as exc:
            raise ValidationError(exc.message_dict.get("settings", exc.messages)) from exc

    def validate_unique(self):
        pass  # names are derived from labels; settings_schema_validate reports clashes

    def schema(self) -> list[dict]:
        return [
            {k: f.cleaned_data.get(k) for k in ("label", "type", "description", "required", "sensitive")}
            for f in self.forms
            if f.cleaned_data and not f.cleaned_data.get("DELETE")
        ]


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


class FunctionVersionInline(admin.TabularInline):
    model = FunctionVersion
    extra = 0
    fields = ["number", "public_id", "author", "created_at"]
    readonly_fields = fields
    can_delete = False
    ordering = ["-number"]
    verbose_name_plural = "version history"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return True


@admin.register(Function)
class FunctionAdmin(ScopedAdmin):
    form = FunctionForm
    list_display = ["display_name", "resource_type", "workspace", "version_count",
                    "instance_count", "updated_at"]
    list_filter = [WorkspaceFilter, "resource_type"]
    search_fields = ["display_name", "description", "public_id"]
    inlines = [SettingDefinitionInline, FunctionVersionInline]
    readonly_fields = ["public_id", "connect_link"]

    def visible(self, request):
        return (
            permissions.functions_visible(request.user)
            .select_related("workspace")
            .annotate(_versions=Count("versions", distinct=True),
                      _instances=Count("instances", distinct=True))
        )

    def can_view(self, request, obj):
        return permissions.can_view_function(request.user, obj)

    def can_change(self, request, obj):
        return permissions.can_admin_function(request.user, obj)

    def can_add(self, request):
        return permissions.workspaces_for_function_create(request.user).exists()

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["workspace", "resource_type", "display_name", "description", "logo_url",
                    "code", "batch_max_count", "timeout_ms"]
        return ["public_id", "workspace", "resource_type", "display_name", "description",
                "logo_url", "code", "batch_max_count", "timeout_ms", "connect_link"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        readonly = ["public_id", "workspace", "resource_type", "connect_link"]
        if not self.can_change(request, obj):
            readonly += ["display_name", "description", "logo_url", "code", "batch_max_count",
                         "timeout_ms"]
        return readonly

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "workspace":
            kwargs["queryset"] = permissions.workspaces_for_function_create(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="Versions", ordering="_versions")
    def version_count(self, obj):
        return obj._versions

    @admin.display(description="Instances", ordering="_instances")
    def instance_count(self, obj):
        return obj._instances

    @admin.display(description="Instances")
    def connect_link(self, obj):
        url = reverse("admin:runtime_functioninstance_add") + f"?function={obj.pk}"
        listing = reverse("admin:runtime_functioninstance_changelist") + f"?function__id__exact={obj.pk}"
        return format_html('<a href="{}">Connect</a> · <a href="{}">Instances</a>', url, listing)

    # Writes go through the services: one call per save, after the inlines are validated.
    def save_model(self, request, obj, form, change):
        pass

    def save_formset(self, request, form, formset, change):
        pass

    def save_related(self, request, form, formsets, change):
        for formset in formsets:  # the admin's change message reads these
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        schema = next(
            (fs.schema() for fs in formsets if isinstance(fs, SettingDefinitionFormSet)), None
        )
        data = form.cleaned_data
        if change:
            function_save(
                function=form.instance, author=request.user, code=data["code"], settings=schema,
                display_name=data["display_name"], description=data["description"],
                logo_url=data["logo_url"], batch_max_count=data["batch_max_count"],
            )
            return
        if data.get("use_template") and not schema:
            schema = None  # the template's own settings
        created = function_create(
            workspace=data["workspace"], resource_type=data["resource_type"],
            display_name=data["display_name"], description=data["description"],
            logo_url=data["logo_url"], code=data["code"], settings=schema,
            batch_max_count=data["batch_max_count"], created_by=request.user,
        )
        form.instance.pk, form.instance.public_id = created.pk, created.public_id
        form.instance._state.adding = False

    def delete_model(self, request, obj):
        function_delete(function=obj, actor=request.user)

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        kind = request.GET.get("resource_type")
        if kind in ResourceType.values:
            initial["code"] = template_code(kind)
        return initial
