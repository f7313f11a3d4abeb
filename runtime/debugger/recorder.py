"""The source debugger's recorder: each source's recent requests, events and their outcomes.

Called where traffic passes (docs/editor.md, *Source debugger*):
- the webhook and Tracking API endpoints, once per request (`webhook_request_record`,
  `tracking_request_record`): the request, the events it carried, the per-bucket counts;
- a source function run, once per flush (`source_runs_record`): what each request's run
  did (emitted events, error, retrying) and the events it emitted;
- delivery, once per batch and destination (`deliveries_record`): each event's outcome there.

Everything is kept raw (bodies cut at DEBUGGER_BODY_BYTES) and masked when read
(`selectors`), so a replay can use what was really sent. Each call hands its writes to the
store, which merges them with the process's other recordings into one round trip every
DEBUGGER_FLUSH_S (`store.Pending`); it never fails the pipeline: an error is logged and counted
(`recorder_errors`). Records are serialised only when written, so they must not change after.
"""

from __future__ import annotations

import functools
import logging
import time

from django.conf import settings

from ..ingest import now_iso
from ..models import FunctionInstance
from ..pipeline import outcomes
from . import store

log = logging.getLogger(__name__)
# Outcomes kept per source: one per event and destination (and per retry), so a multiple of
# the event depth; beyond it the oldest events show no outcome.
OUTCOMES_PER_EVENT = 5
RUNS_PER_REQUEST = 2
MAX_LOG_LINES = 50
MAX_TEXT = 4000
_errors = {"count": 0}
_sources: dict[int, int] = {}


def recorder_errors() -> int:
    """How many recordings this process gave up on (Redis down, bad data)."""
    return _errors["count"] + store.flush_errors()


def depth() -> int:
    """Requests and events kept per source (DEBUGGER_KEEP, 500 by default)."""
    return max(1, int(settings.DEBUGGER_KEEP))


def _best_effort(func):
    """Recording must never fail or break the pipeline: swallow, log, count."""

    @functools.wraps(func)
    def wrapped(*args, **kwargs):
        if not settings.DEBUGGER_ENABLED:
            return None
        try:
            return func(*args, **kwargs)
        except Exception:
            _errors["count"] += 1
            log.warning("source debugger: %s failed", func.__name__, exc_info=True)
            return None

    return wrapped


def bucket_of(now: float) -> int:
    """The start (epoch seconds) of the counters' bucket holding `now`."""
    size = settings.PIPELINE_STATS_BUCKET_S
    return int(now) // size * size


def counts_key(source_id, bucket: int) -> str:
    """The day's counters hash of a source (fields `r:`, `e:`, `x:` + bucket start)."""
    return f"{store.prefix(source_id)}cnt:{bucket // 86400}"


def _count(writes: store.Writes, source_id, *, requests=0, events=0, errors=0) -> None:
    bucket = bucket_of(time.time())
    key = counts_key(source_id, bucket)
    for letter, amount in (("r", requests), ("e", events), ("x", errors)):
        writes.count(key, f"{letter}:{bucket}", amount)


def _body(body) -> tuple[object, bool]:
    """The body as kept: text cut at DEBUGGER_BODY_BYTES (and whether it was cut)."""
    limit = settings.DEBUGGER_BODY_BYTES
    if isinstance(body, str) and len(body) > limit:
        return body[:limit], True
    return body, False


def _event_rows(events: list[dict], request_id: str, at: str) -> list[dict]:
    """Event records, oldest first, of at most the newest `depth()` events (serialised when
    written: the events are the pipeline's, which no longer changes them once recorded)."""
    return [
        {
            "messageId": event.get("messageId"),
            "request": request_id,
            "at": at,
            "type": event.get("type"),
            "name": event.get("event") or event.get("name") or "",
            "event": event,
        }
        for event in events[-depth() :]
        if isinstance(event, dict)
    ]


def _write(source_id, requests: list[str], events: list[str], writes: store.Writes) -> None:
    keep = depth()
    writes.push(f"{store.prefix(source_id)}req", requests, keep)
    writes.push(f"{store.prefix(source_id)}evt", events, keep)
    store.backend().record(writes, settings.DEBUGGER_TTL_S)


def _source_of(instance_id: int) -> int:
    # A source function instance owns its source for good: remembered per process.
    if instance_id not in _sources:
        if len(_sources) > 10_000:
            _sources.clear()
        _sources[instance_id] = FunctionInstance.objects.values_list("source_id", flat=True).get(
            pk=instance_id
        )
    return _sources[instance_id]


@_best_effort
def webhook_request_record(*, instance_id: int, item: dict, status: int = 200, error: str = "") -> None:
    """A webhook request to a source function instance: `item` is the pipeline's request item
    ({id, received_at, payload}); a refused one has its status and the answer's message."""
    source_id = _source_of(instance_id)
    payload = dict(item.get("payload") or {})
    payload["body"], truncated = _body(payload.get("body"))
    row = {
        "id": item["id"],
        "kind": "webhook",
        "at": item["received_at"],
        "status": status,
        "error": error,
        "payload": payload,
        "truncated": truncated,
    }
    writes = store.Writes()
    _count(writes, source_id, requests=1, errors=int(status >= 400))
    _write(source_id, [row], [], writes)


@_best_effort
def tracking_request_record(
    *, source_id, request_id: str, at: str, call: str, payload: dict, messages: list[dict],
    drops: list = (), status: int = 200, error: str = "", code: str = "",
) -> None:  # fmt: skip
    """A Tracking API request (`call`: track, batch, ...): its accepted messages become the
    source's events; dropped messages are listed with their codes (the first 10)."""
    row = {
        "id": request_id,
        "kind": "tracking",
        "at": at,
        "status": status,
        "error": error,
        "code": code,
        "call": call,
        "payload": payload,
        "messages": [m.get("messageId") for m in messages[-depth() :]],
        "count": len(messages),
        "dropped": [{"index": d.index, "code": d.code, "message": d.message} for d in drops[:10]],
        "droppedCount": len(drops),
    }
    writes = store.Writes()
    _count(writes, source_id, requests=1, events=len(messages), errors=int(status >= 400))
    _write(source_id, [row], _event_rows(messages, request_id, at), writes)


def _run_status(result, attempt: int) -> str:
    if result.status == "success":
        return "success"
    if outcomes.is_retryable(result.error) and attempt + 1 <= settings.SOURCE_RETRY_MAX:
        return "retrying"
    return "error"


def _log_line(line) -> dict:
    if isinstance(line, dict):
        return {
            "level": str(line.get("level") or "log"),
            "message": str(line.get("message") or "")[:MAX_TEXT],
        }
    return {"level": "log", "message": str(line)[:MAX_TEXT]}


def _run_row(request_item: dict, result, emitted: list[dict], attempt: int, at: str) -> dict:
    error = result.error or None
    if error:
        error = {k: str(error.get(k) or "")[:MAX_TEXT] for k in ("type", "message", "stack")}
    return {
        "request": request_item["id"],
        "at": at,
        "attempt": attempt + 1,
        "status": _run_status(result, attempt),
        "error": error,
        "events": [e.get("messageId") for e in emitted],
        "emitted": len(result.events or []),
        "logs": [_log_line(line) for line in (result.logs or [])[:MAX_LOG_LINES]],
        "durationMs": getattr(result, "duration_ms", None),
    }


@_best_effort
def source_runs_record(*, source_id, runs: list[tuple], attempt: int = 0) -> None:
    """One source function flush: `runs` is [(request item, result, valid emitted events)]."""

    at = now_iso()
    rows, events, errors = [], [], 0
    for request_item, result, emitted in runs:
        row = _run_row(request_item, result, emitted, attempt, at)
        errors += row["status"] == "error"
        rows.append(row)
        events += _event_rows(emitted, request_item["id"], at)
    writes = store.Writes()
    writes.push(f"{store.prefix(source_id)}run", rows, depth() * RUNS_PER_REQUEST)
    _count(writes, source_id, events=len(events), errors=errors)
    _write(source_id, [], events, writes)


def _reason(verdict) -> str:
    error = verdict.error or {}
    text = ": ".join(str(p) for p in (error.get("type"), error.get("message")) if p)
    return text[:MAX_TEXT]


def _outcome(instance, message_id, outcome: str, attempt: int, at: str, verdict=None, reason="") -> dict:
    return {
        "messageId": message_id,
        "instance": instance.public_id,
        "name": instance.name,
        "at": at,
        "attempt": attempt + 1,
        "outcome": outcome,
        "category": getattr(verdict, "category", "") or "",
        "reason": reason or (_reason(verdict) if verdict is not None else ""),
    }


def _verdict_outcome(verdict, gave_up: bool) -> str:
    if verdict.outcome == "ok":
        return "delivered"
    if verdict.outcome == "drop":
        return "filtered"
    if verdict.outcome == "retry":
        return "failed" if gave_up else "retrying"
    return "failed"


@_best_effort
def deliveries_record(*, instance, events, pending, pairs, verdicts, tally, attempt: int = 0) -> None:
    """One delivery batch to a destination instance: each event's outcome there.

    `events` came in, `pending` survived dedupe, `pairs` (original, current) survived the
    instance's insert functions, `verdicts` are the destination's; `tally` says what retries.
    """

    at = now_iso()
    gave_up = bool(tally.retry) and not tally.counts.get("retried")
    retry_ids = {e.get("messageId") for e in tally.retry}
    rows, seen = [], set()
    for (original, _), verdict in zip(pairs, verdicts, strict=True):
        seen.add(original.get("messageId"))
        rows.append(
            _outcome(
                instance, original.get("messageId"), _verdict_outcome(verdict, gave_up), attempt, at, verdict
            )
        )
    for event in pending:
        mid = event.get("messageId")
        if mid in seen:
            continue
        seen.add(mid)
        if mid in retry_ids:
            outcome = "failed" if gave_up else "retrying"
            rows.append(
                _outcome(instance, mid, outcome, attempt, at, reason="an insert function asked to retry")
            )
        else:
            rows.append(
                _outcome(instance, mid, "filtered", attempt, at, reason="stopped by an insert function")
            )
    for event in events:
        if event.get("messageId") not in seen:
            seen.add(event.get("messageId"))
            rows.append(
                _outcome(
                    instance, event.get("messageId"), "duplicate", attempt, at, reason="already delivered"
                )
            )
    writes = store.Writes()
    writes.push(f"{store.prefix(instance.source_id)}out", rows, depth() * OUTCOMES_PER_EVENT)
    store.backend().record(writes, settings.DEBUGGER_TTL_S)
