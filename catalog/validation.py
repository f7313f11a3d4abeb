"""Validation of function code, settings schemas and instance setting values."""

from __future__ import annotations

import re

from django.conf import settings as django_settings
from django.core.exceptions import ValidationError

from runtime.sandbox.django import sandbox

from .choices import SANDBOX_KIND, SettingType

MASK = "••••••••"
NAME_RE = re.compile(r"^[A-Za-z0-9_$]{1,100}$")
SCHEMA_KEYS = {"name", "label", "description", "type", "required", "sensitive"}


def setting_name_from_label(label: str) -> str:
    """camelCase a label: "API Key" -> apiKey, "IAM Role ARN" -> iamRoleArn."""
    words = re.findall(r"[A-Za-z0-9]+", label)
    if not words:
        return ""
    first, *rest = words
    return first.lower() + "".join(word[:1].upper() + word[1:].lower() for word in rest)


def code_normalise(code: str) -> str:
    """Code as stored: `\n` line endings, whatever the browser or client sent (`\r\n`, `\r`),
    so that a one-line change diffs as one line."""
    return code.replace("\r\n", "\n").replace("\r", "\n")


def code_validate(*, code: str, resource_type: str) -> list[str]:
    """Check that code compiles as a sloppy-mode script and defines its type's handlers.

    Returns the handler names; raises ValidationError({"code": ...}) naming line and column.
    """
    if not code or not code.strip():
        raise ValidationError({"code": "Code is required."})
    hook_base = f"{django_settings.PUBLIC_BASE_URL}/hooks/"
    if hook_base in code:
        raise ValidationError(
            {
                "code": "Functions are unable to send data or events back to their originating "
                f"source ({hook_base}…)."
            }
        )
    result = sandbox().check(code, SANDBOX_KIND[resource_type])
    if not result.ok:
        raise ValidationError({"code": code_error_message(result.error)})
    return list(result.handlers)


def code_error_message(error: dict) -> str:
    where = ""
    if error.get("line"):
        where = f" (line {error['line']}, column {error.get('column') or 1})"
    return f"{error.get('type', 'Error')}: {error.get('message', '')}{where}"


def settings_schema_validate(definitions: list) -> list[dict]:
    """Normalise a settings schema (a list of setting dicts); names come from labels if absent."""
    if not isinstance(definitions, list):
        raise ValidationError({"settings": "Settings must be a list."})
    out, seen, errors = [], set(), []
    for index, raw in enumerate(definitions):
        try:
            item = _setting_definition(raw)
        except ValidationError as exc:
            errors.append(f"Setting {index + 1}: {'; '.join(exc.messages)}")
            continue
        if item["name"] in seen:
            errors.append(f"Setting {index + 1}: the name {item['name']!r} is already used.")
        seen.add(item["name"])
        out.append(item)
    if errors:
        raise ValidationError({"settings": errors})
    return out


def _setting_definition(raw) -> dict:
    if not isinstance(raw, dict):
        raise ValidationError("must be an object")
    unknown = set(raw) - SCHEMA_KEYS
    if unknown:
        raise ValidationError(f"unknown keys {sorted(unknown)}")
    label = raw.get("label")
    if not isinstance(label, str) or not label.strip():
        raise ValidationError("a label is required")
    name = raw.get("name") or setting_name_from_label(label)
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ValidationError(f"invalid name {name!r} (letters, digits, _ and $ only)")
    kind = raw.get("type", SettingType.STRING)
    if kind not in SettingType.values:
        raise ValidationError(f"type must be one of {', '.join(SettingType.values)}")
    for flag in ("required", "sensitive"):
        if not isinstance(raw.get(flag, False), bool):
            raise ValidationError(f"{flag} must be true or false")
    description = raw.get("description", "") or ""
    if not isinstance(description, str):
        raise ValidationError("description must be a string")
    return {
        "name": name,
        "label": label.strip(),
        "description": description,
        "type": kind,
        "required": raw.get("required", False),
        "sensitive": raw.get("sensitive", False),
    }


def instance_settings_validate(
    *, schema: list[dict], values, previous_secrets: dict | None = None
) -> tuple[dict, dict]:
    """Validate setting values against a schema; returns (plain values, sensitive values).

    Sensitive values are write-only: omitting one, or sending it back masked, keeps the stored
    value. Unknown names, wrong types and missing required values raise ValidationError keyed by
    setting name.
    """
    if not isinstance(values, dict):
        raise ValidationError({"settings": "Settings must be an object of name: value."})
    previous_secrets = previous_secrets or {}
    by_name = {item["name"]: item for item in schema}
    errors: dict[str, list[str]] = {}
    for name in values:
        if name not in by_name:
            errors[name] = [f"Unknown setting {name!r}."]
    plain, secret = {}, {}
    for name, item in by_name.items():
        value = values.get(name)
        if item["sensitive"] and (value is None or value == MASK) and name in previous_secrets:
            value = previous_secrets[name]
        if _is_empty(value):
            if item["required"]:
                errors[name] = ["This setting is required."]
            continue
        problem = _type_problem(item["type"], value)
        if problem:
            errors[name] = [problem]
            continue
        (secret if item["sensitive"] else plain)[name] = value
    if errors:
        raise ValidationError(errors)
    return plain, secret


def _is_empty(value) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _type_problem(kind: str, value) -> str | None:
    if kind == SettingType.STRING and not isinstance(value, str):
        return "Must be a string."
    if kind == SettingType.BOOLEAN and not isinstance(value, bool):
        return "Must be true or false."
    if kind == SettingType.ARRAY and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        return "Must be a list of strings."
    if kind == SettingType.TEXT_MAP and not (
        isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
    ):
        return "Must be an object of string values."
    return None
