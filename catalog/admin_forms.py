"""The function editor's forms: the function (code in an Ace editor) and its settings rows.

Validation happens here, so errors render on the form: the code (catalog.validation), the name
clash, the deploy targets and, for Save & Deploy, the saved test cases (catalog.admin_testcases).
"""

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django_ace import AceWidget

from runtime.services import instances_for_deploy

from . import admin_testcases
from .models import FUNCTION_EDITABLE_FIELDS, Function, SettingDefinition
from .starters import starter_code
from .validation import code_validate, settings_schema_validate

SETTING_FIELDS = ("label", "type", "description", "required", "sensitive")

ACE_OPTIONS = {
    "mode": "javascript",
    "theme": "chrome",
    # Sized by editor.css, not style attributes, and Ace's CSS from files rather than injected
    # <style> elements: the Content-Security-Policy allows stylesheets only.
    "width": None,
    "height": None,
    "useStrictCSP": True,
    "tabsize": 2,
    "showprintmargin": False,
}
CODE_WIDGET = AceWidget(**ACE_OPTIONS)
# Read-only users get the same highlighting, without a way to change the text.
READONLY_CODE_WIDGET = AceWidget(**ACE_OPTIONS, readonly=True)


def _formfield(db_field, **kwargs):
    # The admin rebuilds this form without its declared logo_url for read-only users; the
    # rebuilt URLField needs the scheme too (Django 6 changes the default).
    if isinstance(db_field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return db_field.formfield(**kwargs)


class FunctionForm(forms.ModelForm):
    logo_url = forms.URLField(required=False, assume_scheme="https", max_length=500)
    # Not stripped: the code is stored as typed (line endings aside, catalog.services).
    code = forms.CharField(widget=CODE_WIDGET, required=False, strip=False)

    class Meta:
        formfield_callback = _formfield
        model = Function
        fields = ["workspace", "resource_type", *FUNCTION_EDITABLE_FIELDS]

    def clean(self):
        data = super().clean()
        resource_type = data.get("resource_type") or getattr(self.instance, "resource_type", None)
        code = data.get("code")
        if not code and self.instance.pk is None and resource_type:
            data["code"] = code = starter_code(resource_type)
            data["use_template"] = True
        if not code:
            self.add_error("code", "Code is required.")
        elif resource_type:
            try:
                code_validate(code=code, resource_type=resource_type)
            except ValidationError as exc:
                self.add_error("code", exc.message_dict.get("code", exc.messages))
        self._check_unique_name(data)
        self._check_deploy_targets()
        request = getattr(self, "request", None)  # set by FunctionAdmin.get_form
        if request is not None and "_deploy" in request.POST and self.instance.pk and not self.errors:
            # Save & Deploy runs the saved test cases first (an owner may override, audited).
            self.tests_overridden = admin_testcases.deploy_check(request, self.instance, data["code"])
        return data

    def deploy_choice(self):
        """The instances a Save & Deploy targets: None for all, else the posted ids."""
        if self.data.get("deploy_target", "all") == "all":
            return None
        return self.data.getlist("deploy_instances") if hasattr(self.data, "getlist") else []

    def _check_deploy_targets(self):
        # Instances of another function or workspace (or ids of nothing) are a form error here,
        # before anything is saved, not an exception after the new version is written.
        if "_deploy" not in self.data or self.instance.pk is None:
            return
        try:
            instances_for_deploy(function=self.instance, instance_ids=self.deploy_choice())
        except ValidationError as exc:
            self.add_error(None, exc.messages)

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
        fields = list(SETTING_FIELDS)
        widgets = {"description": forms.TextInput(attrs={"size": 40})}


class SettingDefinitionFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        rows = [f.cleaned_data for f in self.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
        try:
            settings_schema_validate([{k: row.get(k) for k in SETTING_FIELDS} for row in rows])
        except ValidationError as exc:
            raise ValidationError(exc.message_dict.get("settings", exc.messages)) from exc

    def validate_unique(self):
        pass  # names are derived from labels; settings_schema_validate reports clashes

    def schema(self) -> list[dict]:
        return [
            {k: f.cleaned_data.get(k) for k in SETTING_FIELDS}
            for f in self.forms
            if f.cleaned_data and not f.cleaned_data.get("DELETE")
        ]
