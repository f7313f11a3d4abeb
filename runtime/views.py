"""Public ingest endpoints: source webhooks and the Segment-compatible Tracking API.

Both answer `200 {"success": true}` only once the work is queued; the work itself (source
function, routing, delivery) happens in Celery tasks (docs/pipeline.md).
"""

from __future__ import annotations

import functools
import uuid

from django.conf import settings
from django.db import DatabaseError
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from functions_platform import request_ids, throttle
from workspaces.models import Source

from . import ingest, metrics
from .debugger.recorder import tracking_request_record, webhook_request_record
from .pipeline.drops import drops_record
from .pipeline.errors import QueueUnavailable
from .pipeline.sources import tracking_accept, tracking_source, webhook_accept, webhook_instance_id

OK = {"success": True}


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"success": False, "code": code, "message": message}, status=status)


def _refused(e: ingest.IngestError, status: int | None = None) -> JsonResponse:
    return _error(status or e.status, e.code, e.message)


def _multi_map(pairs) -> dict:
    """Header or query pairs as {name: str | [str]} (a repeated name becomes a list)."""
    out: dict = {}
    for key, value in pairs:
        prev = out.get(key)
        out[key] = value if prev is None else [*prev, value] if isinstance(prev, list) else [prev, value]
    return out


def _read_body(request, limit: int) -> bytes:
    """The request body, decompressed, refusing anything past `limit` bytes (IngestError)."""
    declared = request.META.get("CONTENT_LENGTH") or ""
    if declared.isdigit() and int(declared) > limit:
        raise ingest.IngestError(413, "too_large", f"Request body over {limit} bytes")
    raw = request.read(limit + 1)
    if len(raw) > limit:
        raise ingest.IngestError(413, "too_large", f"Request body over {limit} bytes")
    return ingest.read_body(raw, encoding=request.META.get("HTTP_CONTENT_ENCODING", ""), limit=limit)


def _unavailable_as_503(view):
    """Nothing is accepted when the queue or the database cannot take it: 503, retry later."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except QueueUnavailable:
            return _error(503, "unavailable", "The queue is unavailable; retry later")
        except DatabaseError:
            return _error(503, "unavailable", "The database is unavailable; retry later")

    return wrapped


def _throttled(exc: throttle.Throttled) -> JsonResponse:
    response = _error(429, "rate_limited", str(exc))
    response["Retry-After"] = str(exc.wait)
    return response


@csrf_exempt
@metrics.ingest_counted("webhook")
@require_POST
@_unavailable_as_503
def webhook(request, token: str):
    """POST <base>/hooks/<token>: queue the request for the source function."""
    try:
        throttle.check(request)
        instance_id = webhook_instance_id(token)
        if instance_id is None:
            if not Source.objects.filter(webhook_token=token).exists():
                throttle.failure(request)  # a guessed token (not a disabled source's) counts
            return _error(404, "unknown_source", "Unknown or disabled source")
    except throttle.Throttled as exc:
        return _throttled(exc)
    try:
        raw = _read_body(request, ingest.MAX_WEBHOOK_BYTES)
        body = ingest.webhook_body_decode(raw, request.META.get("CONTENT_TYPE", ""))
    except ingest.IngestError as e:
        # The source debugger shows refused requests too: a sender's mistake is found there.
        webhook_request_record(
            instance_id=instance_id, item=_webhook_item(request, ""), status=e.status, error=e.message
        )
        return _refused(e)
    item = _webhook_item(request, body)
    webhook_accept(instance_id=instance_id, request_item=item)
    metrics.stage_observe("ingest", received=1, sent=1)
    webhook_request_record(instance_id=instance_id, item=item)
    return JsonResponse(OK)


def _webhook_item(request, body) -> dict:
    """The pipeline's request item: what the source function's onRequest receives."""
    return {
        "id": uuid.uuid4().hex,
        "received_at": ingest.now_iso(),
        "request_id": request_ids.current(),
        "payload": {
            "method": "POST",
            "url": f"{settings.PUBLIC_BASE_URL}{request.get_full_path()}",
            "headers": _multi_map(request.headers.items()),
            "query": {k: v[0] if len(v) == 1 else v for k, v in request.GET.lists()},
            "body": body,
        },
    }


@csrf_exempt
@metrics.ingest_counted("{kind}")
@require_POST
@_unavailable_as_503
def tracking(request, kind: str):
    """POST /v1/<type>: Segment's HTTP Tracking API (write key by Basic auth or in the body).

    A batch is accepted message by message, as Segment does: the valid ones are queued, the
    invalid ones dropped and counted on the source (`drops`); a single call with an invalid
    message is refused with its code. Oversize, malformed or unauthenticated requests are
    refused whole.
    """
    path_type = "batch" if kind in ("batch", "import") else kind
    source, dropped = None, []
    try:
        throttle.check(request)
        body = _tracking_body(request, path_type)
        source = _tracking_source(request, body)
        messages, dropped = ingest.tracking_batch_prepare(
            ingest.tracking_messages(body, path_type),
            write_key=source.write_key,
            sent_at=body.get("sentAt") if isinstance(body.get("sentAt"), str) else None,
        )
        if dropped and path_type != "batch":
            raise ingest.IngestError(400, dropped[0].code, dropped[0].message)
        if messages:
            tracking_accept(source=source, messages=messages)
        metrics.stage_observe(
            "ingest", received=len(messages) + len(dropped), sent=len(messages), events=messages
        )
    except throttle.Throttled as exc:
        return _throttled(exc)
    except ingest.IngestError as e:
        if source is not None and source.enabled:
            _tracking_record(request, source, kind, [], dropped, e)
        # Segment answers 400 for oversize tracking calls (413 is kept for webhooks).
        return _refused(e, 400 if e.code == "too_large" else None)
    if dropped:
        drops_record(source_id=source.pk, drops=dropped)
    _tracking_record(request, source, kind, messages, dropped)
    return JsonResponse(OK)


def _tracking_record(request, source, kind: str, messages, dropped, error=None) -> None:
    """Show the request in the source debugger (best effort: never fails the request)."""
    tracking_request_record(
        source_id=source.pk,
        request_id=uuid.uuid4().hex,
        at=ingest.now_iso(),
        call=kind,
        payload={
            "method": "POST",
            "url": request.get_full_path(),
            "headers": _multi_map(request.headers.items()),
        },
        messages=messages,
        drops=dropped,
        status=400 if error else 200,
        error=error.message if error else "",
        code=error.code if error else "",
    )


def _tracking_body(request, path_type: str) -> dict:
    """The request body as a JSON object (the one parsing call site of the Tracking API)."""
    if request.content_type != "application/json":
        raise ingest.IngestError(400, "bad_request", "Content-Type must be application/json")
    limit = ingest.MAX_BATCH_BYTES if path_type == "batch" else ingest.MAX_EVENT_BYTES
    return ingest.parse_json_object(_read_body(request, limit), batch=path_type == "batch")


def _tracking_source(request, body: dict):
    write_key = ingest.basic_auth_write_key(request.META.get("HTTP_AUTHORIZATION", ""))
    write_key = write_key or body.get("writeKey")
    source = tracking_source(write_key) if isinstance(write_key, str) and write_key else None
    if source is None:
        if write_key:
            throttle.failure(request)  # a guessed write key counts against the address
        raise ingest.IngestError(401, "unknown_source", "Unknown or missing write key")
    if not source.enabled:
        raise ingest.IngestError(403, "source_disabled", "The source is disabled")
    return source
