"""Reads of the request inspector: its requests, newest first, as the pages and the API show them."""

from __future__ import annotations

from ..models import InspectedRequest, RequestInspector
from .masking import request_mask
from .services import TAG, settings_secrets, token_of


def inspector_requests(*, inspector: RequestInspector, after_id: int | None = None, limit: int = 100):
    """The inspector's kept requests, newest first (only those after `after_id` when given)."""
    queryset = InspectedRequest.objects.filter(inspector=inspector).select_related("instance__function")
    if after_id is not None:
        queryset = queryset.filter(pk__gt=after_id)
    return queryset.order_by("-created_at", "-id")[:limit]


def inspected_as_dict(row: InspectedRequest) -> dict:
    """One kept request as plain data (already masked when it was kept)."""
    instance = row.instance
    return {
        "id": row.pk,
        "at": row.created_at.isoformat(),
        "sender": row.sender,
        "senderLabel": row.get_sender_display(),
        "instance": None if instance is None else {"id": instance.public_id, "name": instance.name},
        "method": row.method,
        "url": row.url,
        "path": _path_after_token(row.url),
        "headers": row.headers,
        "body": row.body,
        "bodyBase64": row.body_base64,
        "size": row.size,
        "truncated": row.truncated,
    }


def _path_after_token(url: str) -> str:
    token = token_of(url)
    head, _, rest = url.partition(token) if token else (url, "", "")
    return rest or "/"


def captures_display(captures: list[dict], *, settings: dict, sensitive=()) -> list[dict]:
    """A test run's captured fetches for the test pane, masked, each saying whether a workspace's
    inspector kept it (a URL with an unknown token is answered all the same, and kept nowhere)."""
    tokens = {token_of(str(c.get("url", ""))) for c in captures if c.get("tag") == TAG}
    known = set(RequestInspector.objects.filter(token__in=tokens - {""}).values_list("token", flat=True))
    secrets = settings_secrets(settings, sensitive)
    out = []
    for c in captures:
        masked = request_mask(
            method=str(c.get("method") or "GET"),
            url=str(c.get("url") or ""),
            headers=c.get("headers") or [],
            body=str(c.get("body") or ""),
            base64=c.get("bodyEnc") == "base64",
            secrets=secrets,
        )
        kept = c.get("tag") == TAG and token_of(masked["url"]) in known
        out.append(
            {
                **masked,
                "tag": c.get("tag"),
                "size": c.get("size"),
                "truncated": bool(c.get("truncated")),
                "kept": kept,
            }
        )
    return out
