"""A test case's expectation: its shape (validated on save) and the check of a run's result
against it, with messages a user can act on ("events[0].properties.plan is 'pro', expected
'free'"). Pure functions: no database, no sandbox."""

from __future__ import annotations

import difflib
import json

from django.core.exceptions import ValidationError

from .choices import INSERT_TYPES, ResourceType

STATUSES = ("success", "error")
KEYS = {"status", "errorType", "events", "output", "requests"}


def expectation_validate(expectation, resource_type: str) -> dict:
    """The expectation, checked: an object with only KEYS, each of the right shape."""
    if not isinstance(expectation, dict):
        raise ValidationError({"expectation": "An object: {status, errorType, events, output, requests}."})
    unknown = sorted(set(expectation) - KEYS)
    if unknown:
        raise ValidationError({"expectation": f"Unknown field(s): {', '.join(unknown)}."})
    if expectation.get("status") not in (None, *STATUSES):
        raise ValidationError({"expectation": "status is success or error."})
    if not isinstance(expectation.get("errorType", ""), str):
        raise ValidationError({"expectation": "errorType is a string, e.g. ValidationError."})
    if "events" in expectation and not isinstance(expectation["events"], list):
        raise ValidationError({"expectation": "events is a list of (partial) events."})
    if "events" in expectation and resource_type != ResourceType.SOURCE:
        raise ValidationError({"expectation": "Only source functions emit events; use output for inserts."})
    if "output" in expectation and resource_type not in INSERT_TYPES:
        raise ValidationError({"expectation": "output is for insert functions (the event they return)."})
    _requests_validate(expectation.get("requests", []))
    return {k: v for k, v in expectation.items() if v not in (None, "")}


def _requests_validate(requests) -> None:
    shaped = isinstance(requests, list) and all(
        isinstance(r, dict) and isinstance(r.get("url"), str) and set(r) <= {"method", "url"}
        for r in requests
    )
    if not shaped:
        raise ValidationError({"expectation": "requests is a list of {method, url}."})


def _show(value) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "…"


def _join(path: str, key) -> str:
    return f"{path}[{key}]" if isinstance(key, int) else (f"{path}.{key}" if path else str(key))


def mismatch(expected, actual, path: str = "") -> str | None:
    """Where `actual` differs from `expected`, or None. Objects match when every expected key
    matches (extra keys are fine: ids and timestamps differ each run); lists element by element."""
    where = path or "value"
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{where} is {_show(actual)}, expected an object"
        for key, value in expected.items():
            if key not in actual:
                return f"{_join(path, key)} is missing"
            found = mismatch(value, actual[key], _join(path, key))
            if found:
                return found
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            count = len(actual) if isinstance(actual, list) else "not a list"
            return f"{where} has {count} items, expected {len(expected)}"
        for index, value in enumerate(expected):
            found = mismatch(value, actual[index], _join(path, index))
            if found:
                return found
        return None
    same_kind = isinstance(expected, bool) == isinstance(actual, bool)
    return (
        None
        if same_kind and expected == actual
        else f"{where} is {_show(actual)}, expected {_show(expected)}"
    )


def _outcome(result: dict) -> str:
    if result.get("status") == "success":
        return "success"
    error = result.get("error") or {}
    return f"{error.get('type') or 'Error'}: {error.get('message', '')}".strip()


def expectation_check(expectation: dict, result: dict) -> list[str]:
    """Why `result` does not meet `expectation` (empty: it passes). Without status or errorType
    the run must succeed."""
    failures = []
    status = expectation.get("status") or ("error" if expectation.get("errorType") else "success")
    if result.get("status") != status:
        failures.append(f"expected {status}, got {_outcome(result)}")
    error_type = expectation.get("errorType")
    actual_type = (result.get("error") or {}).get("type")
    if error_type and result.get("status") == "error" and actual_type != error_type:
        failures.append(f"expected error {error_type}, got {_outcome(result)}")
    if "events" in expectation:
        found = mismatch(expectation["events"], result.get("events") or [], "events")
        failures += [found] if found else []
    if "output" in expectation:
        found = mismatch(expectation["output"], result.get("returned"), "output")
        failures += [found] if found else []
    failures += _requests_check(expectation.get("requests"), result.get("requests") or [])
    return failures


def _requests_check(expected, made: list[dict]) -> list[str]:
    """Each expected request was made, in this order (others may come between)."""
    if not expected:
        return []
    sent = [((r.get("method") or "GET").upper(), r.get("url")) for r in made]
    position = 0
    for want in expected:
        key = ((want.get("method") or "GET").upper(), want["url"])
        try:
            position = sent.index(key, position) + 1
        except ValueError:
            listed = ", ".join(f"{m} {u}" for m, u in sent) or "none"
            return [f"expected a request {key[0]} {key[1]} (made: {listed})"]
    return []


def _pretty(value) -> list[str]:
    return json.dumps(value, indent=2, sort_keys=True, default=str).splitlines()


def io_diff(resource_type: str, payload, result: dict) -> list[dict] | None:
    """Input vs output, line by line ({kind: add|del|ctx, text}): for an insert function the
    event in and the event out; for a source function the request body and the events emitted.
    None for destinations (their output is what they send)."""
    if resource_type in INSERT_TYPES:
        before, after = payload, result.get("returned")
    elif resource_type == ResourceType.SOURCE:
        before = payload.get("body") if isinstance(payload, dict) else payload
        after = result.get("events") or []
    else:
        return None
    if result.get("status") != "success":
        return None
    rows = []
    for line in difflib.ndiff(_pretty(before), _pretty(after)):
        kind = {"+": "add", "-": "del", " ": "ctx"}.get(line[:1])
        if kind:
            rows.append({"kind": kind, "text": line[2:]})
    return rows
