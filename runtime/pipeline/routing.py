"""Routing: a source's events through its source insert functions to its destinations' queues."""

from __future__ import annotations

from .. import metrics
from ..choices import PipelineStage
from ..models import FunctionInstance
from . import dead_letters, lookups, outcomes, records
from .invoke import run_events
from .queue import enqueue, retry_later

__all__ = ["integrations_allow", "route"]


def integrations_allow(event: dict, instance: FunctionInstance) -> bool:
    """Segment's integrations object: a named entry (function or instance name) beats `All`."""
    integrations = event.get("integrations") or {}
    for name in (instance.name, instance.function.display_name):
        if name in integrations:
            return integrations[name] is not False
    return integrations.get("All", True) is not False


def route(*, source, events: list[dict], attempt: int = 0) -> None:
    """Source insert functions first, then each enabled destination's buffer."""
    received, events = len(events), _through_source_inserts(source, events, attempt)
    for destination in lookups.source_destinations(source):
        wanted = [e for e in events if integrations_allow(e, destination)]
        if wanted:
            enqueue(
                PipelineStage.DESTINATION, destination.pk, wanted, batch=destination.function.batch_max_count
            )
            metrics.stage_observe("route", sent=len(wanted))
    metrics.stage_observe("route", received=received, events=events)


def _through_source_inserts(source, events: list[dict], attempt: int) -> list[dict]:
    for insert in lookups.source_inserts(source):
        if not events:
            break
        kept, retry, counts, failures = [], [], dict.fromkeys(records.COUNTERS, 0), []
        for event, verdict in zip(events, run_events(insert, "insert_source", events), strict=True):
            if verdict.outcome == "ok":
                kept.append({**verdict.event, "messageId": event["messageId"]})
            elif verdict.outcome == "drop":
                counts["filtered"] += 1
            elif verdict.outcome == "retry":
                retry.append((event, verdict))
            else:
                counts[outcomes.counter_of(verdict.category)] += 1
                failures.append((event, verdict))
        counts["delivered"] = len(kept)
        records.stat_add(insert.pk, **counts)
        for event, verdict in failures[:5]:
            records.error_log_record(
                instance=insert,
                category=verdict.category,
                error=verdict.error,
                input=event,
                result=verdict.result,
                attempts=attempt + 1,
            )
        final = []
        for event, verdict in failures:
            dead_letters.keep_if_final(final, event, verdict)
        dead_letters.dead_letters_keep(
            instance=insert, pairs=final, attempts=attempt + 1, stage=PipelineStage.ROUTE
        )
        _source_insert_retry(source, insert, retry, attempt)
        events = kept
    return events


def _source_insert_retry(source, insert, pairs: list[tuple], attempt: int) -> None:
    """Events a source insert asked to retry re-enter routing later (source retry policy);
    once the policy is spent they are failed and dead-lettered on the insert."""
    if not pairs:
        return
    delay = outcomes.source_retry_delay(attempt + 1)
    if delay is None:
        records.stat_add(insert.pk, failed=len(pairs))
        dead_letters.dead_letters_keep(
            instance=insert, pairs=pairs, attempts=attempt + 1, stage=PipelineStage.ROUTE
        )
        return
    records.stat_add(insert.pk, retried=len(pairs))
    retry_later(
        PipelineStage.ROUTE, source.pk, {"items": [e for e, _ in pairs], "attempt": attempt + 1}, delay
    )
