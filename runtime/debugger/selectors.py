"""Reads of the source debugger: a source's recent requests and events, newest first.

The public API (docs/editor.md, *Source debugger*):

    source_recent_requests(source=..., limit=100, masked=True)
    source_recent_events(source=..., limit=100, masked=True)
    source_traffic_summary(source=..., since=...)
    source_traffic_series(source=..., since=...)

`limit` is capped at DEBUGGER_KEEP (500). Masked (the default, for anything shown) replaces
credential-named headers, query values and JSON keys, the source's write key and webhook token,
and the source function's encrypted setting values; `masked=False` returns what was received,
for server-side replays only (never render it). A webhook request's `payload` is the
`{method, url, headers, query, body}` a source function's `onRequest` gets; `truncated` says
its body was cut (do not replay it). Reads never raise: an unreachable store reads as empty.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from workspaces.redaction import credentials_redact, source_credentials

from ..inspector import masking
from ..inspector.services import settings_secrets
from . import recorder, store

log = logging.getLogger(__name__)


def _limit(limit: int | None) -> int:
    return max(1, min(int(limit or recorder.depth()), recorder.depth()))


def _lists(source, names: list[str], limits: list[int]) -> list[list[dict]]:
    keys = [f"{store.prefix(source.pk)}{name}" for name in names]
    try:
        raws = store.backend().read(keys, max(limits))
    except Exception:
        log.warning("source debugger: could not read source %s", source.pk, exc_info=True)
        return [[] for _ in names]
    out = []
    for raw, limit in zip(raws, limits, strict=True):
        rows = []
        for item in raw[:limit]:
            try:
                rows.append(json.loads(item))
            except (TypeError, ValueError):
                continue
        out.append(rows)
    return out


class Masker:
    """Masks what one source's readers see (see the module docstring)."""

    def __init__(self, source, *, reveal_credentials: bool = False):
        self.credentials = [] if reveal_credentials else source_credentials(source)
        secrets = []
        for instance in source.instances.filter(function__resource_type="SOURCE"):
            secrets += settings_secrets(instance.all_settings(), instance.secret_values())
        self.secrets = masking._secret_values(secrets)

    def json(self, value):
        return credentials_redact(masking.json_mask(value, self.secrets), self.credentials)

    def text(self, value: str) -> str:
        return credentials_redact(masking.text_mask(str(value or ""), self.secrets), self.credentials)

    def payload(self, payload: dict) -> dict:
        headers = masking.headers_mask(payload.get("headers") or {}, self.secrets)
        content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
        body = payload.get("body")
        body = (
            masking.body_mask(body, content_type, self.secrets) if isinstance(body, str) else self.json(body)
        )
        return {
            "method": payload.get("method", "POST"),
            "url": credentials_redact(
                masking.url_mask(str(payload.get("url") or ""), self.secrets), self.credentials
            ),
            "headers": [[k, credentials_redact(v, self.credentials)] for k, v in headers],
            "query": self.json(payload.get("query") or {}),
            "body": credentials_redact(body, self.credentials) if isinstance(body, str) else body,
        }

    def run(self, run: dict) -> dict:
        error = run.get("error")
        return {
            **run,
            "error": {k: self.text(v) for k, v in error.items()} if error else None,
            "logs": [{**line, "message": self.text(line.get("message"))} for line in run.get("logs") or []],
        }


def _better(row: dict, kept: dict) -> bool:
    if kept["outcome"] == "duplicate":
        return row["outcome"] != "duplicate"
    return row["outcome"] != "duplicate" and row.get("attempt", 1) > kept.get("attempt", 1)


def _newest_outcomes(rows: list[dict]) -> dict:
    """{messageId: [outcome per destination instance]}: of each, the latest attempt's (rows are
    newest first; an eager retry records before the attempt that scheduled it).

    "duplicate" (a redelivery suppressed) only shows when nothing else is known.
    """
    chosen: dict[tuple, dict] = {}
    for row in rows:
        key = (row.get("messageId"), row.get("instance"))
        kept = chosen.get(key)
        if kept is None or _better(row, kept):
            chosen[key] = row
    by_event: dict = {}
    for (message_id, _), row in chosen.items():
        by_event.setdefault(message_id, []).append(row)
    for outcomes in by_event.values():
        outcomes.sort(key=lambda r: r.get("name") or "")
    return by_event


def source_recent_events(
    *, source, limit: int | None = None, masked: bool = True, reveal_credentials: bool = False
) -> list[dict]:
    """The source's newest events: {messageId, request, at, type, name, event, outcomes}.

    `outcomes` has one entry per destination instance that reported: {instance, name, at,
    attempt, outcome: delivered | filtered | failed | retrying | duplicate, category, reason}.
    """
    limit = _limit(limit)
    events, outcomes = _lists(source, ["evt", "out"], [limit, recorder.depth() * recorder.OUTCOMES_PER_EVENT])
    by_event = _newest_outcomes(outcomes)
    masker = Masker(source, reveal_credentials=reveal_credentials) if masked else None
    out = []
    for row in events:
        row["outcomes"] = by_event.get(row.get("messageId"), [])
        if masker:
            row["event"] = masker.json(row.get("event"))
            for outcome in row["outcomes"]:
                outcome["reason"] = masker.text(outcome.get("reason"))
        out.append(row)
    return out


def source_recent_requests(
    *, source, limit: int | None = None, masked: bool = True, reveal_credentials: bool = False
) -> list[dict]:
    """The source's newest requests, each with what became of it.

    Webhook requests: {id, kind: "webhook", at, status, error, payload, truncated, run, events};
    `run` is the source function's newest run of it ({status: success | error | retrying,
    error, events, emitted, logs, attempt}) or None while queued. Tracking API requests:
    {id, kind: "tracking", at, status, error, code, call, payload (no body), messages, count,
    dropped, droppedCount, events}. `events` are the request's events (as in
    `source_recent_events`) that are still kept.
    """
    limit = _limit(limit)
    depth = recorder.depth()
    requests, runs, events, outs = _lists(
        source,
        ["req", "run", "evt", "out"],
        [limit, depth * recorder.RUNS_PER_REQUEST, depth, depth * recorder.OUTCOMES_PER_EVENT],
    )
    newest_run: dict = {}
    for run in runs:
        newest_run.setdefault(run.get("request"), run)
    outcomes = _newest_outcomes(outs)
    by_request: dict = {}
    for event in events:
        event["outcomes"] = outcomes.get(event.get("messageId"), [])
        by_request.setdefault(event.get("request"), []).append(event)
    masker = Masker(source, reveal_credentials=reveal_credentials) if masked else None
    return [_request_view(row, newest_run, by_request, masker) for row in requests]


def _request_view(row: dict, runs: dict, events: dict, masker: Masker | None) -> dict:
    run = runs.get(row["id"])
    kept = list(reversed(events.get(row["id"], [])))  # oldest first, as they were sent or emitted
    if masker:
        row["payload"] = masker.payload(row.get("payload") or {})
        row["error"] = masker.text(row.get("error"))
        run = masker.run(run) if run else None
        for event in kept:
            event["event"] = masker.json(event.get("event"))
            for outcome in event["outcomes"]:
                outcome["reason"] = masker.text(outcome.get("reason"))
    return {**row, "run": run, "events": kept}


def _buckets(source, since: datetime) -> dict[int, dict]:
    start = recorder.bucket_of(since.timestamp())
    now = recorder.bucket_of(datetime.now(UTC).timestamp())
    days = range(start // 86400, now // 86400 + 1)
    try:
        rows = store.backend().counters([f"{store.prefix(source.pk)}cnt:{day}" for day in days])
    except Exception:
        log.warning("source debugger: could not read counts of source %s", source.pk, exc_info=True)
        rows = []
    out: dict[int, dict] = {}
    names = {"r": "requests", "e": "events", "x": "errors"}
    for row in rows:
        for field, value in row.items():
            letter, _, bucket = field.partition(":")
            if letter in names and bucket.isdigit() and int(bucket) >= start:
                out.setdefault(int(bucket), dict.fromkeys(names.values(), 0))[names[letter]] += value
    return out


def source_traffic_summary(*, source, since: datetime) -> dict:
    """{requests, events, errors} received by the source since `since` (kept DEBUGGER_TTL_S)."""
    totals = {"requests": 0, "events": 0, "errors": 0}
    for counts in _buckets(source, since).values():
        for name, value in counts.items():
            totals[name] += value
    return totals


def source_traffic_series(*, source, since: datetime) -> list[dict]:
    """One point per counters bucket with traffic: {bucket (datetime), requests, events, errors}."""
    return [
        {"bucket": datetime.fromtimestamp(bucket, tz=UTC), **counts}
        for bucket, counts in sorted(_buckets(source, since).items())
    ]
