"""What a deploy or a roll back does to canaries: it ends the instance's active ones and, after a
plain deploy, starts the watch that judges the new version. Below `services` (which deploys and
rolls back through runtime.services), so the deploy path can call it without a circle."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from catalog.choices import ResourceType
from catalog.models import FunctionVersion

from ..models import FunctionInstance
from .choices import CanaryKind, CanaryStatus
from .models import Canary


@dataclass(frozen=True)
class Rules:
    """The automatic rollback rule of one canary (defaults from CANARY_* settings)."""

    min_events: int
    error_points: float
    error_ratio: float
    latency_ratio: float


def default_rules() -> Rules:
    return Rules(
        min_events=settings.CANARY_MIN_EVENTS,
        error_points=settings.CANARY_ERROR_POINTS,
        error_ratio=settings.CANARY_ERROR_RATIO,
        latency_ratio=settings.CANARY_LATENCY_RATIO,
    )


def watches_start(*, function, version: FunctionVersion, instance_ids: list[int]) -> int:
    """The watch after a plain deploy of `version`: one row per destination instance it changes.

    Called in the deploy's transaction; a watch applies once its instance runs `version` and
    lasts CANARY_WATCH_S from the switch. Supersedes the instances' active canaries. Returns
    how many were started.
    """
    canaries_supersede(instance_ids=instance_ids, reason="Replaced by a deploy.")
    if function.resource_type != ResourceType.DESTINATION or not settings.CANARY_WATCH_S:
        return 0
    rows = list(
        FunctionInstance.objects.filter(pk__in=instance_ids, deployed_version__isnull=False)
        .exclude(deployed_version=version)
        .values_list("pk", "deployed_version_id")
    )
    rules = default_rules()
    Canary.objects.bulk_create(
        Canary(
            instance_id=pk,
            kind=CanaryKind.WATCH,
            version=version,
            base_version_id=base,
            percent=100,
            min_events=rules.min_events,
            error_points=rules.error_points,
            error_ratio=rules.error_ratio,
            latency_ratio=rules.latency_ratio,
        )
        for pk, base in rows
    )
    return len(rows)


def canaries_supersede(*, instance_ids, reason: str) -> int:
    """End the active canaries and watches of these instances (a later deploy or roll back)."""
    return Canary.objects.filter(instance_id__in=list(instance_ids), status=CanaryStatus.ACTIVE).update(
        status=CanaryStatus.SUPERSEDED, decided_at=timezone.now(), reason=reason
    )
