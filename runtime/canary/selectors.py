"""Reads of canaries: an instance's current one, its history, both arms side by side."""

from __future__ import annotations

from .choices import CanaryStatus
from .models import Canary
from .services import canary_figures


def canaries_of(*, instance):
    """The instance's canaries and watches, newest first."""
    return Canary.objects.filter(instance=instance).select_related(
        "version", "base_version", "requested_by", "decided_by"
    )


def canary_current(*, instance) -> Canary | None:
    """The ACTIVE canary or watch of the instance, else its latest one (or None)."""
    rows = canaries_of(instance=instance)
    return rows.filter(status=CanaryStatus.ACTIVE).first() or rows.first()


def canary_panel(*, instance) -> dict | None:
    """What the instance page and the API show: the canary, its rule and both arms' figures."""
    canary = canary_current(instance=instance)
    return canary_out(canary) if canary else None


def canary_out(canary: Canary) -> dict:
    figures = canary.figures if canary.status != CanaryStatus.ACTIVE and canary.figures else None
    return {
        "id": canary.pk,
        "kind": canary.kind,
        "status": canary.status,
        "percent": canary.percent,
        "versionId": canary.version.public_id,
        "versionNumber": canary.version.number,
        "baseVersionId": canary.base_version.public_id,
        "baseVersionNumber": canary.base_version.number,
        "endsAt": canary.ends_at,
        "maxEvents": canary.max_events,
        "rules": {
            "minEvents": canary.min_events,
            "errorPoints": canary.error_points,
            "errorRatio": canary.error_ratio,
            "latencyRatio": canary.latency_ratio,
        },
        "figures": figures or canary_figures(canary_id=canary.pk),
        "reason": canary.reason,
        "createdAt": canary.created_at,
        "decidedAt": canary.decided_at,
        "requestedBy": getattr(canary.requested_by, "username", None),
        "decidedBy": getattr(canary.decided_by, "username", None),
    }
