"""Writes of canary deploys: start, promote, abort, the automatic decision, watches, the sweep.

None of these check permissions (the admin and the API ask `permissions.can_deploy` first);
every decision is audited. A decision is a conditional update of the ACTIVE row, so two
workers judging the same canary at the same moment decide once.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from catalog.choices import ResourceType
from catalog.models import FunctionVersion
from catalog.services import function_save
from workspaces.choices import AuditAction
from workspaces.services import audit_record

from ..models import DeliveryStat, FunctionInstance
from ..services import deployment_request, instance_rollback, instances_for_deploy
from . import active
from . import baseline as latency_baseline
from .choices import CanaryArm, CanaryKind, CanaryStatus
from .latency import percentile
from .models import Canary, CanaryArmStat
from .watches import Rules, canaries_supersede, default_rules

PERCENT_MIN, PERCENT_MAX = 1, 50


@transaction.atomic
def canary_start(
    *,
    instance: FunctionInstance,
    version: FunctionVersion,
    percent: int,
    requested_by,
    duration_s: int | None = None,
    max_events: int | None = None,
    rules: Rules | None = None,
) -> Canary:
    """Send `version` to `percent` % of the instance's events (by messageId) for a while.

    Ends after `duration_s` seconds or `max_events` events (whichever comes first; one of
    them is required): promoted when it passed the rule over enough events, else ended with
    the instance left on its current version. Replaces a running watch or canary.
    """
    instance = (
        FunctionInstance.objects.select_for_update().select_related("function__workspace").get(pk=instance.pk)
    )
    _start_check(instance, version, percent, duration_s, max_events)
    rules = rules or default_rules()
    canaries_supersede(instance_ids=[instance.pk], reason="Replaced by a later canary.")
    canary = Canary(
        instance=instance,
        kind=CanaryKind.CANARY,
        version=version,
        base_version_id=instance.deployed_version_id,
        percent=percent,
        ends_at=timezone.now() + timedelta(seconds=duration_s) if duration_s else None,
        max_events=max_events,
        min_events=rules.min_events,
        error_points=rules.error_points,
        error_ratio=rules.error_ratio,
        latency_ratio=rules.latency_ratio,
        requested_by=requested_by if getattr(requested_by, "pk", None) else None,
    )
    canary.full_clean()
    canary.save()
    _audit(
        canary, AuditAction.CANARY_STARTED, requested_by, {"percent": percent, "endsAt": _iso(canary.ends_at)}
    )
    active.forget(instance.pk)
    return canary


def _start_check(instance, version, percent, duration_s, max_events) -> None:
    if instance.function.resource_type != ResourceType.DESTINATION:
        raise ValidationError({"instance": "Canary deploys are for destination functions."})
    if version.function_id != instance.function_id:
        raise ValidationError({"versionId": "That version belongs to another function."})
    if instance.deployed_version_id is None or version.pk == instance.deployed_version_id:
        raise ValidationError({"versionId": "The instance already runs that version."})
    if not isinstance(percent, int) or not PERCENT_MIN <= percent <= PERCENT_MAX:
        raise ValidationError({"percent": f"Choose a percentage from {PERCENT_MIN} to {PERCENT_MAX}."})
    if not duration_s and not max_events:
        raise ValidationError({"durationSeconds": "Give a period or an event count for the canary."})
    if duration_s is not None and not 60 <= duration_s <= settings.CANARY_MAX_DURATION_S:
        raise ValidationError({"durationSeconds": f"From 60 to {settings.CANARY_MAX_DURATION_S} seconds."})
    if max_events is not None and not 50 <= max_events <= 10_000_000:
        raise ValidationError({"maxEvents": "From 50 to 10,000,000 events."})


def canary_promote(*, canary: Canary, decided_by) -> Canary:
    """Deploy the canary's version to its instance (the switch is a Deployment, as usual).

    Raises ValidationError when the canary is no longer active (or is a watch).
    """
    if canary.kind != CanaryKind.CANARY:
        raise ValidationError({"canary": "A watch has nothing to promote: its version is deployed."})
    decided = _decide(
        canary.pk, CanaryStatus.PROMOTED, decided_by, "Promoted.", action=AuditAction.CANARY_PROMOTED
    )
    return _decided_or_refuse(canary, decided)


def canary_abort(*, canary: Canary, decided_by, reason: str = "Aborted.") -> Canary:
    """Stop the canary: every event runs the current version again (a watch rolls back).

    Raises ValidationError when the canary is no longer active.
    """
    decided = _decide(canary.pk, CanaryStatus.ABORTED, decided_by, reason, action=AuditAction.CANARY_ABORTED)
    return _decided_or_refuse(canary, decided)


def _decided_or_refuse(canary: Canary, decided: Canary | None) -> Canary:
    if decided is None:
        canary.refresh_from_db()
        raise ValidationError({"canary": f"This canary is no longer active ({canary.get_status_display()})."})
    return decided


@transaction.atomic
def _decide(canary_id: int, status: str, actor, reason: str, *, action: str, figures=None) -> Canary | None:
    # None when another run decided first: the automatic path must never fail a delivery.
    now = timezone.now()
    changed = Canary.objects.filter(pk=canary_id, status=CanaryStatus.ACTIVE).update(
        status=status,
        decided_at=now,
        reason=reason[:2000],
        figures=figures if figures is not None else canary_figures(canary_id=canary_id),
        decided_by=actor if getattr(actor, "pk", None) else None,
    )
    if not changed:
        return None
    canary = Canary.objects.select_related("instance__function__workspace", "version").get(pk=canary_id)
    _carry_out(canary, status, actor)
    _audit(canary, action, actor, {"reason": canary.reason, "figures": canary.figures, "status": status})
    active.forget(canary.instance_id)
    return canary


def _carry_out(canary: Canary, status: str, actor) -> None:
    instance = canary.instance
    if canary.kind == CanaryKind.CANARY and status == CanaryStatus.PROMOTED:
        deployment_request(
            function=instance.function,
            version=canary.version,
            instances=[instance],
            requested_by=actor,
            watch=False,
        )
    elif canary.kind == CanaryKind.WATCH and status in (CanaryStatus.ABORTED, CanaryStatus.ROLLED_BACK):
        fresh = FunctionInstance.objects.get(pk=instance.pk)
        if fresh.deployed_version_id == canary.version_id and fresh.previous_version_id:
            instance_rollback(instance=fresh, requested_by=actor)


def canary_figures(*, canary_id: int) -> dict:
    """Both arms' events, errors, error rate (%) and p95 function latency (ms), plus the
    baseline a watch compares with."""
    arms = {row.arm: row for row in CanaryArmStat.objects.filter(canary_id=canary_id)}
    canary = Canary.objects.only("kind", "baseline").get(pk=canary_id)
    out = {arm: _arm_figures(arms.get(arm)) for arm in (CanaryArm.NEW, CanaryArm.BASE)}
    if canary.kind == CanaryKind.WATCH:
        out[CanaryArm.BASE] = canary.baseline or _arm_figures(None)
    return out


def _arm_figures(row: CanaryArmStat | None) -> dict:
    events = row.events if row else 0
    errors = row.errors if row else 0
    return {
        "events": events,
        "errors": errors,
        "errorRate": round(100.0 * errors / events, 2) if events else None,
        "p95Ms": percentile(row.latency, 0.95) if row else None,
        "lastErrors": row.last_errors if row else [],
    }


def verdict_of(figures: dict, rules: Rules) -> str:
    """Why the new version must be rolled back ("" when it need not, or not yet)."""
    new, base = figures[CanaryArm.NEW], figures[CanaryArm.BASE]
    if new["events"] < rules.min_events:
        return ""
    base_rate = base["errorRate"] or 0.0
    if new["errorRate"] > base_rate + rules.error_points and new["errorRate"] > base_rate * rules.error_ratio:
        return (
            f"Error rate {new['errorRate']:.1f} % over {new['events']} events against "
            f"{base_rate:.1f} % for the current version."
        )
    base_p95, new_p95 = base.get("p95Ms"), new["p95Ms"]
    if (
        base.get("latencyEvents", base.get("events", 0)) >= rules.min_events
        and base_p95
        and new_p95
        and new_p95 > base_p95 * rules.latency_ratio
    ):
        return f"p95 latency {new_p95:g} ms against {base_p95:g} ms for the current version."
    return ""


def canary_evaluate(*, canary_id: int) -> str:
    """Apply the automatic rule to an ACTIVE canary or watch; returns the decision taken ("")."""
    canary = (
        Canary.objects.select_related("instance").filter(pk=canary_id, status=CanaryStatus.ACTIVE).first()
    )
    if canary is None:
        return ""
    if canary.kind == CanaryKind.WATCH and canary.baseline is None:
        _baseline_keep(canary)
    figures = canary_figures(canary_id=canary_id)
    reason = verdict_of(figures, _rules_of(canary))
    if reason:
        _decide(
            canary_id,
            CanaryStatus.ROLLED_BACK,
            None,
            reason,
            action=AuditAction.CANARY_ROLLED_BACK,
            figures=figures,
        )
        return CanaryStatus.ROLLED_BACK
    return _end_if_due(canary, figures)


def _rules_of(canary: Canary) -> Rules:
    return Rules(canary.min_events, canary.error_points, canary.error_ratio, canary.latency_ratio)


def _end_if_due(canary: Canary, figures: dict) -> str:
    counted = figures[CanaryArm.NEW]["events"] + figures[CanaryArm.BASE].get("events", 0)
    now = timezone.now()
    ends_at = canary.ends_at
    if canary.kind == CanaryKind.WATCH:
        started = (
            canary.instance.deployed_at if canary.instance.deployed_version_id == canary.version_id else None
        )
        ends_at = started + timedelta(seconds=settings.CANARY_WATCH_S) if started else None
    due = (ends_at is not None and now >= ends_at) or (
        canary.kind == CanaryKind.CANARY and canary.max_events and counted >= canary.max_events
    )
    if not due:
        return ""
    if canary.kind == CanaryKind.CANARY and figures[CanaryArm.NEW]["events"] >= canary.min_events:
        reason = "Passed: promoted automatically at the end of the canary."
        _decide(
            canary.pk,
            CanaryStatus.PROMOTED,
            None,
            reason,
            action=AuditAction.CANARY_PROMOTED,
            figures=figures,
        )
        return CanaryStatus.PROMOTED
    reason = "Watch passed." if canary.kind == CanaryKind.WATCH else "Ended with too few events to judge."
    _decide(canary.pk, CanaryStatus.ENDED, None, reason, action=AuditAction.CANARY_ENDED, figures=figures)
    return CanaryStatus.ENDED


def _baseline_keep(canary: Canary) -> None:
    """A watch's old-version figures over the hour before the switch: its error rate from the
    instance's delivery counters, its p95 from the function latency kept per version
    (`baseline`; none below min_events calls)."""
    switched = canary.instance.deployed_at or canary.created_at
    totals = DeliveryStat.objects.filter(
        instance_id=canary.instance_id, bucket__gte=switched - timedelta(hours=1), bucket__lt=switched
    ).aggregate(*(Sum(n) for n in ("delivered", "retried", "failed", "filtered", "unsupported", "rejected")))
    counts = {key.split("__")[0]: value or 0 for key, value in totals.items()}
    events = sum(counts.values())
    errors = counts["retried"] + counts["failed"] + counts["rejected"]
    latency = latency_baseline.histogram_between(
        instance_id=canary.instance_id,
        version_id=canary.base_version_id,
        since=(switched - timedelta(hours=1)).timestamp(),
        until=switched.timestamp(),
    )
    measured = sum(latency.values())
    baseline = {
        "events": events,
        "errors": errors,
        "errorRate": round(100.0 * errors / events, 2) if events else None,
        "p95Ms": percentile(latency, 0.95) if measured >= canary.min_events else None,
        "latencyEvents": measured,
        "lastErrors": [],
    }
    Canary.objects.filter(pk=canary.pk).update(baseline=baseline)
    canary.baseline = baseline


def canaries_sweep() -> int:
    """Beat: end canaries and watches whose time is up though no event arrived; returns how many."""
    decided = 0
    for canary_id in Canary.objects.filter(status=CanaryStatus.ACTIVE).values_list("pk", flat=True)[:1000]:
        decided += bool(canary_evaluate(canary_id=canary_id))
    stale = timezone.now() - timedelta(seconds=settings.CANARY_WATCH_S + settings.DEPLOYMENT_STALE_AFTER_S)
    for canary in Canary.objects.filter(
        status=CanaryStatus.ACTIVE, kind=CanaryKind.WATCH, created_at__lt=stale
    ):
        if canary.instance.deployed_version_id != canary.version_id:
            _decide(
                canary.pk,
                CanaryStatus.ENDED,
                None,
                "The deploy did not switch the instance.",
                action=AuditAction.CANARY_ENDED,
            )
            decided += 1
    return decided


def _audit(canary: Canary, action: str, actor, data: dict) -> None:
    instance = canary.instance
    audit_record(
        workspace=instance.function.workspace,
        actor=actor,
        action=action,
        obj=instance,
        version_id=canary.version.public_id,
        data={"canary": canary.pk, "kind": canary.kind, **data},
    )


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def canary_options_check(*, percent, duration_s=None, max_events=None) -> None:
    """The checks of a canary's options alone (before anything is saved); ValidationError."""
    if not isinstance(percent, int) or not PERCENT_MIN <= percent <= PERCENT_MAX:
        raise ValidationError({"percent": f"Choose a percentage from {PERCENT_MIN} to {PERCENT_MAX}."})
    if not duration_s and not max_events:
        raise ValidationError({"durationSeconds": "Give a period or an event count for the canary."})


@transaction.atomic
def canaries_start(
    *, version: FunctionVersion, instances, percent: int, requested_by, duration_s=None, max_events=None
) -> list[Canary]:
    """A canary of `version` on each of `instances` (Save & Deploy's and the API deploy's
    canary option). ValidationError starts none."""
    canary_options_check(percent=percent, duration_s=duration_s, max_events=max_events)
    return [
        canary_start(
            instance=instance,
            version=version,
            percent=percent,
            duration_s=duration_s,
            max_events=max_events,
            requested_by=requested_by,
        )
        for instance in instances
    ]


@transaction.atomic
def function_save_and_canary(
    *, function, author, percent: int, instance_ids=None, duration_s=None, max_events=None, **save_fields
):
    """Save & Deploy as a canary: a new version, tried on `percent` % of each chosen instance's
    events (all instances by default). Returns (version, [Canary]). ValidationError saves nothing."""
    canary_options_check(percent=percent, duration_s=duration_s, max_events=max_events)
    instances = instances_for_deploy(function=function, instance_ids=instance_ids)
    version = function_save(function=function, author=author, **save_fields)
    canaries = canaries_start(
        version=version,
        instances=instances,
        percent=percent,
        duration_s=duration_s,
        max_events=max_events,
        requested_by=author,
    )
    return version, canaries
