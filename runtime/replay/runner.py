"""The sandbox side of a replay: one chunk of payloads through one version, in dry-run mode.

Dry run: every fetch (and every SDK request, which goes through fetch) is answered by the
sandbox host itself and recorded (runtime/node/lib/answers.js): first by the user's scripted
rules (a URL glob and a response), then by a catch-all `200 {}`. Nothing reaches the network,
the request inspector or the pipeline; emitted events are only compared. Each side of a replay
gets its own warm isolate (key `replay:<run>:<side>:<instance>`), so module-level state lives
as it would in production but is never shared with the live instance's isolate.
"""

from __future__ import annotations

from dataclasses import replace

from ..sandbox import SandboxRequest, SandboxResult
from ..sandbox.django import sandbox

TAG = "dryrun"
CATCH_ALL = {"pattern": "*", "status": 200, "headers": {"content-type": "application/json"}, "body": "{}"}
NOT_RUN = "Not run:"


def answer_rules(scripted: list[dict]) -> tuple:
    """The call's fetch answer rules: the scripted ones in order, then the catch-all."""
    rules = [{**rule, "tag": TAG} for rule in scripted]
    return tuple([*rules, {**CATCH_ALL, "tag": TAG}])


def run_chunk(
    *, code: str, kind: str, payloads: list, settings: dict, key: str, timeout_ms: int, answers
) -> list:
    """One SandboxResult per payload, in order."""
    if not payloads:
        return []
    base = SandboxRequest(
        code=code,
        kind=kind,
        payload=None,
        settings=settings,
        instance_key=key,
        timeout_ms=timeout_ms,
        fetch_answers=answers,
    )
    if kind == "source":
        return sandbox().run_many([_with(base, payload) for payload in payloads])
    return _run_events(base, payloads)


def _with(base: SandboxRequest, payload) -> SandboxRequest:
    return replace(base, payload=payload)


def _run_events(base: SandboxRequest, events: list) -> list[SandboxResult]:
    # A timeout or memory error disposes the isolate and the batch's later events come back
    # "Not run": they are run again from there, so one bad event costs only itself.
    out: list[SandboxResult] = []
    while len(out) < len(events):
        results = sandbox().run_batch(_with(base, events[len(out) :]))
        stop = next((i for i, r in enumerate(results) if _not_run(r)), len(results))
        out.extend(results[: max(stop, 1)])
    return out


def _not_run(result: SandboxResult) -> bool:
    return result.status != "success" and str((result.error or {}).get("message", "")).startswith(NOT_RUN)
