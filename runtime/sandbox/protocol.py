"""What Python and the Node host say to each other: requests, results and their encoding.

Standard library only (no Django). A request is one line of JSON on the host's stdin with
``"id":0`` as its first member (the host process replaces it when it sends the line); a reply is
one line on its stdout. Nothing here touches a process: the functions turn requests into lines
and replies into results, each field of the type promised whatever the reply held.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from . import jsoncodec
from .limits import SandboxLimits

KINDS = ("source", "destination", "insert_destination", "insert_source")
EVENT_HANDLERS = ("onTrack", "onIdentify", "onPage", "onScreen", "onGroup", "onAlias", "onDelete", "onBatch")
DEFAULT_TIMEOUT_MS = SandboxLimits().default_timeout_ms


class SandboxUnavailable(RuntimeError):
    """The Node host cannot be started (node missing, too old, bundles not built)."""


@dataclass(frozen=True)
class SandboxResult:
    """One call's outcome: ``status`` "success" or "error" (then ``error`` says which)."""

    status: str
    error: dict | None
    returned: Any
    events: list
    objects: list
    logs: list
    requests: list
    duration_ms: float
    cpu_ms: float
    # Fetches an answer rule took (docs/sandbox.md, Fetch answers), as sent: they may carry
    # secrets, so to_dict() leaves them out; show them only through a masking step.
    captured: list = field(default_factory=list)

    def to_dict(self) -> dict:
        out = asdict(self)
        del out["captured"]
        return out


@dataclass(frozen=True)
class SandboxRequest:
    """One function call: its code and kind (one of ``KINDS``), the event and its settings."""

    code: str
    kind: str
    payload: Any
    settings: dict
    instance_key: str | None = None
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    # This call's own fetch answer rules, tried before the host's standing ones: dicts with
    # `prefix` (URL) or `pattern` (glob), `status`, `headers`, `body`, `tag`.
    fetch_answers: tuple = ()


@dataclass(frozen=True)
class CheckResult:
    """Whether code compiles and defines its kind's handlers; ``handlers`` lists those found."""

    ok: bool
    error: dict | None
    handlers: list[str] = field(default_factory=list)


def error_result(
    etype: str, message: str, duration_ms: float = 0.0, *, attributed: bool = False
) -> SandboxResult:
    """An error result made on this side (the call never ran, or its host died)."""
    error = {"type": etype, "message": message, "stack": ""}
    if attributed:
        # The sandbox charged a host death to this very call: final, never infrastructure.
        error["attributed"] = True
    return SandboxResult(
        status="error",
        error=error,
        returned=None,
        events=[],
        objects=[],
        logs=[],
        requests=[],
        duration_ms=duration_ms,
        cpu_ms=0.0,
    )


def error_reply(etype: str, message: str) -> dict:
    """A reply as the host would write it, for a call this side answers itself."""
    return {"result": error_result(etype, message).to_dict()}


# ---- requests ----------------------------------------------------------------------------
class CodeFragments:
    """Each code's JSON fragment for a request line and its sha256, cached: the same code is
    sent again with every call of its function."""

    def __init__(self, max_size: int = 1000):
        self.max_size = max_size
        self._cache: dict[str, tuple[str, str]] = {}  # code -> (JSON fragment, sha256)

    def get(self, code: str) -> tuple[str, str]:
        cached = self._cache.get(code)
        if cached is None:
            code_hash = hashlib.sha256(code.encode()).hexdigest()
            cached = (',"code":' + json.dumps(code) + ',"code_hash":"' + code_hash + '"', code_hash)
            if len(self._cache) > self.max_size:
                self._cache.clear()
            self._cache[code] = cached
        return cached


def too_deep(value: Any, limit: int) -> bool:
    """Whether ``value`` nests dicts and lists deeper than ``limit`` levels."""
    stack = [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict):
            if d > limit:
                return True
            stack.extend((x, d + 1) for x in v.values() if isinstance(x, (dict, list)))
        elif isinstance(v, list):
            if d > limit:
                return True
            stack.extend((x, d + 1) for x in v if isinstance(x, (dict, list)))
    return False


def _payload_refusal(
    req: SandboxRequest, payload_value: Any, limits: SandboxLimits
) -> tuple[bytes, bytes] | SandboxResult:
    """The payload and settings as JSON, or the error when they must not reach the host.

    The host measures their nesting as it reads them (PayloadTooDeep, the same answer): walking
    a batch here too cost as much as encoding it. Only the small settings are walked here.
    """
    try:
        payload = jsoncodec.dumps_bytes(payload_value)
        settings = jsoncodec.dumps_bytes(req.settings if req.settings is not None else {})
    except RecursionError:
        return error_result("PayloadTooDeep", f"payload nested deeper than {limits.max_depth} levels")
    except (TypeError, ValueError) as e:  # UnicodeEncodeError: lone surrogates
        return error_result("InvalidEventPayload", f"payload is not JSON-serialisable: {e}")
    if len(payload) + len(settings) > limits.max_payload_bytes:  # UTF-8 bytes, as the host counts
        return error_result("PayloadTooLarge", f"payload over {limits.max_payload_bytes} bytes")
    if too_deep(req.settings, limits.max_depth):
        return error_result("PayloadTooDeep", f"payload nested deeper than {limits.max_depth} levels")
    return payload, settings


def request_line(
    req: SandboxRequest,
    op: str,
    payload_value: Any,
    code_part: str,
    limits: SandboxLimits,
    *,
    extra: str = "",
) -> tuple[str, int] | SandboxResult:
    """The request line for the host (id 0) and its timeout, or the error result when the
    payload must not reach the host at all. ``code_part``: from ``CodeFragments.get``."""
    encoded = _payload_refusal(req, payload_value, limits)
    if isinstance(encoded, SandboxResult):
        return encoded
    payload, settings = encoded
    timeout_ms = int(min(max(1, req.timeout_ms or limits.default_timeout_ms), limits.max_timeout_ms))
    line = (
        '{"id":0,"op":'
        + json.dumps(op)
        + ',"kind":'
        + json.dumps(req.kind)
        + code_part
        + ',"payload":'
        + _text_json(payload)
        + ',"settings":'
        + _text_json(settings)
        + ',"instance_key":'
        + json.dumps(req.instance_key)
        + ',"timeout_ms":'
        + str(timeout_ms)
        + (',"answers":' + json.dumps(list(req.fetch_answers)) if req.fetch_answers else "")
        + extra
        + "}\n"
    )
    return line, timeout_ms


def _text_json(encoded: bytes) -> str:
    # The host takes payload and settings as JSON strings holding JSON (parsed in the isolate).
    return jsoncodec.dumps(encoded.decode())


def check_line(kind: str, code: str) -> str:
    return '{"id":0,"op":"check","kind":' + json.dumps(kind) + ',"code":' + json.dumps(code) + "}\n"


PING_LINE = '{"id":0,"op":"ping"}\n'


def batch_refusal(request: SandboxRequest) -> str | None:
    """Why ``run_batch`` must not run ``request``'s kind, or None."""
    if request.kind not in KINDS:
        return f"unknown function kind {request.kind!r}"
    if request.kind == "source":
        return "run_batch is for destination and insert functions"
    return None


# ---- replies -----------------------------------------------------------------------------
_MALFORMED = {"type": "InternalError", "message": "malformed sandbox reply", "stack": ""}
_REPLY_ID = re.compile(rb'^\{"id":(\d+),')


def too_deep_reply(line: bytes) -> dict | None:
    """The reply for a line too deeply nested for Python's parser (the host writes the id first)."""
    m = _REPLY_ID.match(line)
    if not m:
        return None
    error = error_result("PayloadTooDeep", "the function's result is nested too deeply").to_dict()
    return {"id": int(m.group(1)), "result": error}


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _retry_after(error: dict) -> dict:
    value = error.get("retryAfter")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 10**9:
        return {"retryAfter": float(value)}
    return {}


def _as_float(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def _error_fields(error: Any) -> dict:
    error = error if isinstance(error, dict) else {}
    return {
        "type": str(error.get("type") or "Error"),
        "message": str(error.get("message") or ""),
        "stack": str(error.get("stack") or ""),
        **{k: error[k] for k in ("line", "column") if k in error},
        # RetryError's wait in seconds (the shim turns a Retry-After value into it).
        **_retry_after(error),
        # Set only by this side (the host process's charge): the host's replies never carry it.
        **({"attributed": True} if error.get("attributed") is True else {}),
    }


def to_result(reply: dict) -> SandboxResult:
    """The reply as a SandboxResult, each field of the type promised whatever it held."""
    r = reply.get("result")
    if not isinstance(r, dict):
        return error_result("InternalError", "malformed sandbox reply")
    error = r.get("error")
    if error is not None:
        error = _error_fields(error)
    status = r.get("status")
    return SandboxResult(
        status=status if status == "success" and error is None else "error",
        error=error if error is not None or status == "success" else _MALFORMED,
        returned=r.get("returned"),
        events=[e for e in _as_list(r.get("events")) if isinstance(e, dict)],
        objects=[o for o in _as_list(r.get("objects")) if isinstance(o, dict)],
        logs=[entry for entry in _as_list(r.get("logs")) if isinstance(entry, dict)],
        requests=_as_list(reply.get("requests")),
        duration_ms=_as_float(reply.get("duration_ms")),
        cpu_ms=_as_float(reply.get("cpu_ms")),
        captured=[c for c in _as_list(reply.get("captured")) if isinstance(c, dict)],
    )


def batch_results(reply: dict, n: int) -> list[SandboxResult] | None:
    """The per-event results of a ``run_batch`` reply, or None when it holds one result."""
    results = reply.get("results")
    if isinstance(results, list) and len(results) == n:
        return [to_result(r if isinstance(r, dict) else {}) for r in results]
    return None


def batch_failure(reply: dict, n: int) -> list[SandboxResult]:
    """The ``n`` results of a batch that got one result: host killed (Timeout), crash culprit
    (MemoryLimit, Crash), sandbox closed, or a protocol error."""
    if "result" not in reply:
        reply = error_reply("InternalError", str(reply.get("error") or "bad reply"))
    charged = reply.get("event")
    if isinstance(charged, int) and 0 <= charged < n:
        return charged_batch(to_result(reply), charged, n)
    return [to_result(reply) for _ in range(n)]


def charged_batch(charged: SandboxResult, index: int, n: int) -> list[SandboxResult]:
    """The host died during event ``index`` of a batch: that event is charged; the other
    events' results died with the host, so they are infrastructure failures (retried)."""
    lost = error_result(
        "SandboxUnavailable",
        f"the sandbox host crashed during event {index} of this batch ({charged.error['type']}); "
        "this event's result was lost",
    )
    return [charged if i == index else lost for i in range(n)]


def check_failed(etype: Any, message: Any, handlers: list[str] | None = None) -> CheckResult:
    return CheckResult(
        False, {"type": etype, "message": message, "line": None, "column": None}, handlers or []
    )


def _missing_handlers(kind: str, handlers: list[str]) -> str | None:
    if kind == "source":
        missing = [] if "onRequest" in handlers else ["onRequest"]
        msg = "Source functions must define onRequest(request, settings)"
    else:
        missing = [] if any(h in handlers for h in EVENT_HANDLERS) else list(EVENT_HANDLERS)
        msg = "Define at least one handler: " + ", ".join(EVENT_HANDLERS)
    return f"{msg} (missing: {', '.join(missing)})" if missing else None


def check_result(kind: str, reply: dict) -> CheckResult:
    """The reply to a ``check`` line as a CheckResult (a kind's missing handlers fail it)."""
    chk = reply.get("check")
    if chk is None:
        err = (reply.get("result") or {}).get("error") or {"type": "Error", "message": "check failed"}
        return check_failed(err.get("type"), err.get("message"))
    if not chk.get("ok"):
        return CheckResult(False, chk.get("error"), [])
    handlers = list(chk.get("handlers") or [])
    missing = _missing_handlers(kind, handlers)
    if missing:
        return check_failed("MissingHandler", missing, handlers)
    return CheckResult(True, None, handlers)
