"""Public ingest endpoints: source webhooks and the Segment-compatible Tracking API.

Both answer `200 {"success": true}` only once the work is queued; the work itself (source
function, routing, delivery) happens in Celery tasks (docs/pipeline.md).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import ingest
from .pipeline.routing import QueueUnavailable
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


@csrf_exempt
@require_POST
def webhook(request, token: str):
    """POST <base>/hooks/<token>: queue the request for the source function."""
    instance_id = webhook_instance_id(token)
    if instance_id is None:
        return _error(404, "unknown_source", "Unknown or disabled source")
    try:
        raw = _read_body(request, ingest.MAX_WEBHOOK_BYTES)
        body = ingest.webhook_body_decode(raw, request.META.get("CONTENT_TYPE", ""))
    except ingest.IngestError as e:
        return _refused(e)
    item = {
        "id": uuid.uuid4().hex,
        "received_at": ingest.now_iso(),
        "payload": {
            "method": "POST",
            "url": f"{settings.PUBLIC_BASE_URL}{request.get_full_path()}",
            "headers": _multi_map(request.headers.items()),
            "query": {k: v[0] if len(v) == 1 else v for k, v in request.GET.lists()},
            "body": body,
        },
    }
    try:
        webhook_accept(instance_id=instance_id, request_item=item)
    except QueueUnavailable:
        return _error(503, "unavailable", "The queue is unavailable; retry later")
    return JsonResponse(OK)


@csrf_exempt
@require_POST
def tracking(request, kind: str):
    """POST /v1/<type>: Segment's HTTP Tracking API (write key by Basic auth or in the body)."""
    path_type = "batch" if kind in ("batch", "import") else kind
    limit = ingest.MAX_BATCH_BYTES if path_type == "batch" else ingest.MAX_EVENT_BYTES
    try:
        if request.content_type != "application/json":
            raise ingest.IngestError(400, "bad_request", "Content-Type must be application/json")
        body = ingest.parse_json_object(_read_body(request, limit))
        source = _tracking_source(request, body)
        messages = ingest.tracking_batch_prepare(
            ingest.tracking_messages(body, path_type),
            write_key=source.write_key,
            sent_at=body.get("sentAt") if isinstance(body.get("sentAt"), str) else None,
        )
        tracking_accept(source=source, messages=messages)
    except ingest.IngestError as e:
        # Segment answers 400 for oversize tracking calls (413 is kept for webhooks).
        return _refused(e, 400 if e.code == "too_large" else None)
    except QueueUnavailable:
        return _error(503, "unavailable", "The queue is unavailable; retry later")
    return JsonResponse(OK)


def _tracking_source(request, body: dict):
    write_key = ingest.basic_auth_write_key(request.META.get("HTTP_AUTHORIZATION", ""))
    write_key = write_key or body.get("writeKey")
    source = tracking_source(write_key) if isinstance(write_key, str) and write_key else None
    if source is None:
        raise ingest.IngestError(401, "unknown_source", "Unknown or missing write key")
    if not source.enabled:
        raise ingest.IngestError(403, "source_disabled", "The source is disabled")
    return source
