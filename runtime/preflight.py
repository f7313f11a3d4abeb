"""Can a version run, and do an instance's settings fit it: what a deployment checks before it
switches an instance (memoised per process: versions are immutable, and a fan-out of a
thousand rows shares one version)."""

from __future__ import annotations

import hashlib

from django.core.exceptions import ValidationError

from catalog.choices import SANDBOX_KIND
from catalog.models import FunctionVersion
from catalog.validation import code_error_message, instance_settings_validate

from .models import FunctionInstance
from .sandbox.django import sandbox

_PREFLIGHT_CACHE: dict[tuple[str, str], str] = {}
_PREFLIGHT_BY_VERSION: dict[int, tuple[str, list[dict]]] = {}
_PREFLIGHT_CACHE_MAX = 512


def preflight_error_for(version_id: int) -> str:
    """preflight_error of a version given by id; memoised per process (versions are immutable)."""
    return _version_facts(version_id)[0]


def version_schema(version_id: int) -> list[dict]:
    """The settings schema of a version given by id (memoised with its pre-flight verdict)."""
    return _version_facts(version_id)[1]


def _version_facts(version_id: int) -> tuple[str, list[dict]]:
    # (pre-flight error, settings schema) of a version, loaded once per process.
    if version_id not in _PREFLIGHT_BY_VERSION:
        if len(_PREFLIGHT_BY_VERSION) >= _PREFLIGHT_CACHE_MAX:
            _PREFLIGHT_BY_VERSION.clear()
        version = FunctionVersion.objects.select_related("function").get(pk=version_id)
        _PREFLIGHT_BY_VERSION[version_id] = (preflight_error(version), version.settings_schema)
    return _PREFLIGHT_BY_VERSION[version_id]


def settings_error_for(instance_id: int, version_id: int) -> str:
    """Why the instance's setting values do not fit the version's schema ("" when they do).

    A setting the new version no longer declares is ignored; a newly required one that the
    instance lacks, or one whose type changed, keeps the instance on its current version.
    """
    schema = _version_facts(version_id)[1]
    if not schema:
        return ""
    instance = FunctionInstance.objects.only("settings", "encrypted_settings").get(pk=instance_id)
    declared = {item["name"] for item in schema}
    values = {name: value for name, value in instance.all_settings().items() if name in declared}
    try:
        instance_settings_validate(schema=schema, values=values)
    except ValidationError as exc:
        problems = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in exc.message_dict.items())
        return f"Invalid settings for this version: {problems}"
    return ""


def preflight_error(version: FunctionVersion) -> str:
    """Why `version` cannot run ("" when it compiles and defines its handlers).

    Memoised per process by code hash: a fan-out of a thousand rows shares one version, and
    the same code always gives the same answer.
    """
    kind = SANDBOX_KIND[version.function.resource_type]
    key = (hashlib.sha256(version.code.encode()).hexdigest(), kind)
    if key not in _PREFLIGHT_CACHE:
        if len(_PREFLIGHT_CACHE) >= _PREFLIGHT_CACHE_MAX:
            _PREFLIGHT_CACHE.clear()
        _PREFLIGHT_CACHE[key] = _preflight_run(version.code, kind)
    return _PREFLIGHT_CACHE[key]


def _preflight_run(code: str, kind: str) -> str:
    # SandboxUnavailable propagates: an infrastructure problem is retried, never memoised as
    # the version's verdict.
    result = sandbox().check(code, kind)
    if result.ok:
        return ""
    return f"Pre-flight failed: {code_error_message(result.error or {})}"
