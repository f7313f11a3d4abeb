"""The instance form of the admin (settings fields built from the function's schema) and the
connect checks the add form asks (who may connect which function to which source)."""

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.html import escape

from catalog.choices import ResourceType, SettingType
from catalog.validation import instance_settings_validate
from workspaces import permissions

from .models import FunctionInstance
from .services import instance_settings_columns, instance_target_check

PREFIX = "setting__"


def help_text(*parts: str) -> str:
    """Help text for a field, escaped: Django renders help_text as HTML (`|safe`), and a
    setting's description is whatever its function's author wrote."""
    return escape(" ".join(part for part in parts if part).strip())


def setting_field(item: dict, *, has_secret: bool) -> forms.Field:
    """A form field for one setting of the schema; sensitive values are never rendered."""
    label, description = item["label"], item.get("description", "")
    kind = item["type"]
    if kind == SettingType.BOOLEAN:
        return forms.BooleanField(label=label, help_text=help_text(description), required=False)
    if item["sensitive"]:
        hint = "Encrypted. Leave empty to keep the stored value." if has_secret else "Encrypted."
        return forms.CharField(
            label=label,
            required=False,
            help_text=help_text(description, hint),
            widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        )
    if kind == SettingType.ARRAY:
        return forms.CharField(
            label=label,
            required=False,
            widget=forms.Textarea({"rows": 3}),
            help_text=help_text(description, "One value per line."),
        )
    if kind == SettingType.TEXT_MAP:
        return forms.CharField(
            label=label,
            required=False,
            widget=forms.Textarea({"rows": 3}),
            help_text=help_text(description, "One key=value per line."),
        )
    return forms.CharField(label=label, help_text=help_text(description), required=False)


def field_value(item: dict, raw):
    kind = item["type"]
    if kind == SettingType.BOOLEAN:
        return bool(raw)
    if raw in (None, ""):
        return None
    if kind == SettingType.ARRAY:
        return [line.strip() for line in raw.splitlines() if line.strip()]
    if kind == SettingType.TEXT_MAP:
        pairs = [line.split("=", 1) for line in raw.splitlines() if line.strip()]
        if any(len(p) != 2 for p in pairs):
            raise ValidationError("Write one key=value per line.")
        return {k.strip(): v.strip() for k, v in pairs}
    return raw


def initial_value(item: dict, value):
    if item["type"] == SettingType.ARRAY and isinstance(value, list):
        return "\n".join(value)
    if item["type"] == SettingType.TEXT_MAP and isinstance(value, dict):
        return "\n".join(f"{k}={v}" for k, v in value.items())
    return value


def settings_rows(schema: list[dict], plain: dict, masked: dict) -> list[dict]:
    """The read-only view of an instance's settings: one row per declared setting, in the
    schema's order, each value as a reader would write it (encrypted ones masked)."""
    rows = []
    for item in schema:
        name = item["name"]
        value = masked.get(name) if item["sensitive"] else plain.get(name)
        shown = "" if value is None else initial_value(item, value)
        if isinstance(shown, bool):
            shown = "true" if shown else "false"
        rows.append(
            {"label": item["label"], "name": name, "value": str(shown), "sensitive": item["sensitive"]}
        )
    return rows


class InstanceForm(forms.ModelForm):
    class Meta:
        model = FunctionInstance
        fields = ["function", "name", "source", "destination", "enabled"]

    def __init__(self, *args, schema=None, secrets=None, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.schema = schema or []
        self.user = user
        secrets = secrets or {}
        plain = instance_settings_columns(self.instance, self.schema)[0] if self.instance.pk else {}
        for item in self.schema:
            name = PREFIX + item["name"]
            self.fields[name] = setting_field(item, has_secret=item["name"] in secrets)
            if self.instance.pk and not item["sensitive"]:
                self.fields[name].initial = initial_value(item, plain.get(item["name"]))
            self.fields[name].label = f"{item['label']}{' *' if item['required'] else ''}"

    def setting_values(self) -> dict:
        values = {}
        for item in self.schema:
            raw = self.cleaned_data.get(PREFIX + item["name"])
            try:
                value = field_value(item, raw)
            except ValidationError as exc:
                self.add_error(PREFIX + item["name"], exc)
                continue
            if value is not None:
                values[item["name"]] = value
        return values

    def clean(self):
        data = super().clean()
        values = self.setting_values()
        # Both columns: a value whose setting changed sides may still sit in the other one.
        previous = self.instance.all_settings() if self.instance.pk else {}
        try:
            instance_settings_validate(schema=self.schema, values=values, previous_secrets=previous)
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                field = PREFIX + name if PREFIX + name in self.fields else None
                self.add_error(field, messages)
        data["settings_values"] = values
        if self.instance.pk is None and not connect_allowed(self.user, data):
            raise ValidationError(CONNECT_REFUSED, code="permission_denied")
        if self.instance.pk is None and data.get("function") is not None:
            self._check_target(data)
        return data

    def _check_target(self, data):
        # The service's own checks (same workspace, a destination without an insert), asked
        # before saving so that a forged or stale choice is a form error, not a failed save.
        try:
            instance_target_check(
                function=data["function"], source=data.get("source"), destination=data.get("destination")
            )
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                self.add_error(name if name in self.fields else None, messages)


CONNECT_REFUSED = (
    "You may not connect this function there: connecting needs Functions Admin on the function and "
    "Source Admin on the source (a source function creates its source: Source Admin on all sources)."
)


def connect_target(data: dict):
    """The source a new instance would receive events from (None: a source function makes its own)."""
    if data.get("destination") is not None:
        return data["destination"].source
    return data.get("source")


def connect_allowed(user, data: dict) -> bool:
    """The API's question (permissions.can_connect) for the add form's choices."""
    function = data.get("function")
    if function is None:
        return True  # the form already reports the missing function
    own_source = function.resource_type == ResourceType.SOURCE
    target = connect_target(data)
    if not own_source and target is None:
        return True  # the form or the service reports the missing source
    return permissions.can_connect(user, function, None if own_source else target)


def functions_connectable(user):
    """Functions the add form offers: administered, and connectable somewhere by this user."""
    with_sources = permissions.sources_administered(user).values("workspace")
    creates_sources = permissions.workspaces_for_source_create(user).values("pk")
    own_source = Q(resource_type=ResourceType.SOURCE)
    return permissions.functions_administered(user).filter(
        (own_source & Q(workspace__in=creates_sources)) | (~own_source & Q(workspace__in=with_sources))
    )
