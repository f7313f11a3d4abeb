"""Which version each event of a delivery runs while a canary or a watch is active.

Called by the pipeline's delivery instead of `invoke.run_events` for destination instances.
During a canary the events whose messageId hashes below the canary's percentage run the new
version, the rest the current one; an event the new version fails (an error or a retry) is
run again through the current version at once (CANARY_FALLBACK), so a bad canary costs no
event. During a watch (the 15 minutes after a plain deploy) every event runs the deployed
version as usual and is only counted. After each batch the arms' figures are added up and the
automatic rule is applied (`services.canary_evaluate`).
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import transaction

from ..choices import ErrorCategory
from ..pipeline.invoke import Verdict, run_events
from . import baseline
from .active import active_for
from .choices import CanaryArm, CanaryKind
from .latency import durations_ms, histogram_add
from .models import Canary, CanaryArmStat
from .services import canary_evaluate

LAST_ERRORS_KEPT = 5


def bucket_of(message_id: str) -> int:
    """A stable number in 0..9999 for a messageId: the same event always lands in one arm."""
    digest = hashlib.sha256(str(message_id).encode()).digest()
    return int.from_bytes(digest[:4], "big") % 10000


def takes_new(canary: Canary, message_id: str) -> bool:
    """Whether the event with this messageId runs the canary's new version."""
    return bucket_of(message_id) < canary.percent * 100


def is_error(verdict: Verdict) -> bool:
    """What the rollback rule counts as an error: a failure or a retry (not an unsupported type)."""
    if verdict.outcome == "retry":
        return True
    return verdict.outcome == "fail" and verdict.category != ErrorCategory.UNSUPPORTED_EVENT_TYPE


def canary_run(instance, kind: str, events: list[dict]) -> list[Verdict]:
    """Verdicts for `events` (input order), each run by the version its arm says."""
    trial = active_for(instance.pk) if events else None
    if trial is None:
        return _deployed_run(instance, kind, events)
    if trial.kind == CanaryKind.WATCH:
        verdicts = _deployed_run(instance, kind, events)
        if instance.deployed_version_id == trial.version_id:
            _after_batch(trial, {CanaryArm.NEW: verdicts})
        return verdicts
    if instance.deployed_version_id != trial.base_version_id:
        return run_events(instance, kind, events)
    return _split_run(trial, instance, kind, events)


def _deployed_run(instance, kind: str, events: list[dict]) -> list[Verdict]:
    # The deployed version's own latency is kept: the next deploy's watch compares with it.
    verdicts = run_events(instance, kind, events)
    baseline.note(
        instance_id=instance.pk,
        version_id=instance.deployed_version_id,
        histogram=histogram_add({}, durations_ms(verdicts)),
    )
    return verdicts


def _split_run(trial: Canary, instance, kind: str, events: list[dict]) -> list[Verdict]:
    new_idx = [i for i, e in enumerate(events) if takes_new(trial, e.get("messageId") or "")]
    chosen = set(new_idx)
    base_idx = [i for i in range(len(events)) if i not in chosen]
    verdicts: list[Verdict | None] = [None] * len(events)
    new_verdicts = run_events(instance, kind, [events[i] for i in new_idx], version=trial.version)
    again = []
    for index, verdict in zip(new_idx, new_verdicts, strict=True):
        if is_error(verdict) and settings.CANARY_FALLBACK:
            again.append(index)
        else:
            verdicts[index] = verdict
    rerun = base_idx + again
    base_verdicts = run_events(instance, kind, [events[i] for i in rerun])
    for index, verdict in zip(rerun, base_verdicts, strict=True):
        verdicts[index] = verdict
    _after_batch(trial, {CanaryArm.NEW: new_verdicts, CanaryArm.BASE: base_verdicts[: len(base_idx)]})
    return verdicts


def _after_batch(trial: Canary, by_arm: dict[str, list[Verdict]]) -> None:
    for arm, verdicts in by_arm.items():
        if verdicts:
            arm_add(canary_id=trial.pk, arm=arm, verdicts=verdicts)
    canary_evaluate(canary_id=trial.pk)


@transaction.atomic
def arm_add(*, canary_id: int, arm: str, verdicts: list[Verdict]) -> None:
    """Add one batch's verdicts to an arm's figures (one short locked transaction)."""
    CanaryArmStat.objects.get_or_create(canary_id=canary_id, arm=arm)
    row = CanaryArmStat.objects.select_for_update().get(canary_id=canary_id, arm=arm)
    errors = [v for v in verdicts if is_error(v)]
    row.events += len(verdicts)
    row.errors += len(errors)
    row.latency = histogram_add(row.latency, durations_ms(verdicts))
    if errors:
        row.last_errors = ([_error_of(v) for v in reversed(errors)] + row.last_errors)[:LAST_ERRORS_KEPT]
    row.save(update_fields=["events", "errors", "latency", "last_errors"])


def _error_of(verdict: Verdict) -> dict:
    error = verdict.error or {}
    return {"type": str(error.get("type", ""))[:100], "message": str(error.get("message", ""))[:300]}
