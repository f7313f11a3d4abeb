"""Segment Tracking API rules: decode request bodies, validate and normalise messages.

Pure functions (no database, no Celery), shared by the `/v1/...` endpoints and by source
functions' emitted events, so both pass exactly the same checks (spec §13). A problem is
raised as IngestError carrying the HTTP status and one of Segment's ingest codes.
"""

from __future__ import annotations

import base64
import gzip
import json
import math
import uuid
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qs

from django.conf import settings

from .sandbox import SandboxLimits, jsoncodec

EVENT_TYPES = ("identify", "track", "page", "screen", "group", "alias")
MAX_EVENT_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_BATCH_EVENTS = 2500
MAX_WEBHOOK_BYTES = 512 * 1024
MAX_MESSAGE_ID_CHARS = 100
BATCH_ENVELOPE_LEVELS = 2
LIBRARY_FUNCTIONS = {"name": "functions-platform-source-function", "version": "1.0.0"}
# Emitted events with no messageId get a stable one derived from the run, so a redelivered
# source run emits the same ids and the per-destination dedupe suppresses the repeats.
MESSAGE_ID_NAMESPACE = uuid.UUID("5f0d3c0e-8d3c-4c55-9a57-2f4f6f1b7a10")


class IngestError(Exception):
    """A request or message that must be refused; `status` is the HTTP answer, `code` Segment's."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def now_iso() -> str:
    """The current UTC time as Segment writes it (ISO-8601 with milliseconds and Z)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def read_body(raw: bytes, *, encoding: str, limit: int) -> bytes:
    """Undo a gzip/deflate Content-Encoding, refusing anything that inflates past `limit`."""
    encoding = (encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        data = raw
    elif encoding in ("gzip", "x-gzip", "deflate"):
        wbits = 16 + zlib.MAX_WBITS if encoding != "deflate" else zlib.MAX_WBITS
        try:
            data = zlib.decompressobj(wbits).decompress(raw, limit + 1)
        except (zlib.error, gzip.BadGzipFile) as exc:
            raise IngestError(400, "bad_request", f"Could not decode {encoding} body: {exc}")
    else:
        raise IngestError(400, "bad_request", f"Unsupported Content-Encoding {encoding!r}")
    if len(data) > limit:
        raise IngestError(413, "too_large", f"Request body is over the {limit // 1024} KB limit")
    return data


def json_max_depth() -> int:
    """The one nesting limit for JSON the platform accepts: the sandbox's `max_depth` as
    configured (FUNCTIONS_SANDBOX_LIMITS), so nothing accepted here is refused when it runs."""
    return SandboxLimits.from_mapping(getattr(settings, "FUNCTIONS_SANDBOX_LIMITS", None)).max_depth


class JsonRefused(ValueError):
    """JSON the platform does not accept; the message says why (shown to the client)."""


def _no_constant(name: str):
    raise JsonRefused(f"{name} is not valid JSON")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise JsonRefused(f"the number {text[:40]} is out of range")
    return value


def _strict_slow_loads(text: str) -> object:
    # orjson refuses NaN, Infinity and 1e400 itself; what it cannot take comes here.
    return json.loads(text, parse_constant=_no_constant, parse_float=_finite)


def json_strict_loads(data: bytes | str, *, max_depth: int) -> object:
    """Parse JSON as every edge of the platform accepts it, or raise JsonRefused.

    Refused: invalid UTF-8 or JSON; NaN, Infinity and numbers beyond a double (1e400), which
    Python accepts but JSON, PostgreSQL and JavaScript do not; nesting deeper than `max_depth`
    (`{}` is one level); strings holding a lone UTF-16 surrogate ("\\ud800", not encodable as
    UTF-8) or NUL (PostgreSQL cannot store it). Each later step (the database, the queue, the
    sandbox, an admin page) can then take the value as it is.
    """
    text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
    try:
        value = jsoncodec.loads(text, slow=_strict_slow_loads)
    except RecursionError:
        raise JsonRefused(f"JSON nested deeper than {max_depth} levels") from None
    except JsonRefused:
        raise
    except ValueError as exc:
        raise JsonRefused(f"invalid JSON: {exc}") from None
    # Both checks walk the value; the C-speed counts below skip them for ordinary bodies.
    deep = text.count("[") + text.count("{") > max_depth
    escaped = "\\u" in text
    if deep or escaped:
        _walk_check(value, max_depth if deep else None, escaped)
    return value


def _walk_check(value: object, max_depth: int | None, strings: bool) -> None:
    # Only containers nest deeper; strings are visited only when they are checked too.
    kinds = (dict, list, str) if strings else (dict, list)
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            if strings:
                _strings_check(item.keys())
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            if strings and isinstance(item, str):
                _strings_check((item,))
            continue
        if max_depth is not None and depth > max_depth:
            raise JsonRefused(f"JSON nested deeper than {max_depth} levels")
        stack.extend((child, depth + 1) for child in children if isinstance(child, kinds))


def _strings_check(strings) -> None:
    for text in strings:
        if "\x00" in text:
            raise JsonRefused("strings may not contain NUL (\\u0000)")
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise JsonRefused("strings may not contain a lone UTF-16 surrogate") from None


def json_value_check(value: object, *, max_depth: int) -> None:
    """json_strict_loads' checks for a value parsed elsewhere (a function's output): JsonRefused."""
    _walk_check(value, max_depth, True)


def parse_json_object(data: bytes, *, batch: bool = False) -> dict:
    """The body as a JSON object; anything else is a 400 bad_request.

    Each event may nest json_max_depth() levels; a batch's envelope (`{"batch": [...]}`) adds two.
    """
    limit = json_max_depth() + (BATCH_ENVELOPE_LEVELS if batch else 0)
    try:
        value = json_strict_loads(data, max_depth=limit)
    except UnicodeDecodeError:
        raise IngestError(400, "bad_request", "Could not parse request body as JSON: invalid UTF-8")
    except JsonRefused as exc:
        raise IngestError(400, "bad_request", f"Could not parse request body as JSON: {exc}")
    if not isinstance(value, dict):
        raise IngestError(400, "bad_request", "Request body must be a JSON object")
    return value


def webhook_body_decode(data: bytes, content_type: str) -> object:
    """A source webhook body, checked to parse as JSON or form-encoded, kept as its raw text.

    The function's request.json() parses it (a form body becomes an object of strings and
    lists), and request.text() returns the bytes the sender signed, so HMAC signatures over the
    raw body (Stripe, GitHub, Slack) can be verified. An empty JSON body is an empty object.
    """
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise IngestError(400, "bad_request", "Could not parse request body")
    if mime == "application/json" or mime.endswith("+json"):
        if not text.strip():
            return {}
        try:
            json_strict_loads(text, max_depth=json_max_depth())
        except JsonRefused as exc:
            raise IngestError(400, "bad_request", f"Could not parse request body: {exc}")
        return text
    if mime == "application/x-www-form-urlencoded":
        parse_qs(text, keep_blank_values=True, strict_parsing=False)
        return text
    if not mime:
        raise IngestError(400, "bad_request", "Could not parse content-type")
    raise IngestError(400, "bad_request", f"Unsupported content-type {mime!r}")


def basic_auth_write_key(header: str) -> str | None:
    """The write key from `Authorization: Basic base64("<writeKey>:")`, if present."""
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    return decoded.split(":", 1)[0] or None


def _size(message: dict) -> int:
    return len(jsoncodec.dumps_bytes(message, default=str))


def message_validate(message: object) -> None:
    """Raise IngestError (400) when a message breaks the Tracking API rules (spec §13.2)."""
    if not isinstance(message, dict):
        raise IngestError(400, "bad_request", "Each message must be a JSON object")
    kind = message.get("type")
    if kind not in EVENT_TYPES:
        raise IngestError(400, "bad_request", f"Unknown message type {kind!r}")
    if _size(message) > MAX_EVENT_BYTES:
        raise IngestError(413, "too_large", "the message is too large and over the maximum 32KB limit")
    _ids_validate(message)
    _fields_validate(kind, message)


def _ids_validate(message: dict) -> None:
    user_id, anonymous_id = message.get("userId"), message.get("anonymousId")
    if user_id in (None, "") and anonymous_id in (None, ""):
        raise IngestError(400, "no_user_anon_id", "One of userId, anonymousId is required")
    for value in (user_id, anonymous_id):
        if value not in (None, "") and not isinstance(value, (str, int, float)):
            raise IngestError(400, "id_not_string", "userId and anonymousId must be strings")
    message_id = message.get("messageId")
    if message_id is not None and (not isinstance(message_id, str) or len(message_id) > MAX_MESSAGE_ID_CHARS):
        raise IngestError(400, "bad_request", "messageId must be a string under 100 characters")


def _fields_validate(kind: str, message: dict) -> None:
    if kind == "track":
        if message.get("event") in (None, ""):
            raise IngestError(400, "event_not_defined", "track requires event")
        if not isinstance(message["event"], str):
            raise IngestError(400, "event_not_string", "event must be a string")
    if kind == "group" and message.get("groupId") in (None, ""):
        raise IngestError(400, "id_required", "group requires groupId")
    if kind == "alias" and message.get("previousId") in (None, ""):
        raise IngestError(400, "id_required", "alias requires previousId")
    if kind in ("page", "screen"):
        for name, code in (("name", "name_not_string"), ("category", "category_not_string")):
            if message.get(name) is not None and not isinstance(message[name], str):
                raise IngestError(400, code, f"{name} must be a string")
    for name, code in (("properties", "properties_not_object"), ("traits", "traits_not_object")):
        if message.get(name) is not None and not isinstance(message[name], dict):
            raise IngestError(400, code, f"{name} must be an object")
    for name in ("context", "integrations"):
        if message.get(name) is not None and not isinstance(message[name], dict):
            raise IngestError(400, "bad_request", f"{name} must be an object")


def message_normalise(
    message: dict,
    *,
    write_key: str,
    received_at: str,
    library: dict | None = None,
    message_id: str | None = None,
) -> dict:
    """Stamp the pipeline fields Segment adds: messageId, timestamps, writeKey, context.library."""
    out = dict(message)
    out["messageId"] = out.get("messageId") or message_id or str(uuid.uuid4())
    out["receivedAt"] = received_at
    out.setdefault("sentAt", received_at)
    if not out.get("timestamp"):
        out["timestamp"] = out.get("originalTimestamp") or received_at
    out["writeKey"] = write_key
    context = dict(out.get("context") or {})
    if library and not context.get("library"):
        context["library"] = library
    out["context"] = context
    out.setdefault("integrations", {})
    for name in ("userId", "anonymousId"):
        if isinstance(out.get(name), (int, float)) and not isinstance(out.get(name), bool):
            out[name] = str(out[name])
    return out


def tracking_messages(body: dict, kind: str) -> list[dict]:
    """The messages of one Tracking API request: the body itself, or its `batch` merged with
    the batch-level context and integrations. Raises IngestError for a bad batch."""
    if kind != "batch":
        return [{**body, "type": kind}]
    batch = body.get("batch")
    if not isinstance(batch, list):
        raise IngestError(400, "bad_request", "batch must be an array")
    if not batch:
        raise IngestError(400, "empty_batch", "batch is empty")
    if len(batch) > MAX_BATCH_EVENTS:
        raise IngestError(400, "bad_request", f"batch holds over {MAX_BATCH_EVENTS} messages")
    shared = {k: body[k] for k in ("context", "integrations") if isinstance(body.get(k), dict)}
    return [_merge_shared(m, shared) for m in batch]


def _merge_shared(message: object, shared: dict) -> object:
    if not isinstance(message, dict) or not shared:
        return message
    out = dict(message)
    for key, value in shared.items():
        out[key] = (
            {**value, **(out.get(key) or {})} if isinstance(out.get(key), dict) else out.get(key, value)
        )
    return out


@dataclass(frozen=True)
class Drop:
    """A message refused on its own (Segment's partial accept): its index, code and reason."""

    index: int
    code: str
    message: str
    event: object


def tracking_batch_prepare(
    messages: list, *, write_key: str, sent_at: str | None = None
) -> tuple[list[dict], list[Drop]]:
    """Validate each message on its own and normalise the valid ones for the pipeline.

    Returns (valid messages, drops): like Segment, one invalid message does not refuse the
    others; the caller counts and shows the drops.
    """
    received_at = now_iso()
    valid, drops = [], []
    for index, message in enumerate(messages):
        try:
            message_validate(message)
        except IngestError as exc:
            drops.append(Drop(index, exc.code, exc.message, message))
            continue
        if sent_at and not message.get("sentAt"):
            message = {**message, "sentAt": sent_at}
        valid.append(message_normalise(message, write_key=write_key, received_at=received_at))
    return valid, drops


def emitted_events_prepare(events: list, *, write_key: str, run_id: str) -> tuple[list[dict], list[dict]]:
    """Normalise a source function's emitted events; return (valid events, rejections).

    A rejection is {"event", "code", "message"}; valid events get deterministic messageIds.
    """
    received_at = now_iso()
    valid, rejected = [], []
    max_depth = json_max_depth()
    for index, event in enumerate(events):
        try:
            _emitted_check(event, max_depth)  # first: the size check encodes the event as UTF-8
            message_validate(event)
        except IngestError as exc:
            rejected.append({"event": event, "code": exc.code, "message": exc.message})
            continue
        stable_id = str(uuid.uuid5(MESSAGE_ID_NAMESPACE, f"{run_id}:{index}"))
        valid.append(
            message_normalise(
                event,
                write_key=write_key,
                received_at=received_at,
                library=LIBRARY_FUNCTIONS,
                message_id=stable_id,
            )
        )
    return valid, rejected


def _emitted_check(event: object, max_depth: int) -> None:
    # Events from the tracking API were checked as the request was parsed; a function's are not.
    try:
        json_value_check(event, max_depth=max_depth)
    except JsonRefused as exc:
        raise IngestError(400, "bad_request", f"the event is refused: {exc}") from None
