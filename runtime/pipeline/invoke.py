"""Running one instance's function over a list of events, one verdict per event.

`onBatch` is used when the deployed version defines it (FunctionVersion.handlers, stored at
save time from the sandbox's check) and there is more than one event;
otherwise every event gets its own handler call, pipelined to the sandbox with run_many.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import metrics
from ..sandbox import SandboxRequest, SandboxResult
from ..sandbox.django import sandbox
from . import outcomes


@dataclass
class Verdict:
    """What happened to one event: ok (with the event to pass on), drop, retry or fail."""

    outcome: str
    event: Any = None
    category: str = ""
    error: dict | None = None
    result: SandboxResult | None = None


def instance_key(instance) -> str:
    """The warm-isolate key: a new deployed version gets a fresh isolate."""
    return f"{instance.public_id}:{instance.deployed_version_id}"


def _request(instance, version, kind: str, payload, settings: dict) -> SandboxRequest:
    return SandboxRequest(
        code=version.code,
        kind=kind,
        payload=payload,
        settings=settings,
        # A canary's version gets its own warm isolate next to the deployed one's.
        instance_key=f"{instance.public_id}:{version.pk}",
        timeout_ms=instance.function.timeout_ms,
    )


def run_events(instance, kind: str, events: list[dict], version=None) -> list[Verdict]:
    """Run `events` through the instance's deployed function (or `version` of it, for a
    canary); verdicts in input order."""
    if not events:
        return []
    settings = instance.all_settings()
    version = version or instance.deployed_version
    if len(events) > 1 and "onBatch" in version.handlers:
        result = sandbox().run(_request(instance, version, kind, events, settings))
        metrics.sandbox_observe(kind, [result])
        return _batch_verdicts(kind, events, result)
    # One host message for the whole list; each event still gets its own handler call.
    results = sandbox().run_batch(_request(instance, version, kind, events, settings))
    metrics.sandbox_observe(kind, results)
    return [_single_verdict(kind, e, r) for e, r in zip(events, results, strict=True)]


def _error_verdict(result: SandboxResult) -> Verdict:
    if outcomes.error_type(result.error) == "DropEvent":
        return Verdict("drop", result=result)
    if outcomes.is_retryable(result.error):
        return Verdict(
            "retry", category=outcomes.category_of(result.error), error=result.error, result=result
        )
    return Verdict("fail", category=outcomes.category_of(result.error), error=result.error, result=result)


def _single_verdict(kind: str, event: dict, result: SandboxResult) -> Verdict:
    if result.status != "success":
        return _error_verdict(result)
    if kind.startswith("insert"):
        # An insert function passes on what it returns; null/undefined drops the event.
        if isinstance(result.returned, dict):
            return Verdict("ok", event=result.returned, result=result)
        return Verdict("drop", result=result)
    return Verdict("ok", event=event, result=result)


def _batch_verdicts(kind: str, events: list[dict], result: SandboxResult) -> list[Verdict]:
    if result.status != "success":
        verdict = _error_verdict(result)
        return [Verdict(verdict.outcome, None, verdict.category, verdict.error, result) for _ in events]
    returned = result.returned
    if kind.startswith("insert"):
        return _insert_batch_verdicts(events, returned, result)
    if isinstance(returned, list) and len(returned) == len(events):
        return [_status_verdict(e, entry, result) for e, entry in zip(events, returned, strict=True)]
    return [Verdict("ok", event=e, result=result) for e in events]


def _status_verdict(event: dict, entry, result: SandboxResult) -> Verdict:
    outcome = outcomes.status_outcome(entry)
    if outcome == "ok":
        return Verdict("ok", event=event, result=result)
    message = entry.get("errormessage") if isinstance(entry, dict) else None
    error = {
        "type": f"HTTP {entry.get('status') if isinstance(entry, dict) else '?'}",
        "message": str(message or ""),
        "stack": "",
    }
    if outcome == "retry":
        return Verdict("retry", category=outcomes.ErrorCategory.RETRY, error=error, result=result)
    return Verdict("fail", category=outcomes.ErrorCategory.BAD_REQUEST, error=error, result=result)


def _insert_batch_verdicts(events: list[dict], returned, result: SandboxResult) -> list[Verdict]:
    """Pair outputs to inputs by messageId when present, else by index; unpaired = dropped."""
    outputs = [r for r in returned if isinstance(r, dict)] if isinstance(returned, list) else []
    by_id = {o.get("messageId"): o for o in outputs if o.get("messageId")}
    verdicts = []
    for index, event in enumerate(events):
        out = by_id.get(event.get("messageId"))
        if out is None and not by_id and isinstance(returned, list) and index < len(returned):
            out = returned[index] if isinstance(returned[index], dict) else None
        verdicts.append(Verdict("ok", event=out, result=result) if out else Verdict("drop", result=result))
    return verdicts
