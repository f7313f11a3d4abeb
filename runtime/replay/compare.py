"""One event's two runs side by side: what each did (secrets masked) and what differs."""

from __future__ import annotations

import difflib
import json

from ..inspector.masking import MIN_SECRET_LEN, json_mask, request_mask, text_mask
from ..pipeline import outcomes
from .choices import ReplayVerdict

ASPECTS = ("outcome", "events", "output", "requests")
MAX_DIFF_LINES = 200
MAX_SIDE_CHARS = 32 * 1024  # a request body, as compared
# What is kept of each side for display (compared in full first): a replay of 500 events must
# stay a row of a few megabytes, whatever the functions send.
KEPT_REQUESTS = 10
KEPT_BODY_CHARS = 8 * 1024


def known_secrets(secrets) -> list[str]:
    """Secret values to search for, longest first (one may contain another)."""
    values = {str(v) for v in secrets or () if isinstance(v, (str, int)) and len(str(v)) >= MIN_SECRET_LEN}
    return sorted(values, key=len, reverse=True)


def side_of(kind: str, result, secrets: list) -> dict:
    """What one run did: outcome and error, emitted events, output event, outbound requests."""
    known = known_secrets(secrets)
    error = result.error or {}
    return {
        "outcome": _outcome(kind, result),
        "error": {"type": error.get("type", ""), "message": text_mask(str(error.get("message", "")), known)}
        if result.error
        else None,
        "events": json_mask(result.events, known) if kind == "source" else None,
        "output": json_mask(result.returned, known) if kind.startswith("insert") else None,
        "requests": [_request(c, secrets) for c in result.captured],
        "durationMs": round(result.duration_ms, 2),
    }


def _outcome(kind: str, result) -> str:
    if result.status != "success":
        if outcomes.error_type(result.error) == "DropEvent":
            return "drop"
        return "retry" if outcomes.is_retryable(result.error) else "fail"
    if kind.startswith("insert") and not isinstance(result.returned, dict):
        return "drop"
    return "ok"


def _request(capture: dict, secrets: list) -> dict:
    masked = request_mask(
        method=str(capture.get("method") or "GET"),
        url=str(capture.get("url") or ""),
        headers=capture.get("headers") or [],
        body=str(capture.get("body") or ""),
        base64=capture.get("bodyEnc") == "base64",
        secrets=secrets,
    )
    return {**masked, "body": masked["body"][:MAX_SIDE_CHARS]}


def trimmed(side: dict) -> dict:
    """The side as stored: the first KEPT_REQUESTS requests, bodies cut at KEPT_BODY_CHARS."""
    requests = [{**r, "body": r["body"][:KEPT_BODY_CHARS]} for r in side["requests"][:KEPT_REQUESTS]]
    return {**side, "requests": requests, "requestCount": len(side["requests"])}


def _aspect(side: dict, aspect: str):
    if aspect == "outcome":
        return {"outcome": side["outcome"], "error": side["error"]}
    return side[aspect]


def _text(value) -> list[str]:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str).splitlines()


def compare(base: dict, draft: dict) -> dict:
    """The verdict for one event, which aspects differ, and a unified diff of each."""
    differs, diffs = [], {}
    for aspect in ASPECTS:
        old, new = _aspect(base, aspect), _aspect(draft, aspect)
        if old != new:
            differs.append(aspect)
            lines = list(difflib.unified_diff(_text(old), _text(new), "deployed", "draft", lineterm="", n=2))
            diffs[aspect] = "\n".join(lines[:MAX_DIFF_LINES])
    return {"verdict": verdict_of(base, draft, differs), "differs": differs, "diffs": diffs}


def verdict_of(base: dict, draft: dict, differs: list[str]) -> str:
    failing = ("fail", "retry")
    if draft["outcome"] in failing and base["outcome"] not in failing:
        return ReplayVerdict.NOW_FAILS
    if base["outcome"] in failing and draft["outcome"] not in failing:
        return ReplayVerdict.NOW_PASSES
    return ReplayVerdict.DIFFERS if differs else ReplayVerdict.IDENTICAL


def summary_text(summary: dict) -> str:
    """ "412 identical, 63 differ, 25 now fail" (and the rarer verdicts when there are any)."""
    parts = [
        f"{summary.get(ReplayVerdict.IDENTICAL, 0)} identical",
        f"{summary.get(ReplayVerdict.DIFFERS, 0)} differ",
        f"{summary.get(ReplayVerdict.NOW_FAILS, 0)} now fail",
    ]
    if summary.get(ReplayVerdict.NOW_PASSES):
        parts.append(f"{summary[ReplayVerdict.NOW_PASSES]} now pass")
    if summary.get(ReplayVerdict.SKIPPED):
        parts.append(f"{summary[ReplayVerdict.SKIPPED]} not run (time budget)")
    return ", ".join(parts)
