"""Recent events per source, for the editor's test pane ("recent events of a source").

Where the pipeline accepts events (a Tracking API request, a source function run), the newest
`KEEP` normalised events of the source are kept in Django's cache (Redis in production, local
memory in embedded mode) under one key per source: one read-modify-write per request or flush,
whatever its size. Samples drop `writeKey`; events over `MAX_SAMPLE_BYTES` are skipped. Keeping
samples is best effort: a cache error is logged and never fails or delays ingest beyond the
cache call itself. Two requests of one source at the same moment may overwrite each other's
samples (last write wins), which is fine for test samples.
"""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.core.cache import cache

from ..sandbox import jsoncodec

log = logging.getLogger(__name__)

KEEP = 20
MAX_SAMPLE_BYTES = 32 * 1024
TTL_S = 7 * 24 * 3600
STRIPPED = ("writeKey",)


def _key(source_id) -> str:
    return f"{settings.PIPELINE_KEY_PREFIX}:samples:{int(source_id)}"


def _encoded(event) -> str | None:
    """The event as compact JSON without `writeKey`, or None when it is not kept."""
    if not isinstance(event, dict):
        return None
    kept = {k: v for k, v in event.items() if k not in STRIPPED}
    encoded = jsoncodec.dumps_bytes(kept, default=str, escape_surrogates=True)
    return encoded.decode() if len(encoded) <= MAX_SAMPLE_BYTES else None


def samples_record(source_id, events: list) -> None:
    """Keep the newest events of a batch (the last ones) as the source's most recent samples."""
    try:
        fresh: list[str] = []
        for event in reversed(events):
            if len(fresh) == KEEP:
                break
            encoded = _encoded(event)
            if encoded is not None:
                fresh.append(encoded)
        if not fresh:
            return
        key = _key(source_id)
        kept = cache.get(key)
        kept = kept if isinstance(kept, list) else []
        cache.set(key, (fresh + kept)[:KEEP], TTL_S)
    except Exception:  # best effort: ingest must not fail because the cache did
        log.warning("could not keep sample events for source %s", source_id, exc_info=True)


def samples_recent(source_id) -> list[dict]:
    """The source's most recent accepted events, newest first (empty when none or on error)."""
    try:
        kept = cache.get(_key(source_id))
    except Exception:
        log.warning("could not read sample events for source %s", source_id, exc_info=True)
        return []
    if not isinstance(kept, list):
        return []
    out = []
    for text in kept:
        try:
            out.append(json.loads(text))
        except (TypeError, ValueError):
            continue
    return out
