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
import threading
import time

from django.conf import settings
from django.db import transaction

from ..choices import ErrorCategory
from ..pipeline import store
from ..pipeline.invoke import Verdict, run_events
from . import baseline
from .choices import CanaryArm, CanaryKind, CanaryStatus
from .models import Canary, CanaryArmStat

# Upper bounds (ms) of the function-latency histogram: finer than the delivery figures',
# because a handler's own time is usually a few milliseconds.
LATENCY_MS = (1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 150, 200, 300, 500, 700, 1000, 1500, 2000)
LATENCY_MS += (3000, 5000, 7000, 10000, 15000, 20000, 30000, 60000)
LAST_ERRORS_KEPT = 5

_cache: dict[int, tuple[float, Canary | None]] = {}
_lock = threading.Lock()


def bucket_of(message_id: str) -> int:
    """A stable number in 0..9999 for a messageId: the same event always lands in one arm."""
    digest = hashlib.sha256(str(message_id).encode()).digest()
    return int.from_bytes(digest[:4], "big") % 10000


def takes_new(canary: Canary, message_id: str) -> bool:
    """Whether the event with this messageId runs the canary's new version."""
    return bucket_of(message_id) < canary.percent * 100


def active_for(instance_id: int) -> Canary | None:
    """The instance's ACTIVE canary or watch (cached like the pipeline's other lookups)."""
    ttl = settings.PIPELINE_LOOKUP_CACHE_S
    if ttl <= 0 or not store.buffered():
        return _load(instance_id)
    now = time.monotonic()
    with _lock:
        hit = _cache.get(instance_id)
    if hit is not None and hit[0] > now:
        return hit[1]
    value = _load(instance_id)
    with _lock:
        if len(_cache) > 10_000:
            _cache.clear()
        _cache[instance_id] = (now + ttl, value)
    return value


def forget(instance_id: int) -> None:
    """Drop this process's cached canary of an instance (after a decision taken here)."""
    with _lock:
        _cache.pop(instance_id, None)


def _load(instance_id: int) -> Canary | None:
    return (
        Canary.objects.select_related("version", "base_version")
        .filter(instance_id=instance_id, status=CanaryStatus.ACTIVE)
        .first()
    )


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
    from .services import canary_evaluate

    for arm, verdicts in by_arm.items():
        if verdicts:
            arm_add(canary_id=trial.pk, arm=arm, verdicts=verdicts)
    canary_evaluate(canary_id=trial.pk)


def durations_ms(verdicts: list[Verdict]) -> list[float]:
    """Each event's share of its sandbox call (an onBatch call is shared by its events)."""
    shared: dict[int, int] = {}
    for verdict in verdicts:
        if verdict.result is not None:
            shared[id(verdict.result)] = shared.get(id(verdict.result), 0) + 1
    return [
        verdict.result.duration_ms / shared[id(verdict.result)]
        for verdict in verdicts
        if verdict.result is not None
    ]


def histogram_add(histogram: dict, values) -> dict:
    """A copy of `histogram` with each latency counted under its bucket's bound."""
    out = dict(histogram)
    for value in values:
        label = next((str(b) for b in LATENCY_MS if value <= b), "inf")
        out[label] = out.get(label, 0) + 1
    return out


def percentile(histogram: dict, fraction: float) -> float | None:
    """The bucket bound (ms) under which `fraction` of the counted calls fall."""
    total = sum(histogram.values())
    running = 0
    for bound in [*map(str, LATENCY_MS), "inf"]:
        running += histogram.get(bound, 0)
        if total and running >= fraction * total:
            return float(bound)
    return None


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
