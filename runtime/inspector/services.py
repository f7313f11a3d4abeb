"""Writes of the request inspector: a workspace's inspector, recording requests, retention.

Requests arrive two ways and are kept the same way (masked, the newest INSPECTOR_KEEP per
inspector):
- a function's fetch to `<PUBLIC_BASE_URL>/inspect/<token>…` is answered by the sandbox host
  itself (the standing rule of `host_rules`) and handed over with the call's results
  (`captures_record`, the Sandbox's `on_captured`): no network, no exception to the egress
  policy, so it works on a machine without internet and a worker that cannot reach the web;
- any other client reaches the HTTP endpoint (`views.inspect`, `inspector_record`).
"""

from __future__ import annotations

import base64
import json
import logging
from datetime import datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from ..choices import InspectedSender
from ..models import FunctionInstance, InspectedRequest, RequestInspector
from .masking import request_mask, secret_name

log = logging.getLogger(__name__)

INSPECT_PATH = "/inspect/"
TAG = "inspector"  # the host rule's tag: captures with it are the inspector's
ANSWER = {"ok": True}
MAX_BODY_CHARS = 64 * 1024


def inspector_for(*, workspace) -> RequestInspector:
    """The workspace's request inspector, created on first use."""
    inspector, _ = RequestInspector.objects.get_or_create(workspace=workspace)
    return inspector


def inspectors_ensure(*, workspaces) -> None:
    """Create the missing inspectors of `workspaces` (a queryset), in one statement."""
    missing = workspaces.filter(request_inspector__isnull=True).values_list("pk", flat=True)
    RequestInspector.objects.bulk_create(
        [RequestInspector(workspace_id=pk) for pk in missing], ignore_conflicts=True
    )


def host_rules() -> list[dict]:
    """The sandbox host's standing answer rule: every fetch to this platform's inspector path."""
    return [
        {
            "prefix": f"{settings.PUBLIC_BASE_URL}{INSPECT_PATH}",
            "tag": TAG,
            "status": 200,
            "headers": {"content-type": "application/json"},
            "body": json.dumps(ANSWER),
        }
    ]


def token_of(url: str) -> str:
    """The inspector token in an inspector URL ("" when there is none)."""
    try:
        path = urlsplit(url).path
    except ValueError:
        return ""
    if not path.startswith(INSPECT_PATH):
        return ""
    return path[len(INSPECT_PATH) :].split("/", 1)[0]


def settings_secrets(values: dict, sensitive=()) -> list:
    """The setting values that are secrets: the sensitive ones, and those named like credentials."""
    return [
        v
        for k, v in (values or {}).items()
        if isinstance(v, (str, int)) and not isinstance(v, bool) and (k in sensitive or secret_name(k))
    ]


def _row(
    inspector, *, sender, instance=None, method, url, headers, body, base64_body, size, truncated, secrets, at
):
    masked = request_mask(
        method=method, url=url, headers=headers, body=body, base64=base64_body, secrets=secrets
    )
    return InspectedRequest(
        inspector=inspector,
        sender=sender,
        instance=instance,
        method=masked["method"],
        url=masked["url"][:4096],
        headers=masked["headers"][:200],
        body=masked["body"][:MAX_BODY_CHARS],
        body_base64=base64_body,
        size=size,
        truncated=truncated or len(masked["body"]) > MAX_BODY_CHARS,
        created_at=at or timezone.now(),
    )


def _keep(rows: list[InspectedRequest]) -> None:
    # One transaction per call or request: the rows, then the trim of each inspector touched.
    with transaction.atomic():
        InspectedRequest.objects.bulk_create(rows)
        for inspector_id in {row.inspector_id for row in rows}:
            inspector_trim(inspector_id=inspector_id)


def inspector_trim(*, inspector_id: int) -> None:
    """Delete the inspector's requests beyond the newest INSPECTOR_KEEP."""
    keep = settings.INSPECTOR_KEEP
    stale = InspectedRequest.objects.filter(inspector_id=inspector_id).order_by("-created_at", "-id")
    ids = list(stale.values_list("id", flat=True)[keep : keep + 1000])
    if ids:
        InspectedRequest.objects.filter(id__in=ids).delete()


def inspector_record(
    *, inspector: RequestInspector, method: str, url: str, headers, body: bytes
) -> InspectedRequest:
    """Keep one request an HTTP client sent to the inspector (the endpoint's write)."""
    try:
        text, is_b64, truncated = body.decode("utf-8"), False, False
    except UnicodeDecodeError:  # binary: the first bytes, as base64 within the kept size
        kept = body[: MAX_BODY_CHARS * 3 // 4]
        text, is_b64, truncated = base64.b64encode(kept).decode(), True, len(kept) < len(body)
    row = _row(
        inspector,
        sender=InspectedSender.HTTP,
        method=method,
        url=url,
        headers=headers,
        body=text,
        base64_body=is_b64,
        size=len(body),
        truncated=truncated,
        secrets=(),
        at=None,
    )
    _keep([row])
    return row


def captures_record(request, captures: list[dict]) -> int:
    """Keep the inspector captures of one sandbox call (or one instance's calls).

    `request` is the SandboxRequest: its instance key says which instance sent them (none: a
    test run) and its settings which values to mask. Captures of an unknown token are not kept.
    Best effort: a database error is logged, never raised into the pipeline. Returns the count.
    """
    mine = [c for c in captures if c.get("tag") == TAG and token_of(str(c.get("url", "")))]
    if not mine:
        return 0
    try:
        return _captures_keep(request, mine)
    except DatabaseError:
        log.warning("could not record %d inspector requests", len(mine), exc_info=True)
        return 0


def _captures_keep(request, captures: list[dict]) -> int:
    inspectors = {
        i.token: i for i in RequestInspector.objects.filter(token__in={token_of(c["url"]) for c in captures})
    }
    instance = _sender_instance(request.instance_key)
    secrets = settings_secrets(request.settings or {})
    if instance is not None:
        secrets += [v for v in instance.secret_values().values() if isinstance(v, (str, int))]
    sender = InspectedSender.FUNCTION if instance is not None else InspectedSender.TEST
    rows = [
        _row(
            inspector,
            sender=sender,
            instance=instance,
            method=str(c.get("method") or "GET"),
            url=str(c["url"]),
            headers=c.get("headers") or [],
            body=str(c.get("body") or ""),
            base64_body=c.get("bodyEnc") == "base64",
            size=int(c.get("size") or 0),
            truncated=bool(c.get("truncated")),
            secrets=secrets,
            at=_when(c.get("at")),
        )
        for c in captures
        if (inspector := inspectors.get(token_of(c["url"]))) is not None
    ]
    if rows:
        _keep(rows)
    return len(rows)


def _sender_instance(instance_key: str | None) -> FunctionInstance | None:
    # The pipeline's warm-isolate key is "<instance public id>:<version id>" (pipeline.invoke).
    if not instance_key:
        return None
    return FunctionInstance.objects.filter(public_id=instance_key.split(":", 1)[0]).first()


def _when(text) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
