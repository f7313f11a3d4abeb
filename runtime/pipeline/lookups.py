"""Who receives what: instance and source lookups, cached briefly in each web and worker process.

A busy worker asks the same questions (is this destination enabled? which inserts sit in
front of it? which destinations does this source feed?) for every micro-batch. In buffered
mode the answers are kept for PIPELINE_LOOKUP_CACHE_S (1 s by default), so disabling a
destination or deploying a new version reaches running workers within that time; eager
(embedded) mode always asks the database. Ingest asks too (which source function instance
is behind a webhook token, which source a write key names): with the answer cached, an
accepted request costs no database round trip at all.
"""

from __future__ import annotations

import threading
import time

from django.conf import settings

from catalog.choices import ResourceType
from workspaces.models import Source

from ..models import FunctionInstance
from . import store

_cache: dict = {}
_lock = threading.Lock()


def cached(key: tuple, loader, *, misses: bool = True):
    """`loader()`, remembered for PIPELINE_LOOKUP_CACHE_S (buffered mode); with misses=False a
    None answer is not remembered (a new source is found at once, a guessed token costs its
    query every time)."""
    ttl = settings.PIPELINE_LOOKUP_CACHE_S
    if ttl <= 0 or not store.buffered():
        return loader()
    now = time.monotonic()
    with _lock:
        hit = _cache.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    value = loader()
    if value is None and not misses:
        return value
    with _lock:
        if len(_cache) > 10_000:
            _cache.clear()
        _cache[key] = (now + ttl, value)
    return value


def _running(queryset=None):
    queryset = FunctionInstance.objects.running() if queryset is None else queryset
    return queryset.select_related("function", "deployed_version", "source")


def destination_instance(instance_id: int) -> FunctionInstance | None:
    """The instance, if it exists, is enabled and has a deployed version."""
    return cached(("destination", instance_id), lambda: _running().filter(pk=instance_id).first())


def destination_inserts(instance: FunctionInstance) -> list[FunctionInstance]:
    """Enabled destination insert functions in front of a destination, in creation order."""
    return cached(
        ("destination_inserts", instance.pk),
        lambda: list(_running().filter(destination=instance).order_by("id")),
    )


def source_destinations(source: Source) -> list[FunctionInstance]:
    """Enabled destination instances connected to a source."""
    return cached(
        ("source_destinations", source.pk),
        lambda: list(
            _running().filter(source=source, function__resource_type=ResourceType.DESTINATION).order_by("id")
        ),
    )


def source_inserts(source: Source) -> list[FunctionInstance]:
    """Enabled source insert functions of a source, in creation order."""
    return cached(
        ("source_inserts", source.pk),
        lambda: list(
            _running()
            .filter(source=source, function__resource_type=ResourceType.INSERT_SOURCE)
            .order_by("id")
        ),
    )


def source_function_instance(instance_id: int) -> FunctionInstance | None:
    """A running source function instance whose source is enabled."""
    return cached(
        ("source_function", instance_id),
        lambda: _running(FunctionInstance.objects.running_sources()).filter(pk=instance_id).first(),
    )


def enabled_source(source_id: int) -> Source | None:
    """The source, if it exists and is enabled."""
    return cached(("source", source_id), lambda: Source.objects.filter(pk=source_id, enabled=True).first())
