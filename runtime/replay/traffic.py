"""What a replay replays: the recent real traffic of an instance, newest first.

A destination or insert instance replays the recent events of its source; a source function's
instance the recent webhook requests of its own source (as the function receives them:
{method, url, headers, query, body}). Both come from the source debugger's recorder (the last
DEBUGGER_KEEP, 500, per source, read unmasked: they only enter the sandbox, and what a replay
stores is masked). When the recorder has nothing (turned off, or its store unreachable), the
pipeline's sample events (the newest 20 per source) and the function's captured test-webhook
requests stand in.
"""

from __future__ import annotations

from catalog.choices import ResourceType

from ..debugger.selectors import source_recent_events, source_recent_requests
from ..pipeline.samples import samples_recent


def recent_traffic(*, instance, limit: int) -> list:
    """Up to `limit` recent payloads for `instance`'s function, newest first."""
    if limit <= 0:
        return []
    if instance.function.resource_type == ResourceType.SOURCE:
        return _recorded_requests(instance, limit) or _captured_requests(instance, limit)
    return _recorded_events(instance, limit) or _sample_events(instance, limit)


def _recorded_events(instance, limit: int) -> list[dict]:
    rows = source_recent_events(source=instance.source, limit=limit, masked=False)
    return [row["event"] for row in rows if isinstance(row.get("event"), dict)][:limit]


def _sample_events(instance, limit: int) -> list[dict]:
    return [e for e in samples_recent(instance.source_id) if isinstance(e, dict)][:limit]


def _recorded_requests(instance, limit: int) -> list[dict]:
    rows = source_recent_requests(source=instance.source, limit=limit, masked=False)
    # A request whose body the recorder cut is not what the function received: not replayed.
    return [
        row["payload"]
        for row in rows
        if row.get("kind") == "webhook" and not row.get("truncated") and isinstance(row.get("payload"), dict)
    ][:limit]


def _captured_requests(instance, limit: int) -> list[dict]:
    captures = instance.function.captures.order_by("-created_at", "-id")[:limit]
    return [
        {
            "method": c.method,
            "url": instance.source.webhook_url,
            "headers": c.headers,
            "query": c.query,
            "body": c.body,
        }
        for c in captures
    ]
