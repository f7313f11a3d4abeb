"""Where events enter: webhook requests run through source functions; tracking calls route."""

from __future__ import annotations

import functools
import logging

from django.conf import settings
from django.db import connection

from workspaces.choices import SourceKind
from workspaces.models import Source

from .. import ingest, metrics
from ..choices import ErrorCategory, PipelineStage
from ..debugger.recorder import source_runs_record
from ..models import FunctionInstance
from ..sandbox import SandboxRequest
from ..sandbox.django import sandbox
from . import lookups, outcomes, records
from .dead_letters import dead_letter_create
from .invoke import instance_key
from .queue import enqueue, retry_later
from .routing import route
from .samples import samples_record

log = logging.getLogger(__name__)


# Stands for the token while the webhook query is compiled (no token looks like it).
_TOKEN = "\x00webhook-token\x00"


@functools.cache
def _webhook_query(vendor: str) -> tuple[str, tuple]:
    # Compiled once per database kind, then run with the token put in: compiling the ORM's
    # query on every request cost more than the query on this hot path.
    query = (
        FunctionInstance.objects.running_sources()
        .filter(source__webhook_token=_TOKEN)
        .order_by("id")
        .values_list("id", flat=True)[:1]
        .query
    )
    sql, params = query.get_compiler(connection=connection).as_sql()
    return sql, tuple(params)


def webhook_instance_id(token: str) -> int | None:
    """The running source function instance behind a webhook token (its pk): what
    FunctionInstance.objects.running_sources() holds.

    Found instances are cached like the other lookups (PIPELINE_LOOKUP_CACHE_S): the query and
    the connection's health check were half of an accepted webhook's time.
    """
    return lookups.cached(("hook", token), lambda: _webhook_instance_load(token), misses=False)


def _webhook_instance_load(token: str) -> int | None:
    sql, params = _webhook_query(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, [token if p == _TOKEN else p for p in params])
        row = cursor.fetchone()
    return row[0] if row else None


def tracking_source(write_key: str) -> Source | None:
    """The Tracking API source of a write key (enabled or not: the caller tells them apart);
    cached like webhook_instance_id."""
    return lookups.cached(("wkey", write_key), lambda: _tracking_source_load(write_key), misses=False)


def _tracking_source_load(write_key: str) -> Source | None:
    table = Source._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, write_key, enabled FROM {table} WHERE write_key = %s AND kind = %s",
            [write_key, SourceKind.TRACKING_API],
        )
        row = cursor.fetchone()
    return Source(pk=row[0], write_key=row[1], enabled=row[2]) if row else None


def webhook_accept(*, instance_id: int, request_item: dict) -> None:
    """Queue one webhook request for the source function (raises QueueUnavailable)."""
    enqueue(PipelineStage.SOURCE, instance_id, [request_item], batch=settings.PIPELINE_SOURCE_BATCH)


def tracking_accept(*, source: Source, messages: list[dict]) -> None:
    """Queue validated Tracking API messages (raises QueueUnavailable).

    Without source insert functions there is nothing to run before routing, so the messages
    go straight to the destinations' buffers; otherwise they wait for a routing task. Once
    accepted, the newest messages become the source's test-pane samples (`samples`).
    """
    if lookups.source_inserts(source):
        enqueue(PipelineStage.ROUTE, source.pk, messages, batch=settings.PIPELINE_ROUTE_BATCH)
    else:
        route(source=source, events=messages)
    samples_record(source.pk, messages)


def messages_route(*, source_id: int, messages: list[dict], attempt: int = 0) -> None:
    """Route queued messages of a source; a source disabled meanwhile receives nothing more."""
    source = lookups.enabled_source(source_id)
    if source is not None and messages:
        route(source=source, events=messages, attempt=attempt)


def source_run(*, instance_id: int, requests: list[dict], attempt: int = 0) -> int:
    """Run webhook requests through the source function; route what it emits.

    Returns the number of events routed. RetryError and timeouts are retried with Segment's
    source policy; final failures and invalid emitted events go to the error log.
    """
    instance = lookups.source_function_instance(instance_id)
    if instance is None or not requests:
        return 0
    settings_values = instance.all_settings()
    results = sandbox().run_many(
        [
            SandboxRequest(
                code=instance.deployed_version.code,
                kind="source",
                payload=r["payload"],
                settings=settings_values,
                instance_key=instance_key(instance),
                timeout_ms=instance.function.timeout_ms,
            )
            for r in requests
        ]
    )
    events, retry, runs = [], [], []
    for request_item, result in zip(requests, results, strict=True):
        emitted = _emitted(instance, request_item, result, attempt) if result.status == "success" else []
        runs.append((request_item, result, emitted))
        if result.status == "success":
            events.extend(emitted)
        elif outcomes.is_retryable(result.error):
            retry.append((request_item, result))
        else:
            _source_failed(instance, request_item, result, attempt)
    metrics.sandbox_observe("source", results)
    metrics.stage_observe("source", received=len(requests), sent=len(events), events=events, request_ids=[r.get("request_id") for r in requests])  # fmt: skip
    if events:
        route(source=instance.source, events=events)
        samples_record(instance.source_id, events)
    _source_retry(instance, retry, attempt)
    source_runs_record(source_id=instance.source_id, runs=runs, attempt=attempt)
    return len(events)


def _emitted(instance, request_item: dict, result, attempt: int) -> list[dict]:
    good, rejected = ingest.emitted_events_prepare(
        result.events, write_key=instance.source.write_key, run_id=request_item["id"]
    )
    for rejection in rejected[:5]:
        message = f"failed calling Tracking API: {rejection['message']}"
        _source_error(
            instance,
            {**request_item, "event": rejection["event"]},
            ErrorCategory.MESSAGE_REJECTED,
            {"type": "ValidationError", "message": message, "stack": ""},
            result,
            attempt,
        )
    return good


def _source_error(instance, request_item: dict, category: str, error, result, attempt: int) -> None:
    records.error_log_record(
        instance=instance,
        category=category,
        error=error,
        result=result,
        attempts=attempt + 1,
        input={k: v for k, v in request_item.items() if k in ("payload", "event", "received_at")},
    )


def _source_failed(instance, request_item: dict, result, attempt: int) -> None:
    """A request the source function failed on for good: error log and dead letter."""
    category = outcomes.category_of(result.error)
    _source_error(instance, request_item, category, result.error, result, attempt)
    dead_letter_create(
        instance=instance,
        items=[request_item],
        error=result.error,
        category=category,
        attempts=attempt + 1,
        stage=PipelineStage.SOURCE,
    )


def _source_retry(instance, retry: list[tuple], attempt: int) -> None:
    if not retry:
        return
    delay = outcomes.source_retry_delay(attempt + 1)
    if delay is None:
        for request_item, result in retry:
            _source_failed(instance, request_item, result, attempt)
        return
    retry_later(
        PipelineStage.SOURCE, instance.pk, {"items": [r for r, _ in retry], "attempt": attempt + 1}, delay
    )
