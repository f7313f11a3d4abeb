"""Reads of dead letters: one instance's, narrowed by time range, error category and version."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.utils.dateparse import parse_datetime

from catalog.models import FunctionVersion

from ..choices import ErrorCategory
from ..models import DeadLetter, DeadLetterReplay

FILTER_NAMES = ("since", "until", "category", "versionId")


def dead_letters_for(*, instance, since=None, until=None, category: str = "", version=None):
    """The instance's dead letters, newest first, optionally within [since, until), of one
    error category and of one failed version."""
    queryset = DeadLetter.objects.filter(instance=instance).select_related("version")
    if since is not None:
        queryset = queryset.filter(created_at__gte=since)
    if until is not None:
        queryset = queryset.filter(created_at__lt=until)
    if category:
        queryset = queryset.filter(category=category)
    if version is not None:
        queryset = queryset.filter(version=version)
    return queryset.order_by("-created_at", "-id")


def dead_letter_filters_parse(*, instance, raw: dict) -> dict:
    """Filters from a query string or a request body (camelCase names) as selector arguments.

    Raises ValidationError naming the field for a bad time, an unknown category or a version
    that is not one of the instance's function's.
    """
    unknown = sorted(set(raw) - set(FILTER_NAMES))
    if unknown:
        raise ValidationError({unknown[0]: "Unknown filter."})
    out: dict = {}
    for name in ("since", "until"):
        if raw.get(name) not in (None, ""):
            out[name] = _moment(name, raw[name])
    category = raw.get("category") or ""
    if category and category not in ErrorCategory.values:
        raise ValidationError(
            {"category": f"Unknown error category; one of {', '.join(ErrorCategory.values)}."}
        )
    out["category"] = category
    if raw.get("versionId"):
        version = FunctionVersion.objects.filter(
            function=instance.function, public_id=str(raw["versionId"])
        ).first()
        if version is None:
            raise ValidationError({"versionId": "Not a version of this instance's function."})
        out["version"] = version
    if out.get("since") and out.get("until") and out["since"] >= out["until"]:
        raise ValidationError({"until": "Must be after since."})
    return out


def _moment(name: str, value) -> datetime:
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None or parsed.tzinfo is None:
        raise ValidationError({name: "An ISO 8601 date-time with a time zone, e.g. 2026-12-01T12:00:00Z."})
    return parsed


def filters_display(filters: dict) -> dict:
    """Selector arguments back as the camelCase, JSON-safe filters a replay records."""
    out = {}
    for name in ("since", "until"):
        if filters.get(name):
            out[name] = filters[name].isoformat()
    if filters.get("category"):
        out["category"] = filters["category"]
    if filters.get("version") is not None:
        out["versionId"] = filters["version"].public_id
    return out


def replays_for(*, instance):
    """The instance's bulk replays, newest first."""
    return DeadLetterReplay.objects.filter(instance=instance).select_related("version", "requested_by")
