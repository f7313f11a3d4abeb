"""Which canary or watch an instance has right now, cached per process like the pipeline's
other lookups (the delivery asks once per batch)."""

from __future__ import annotations

import threading
import time

from django.conf import settings

from ..pipeline import store
from .choices import CanaryStatus
from .models import Canary

_cache: dict[int, tuple[float, Canary | None]] = {}
_lock = threading.Lock()


def active_for(instance_id: int) -> Canary | None:
    """The instance's ACTIVE canary or watch (cached like the pipeline's other lookups)."""
    ttl = settings.PIPELINE_LOOKUP_CACHE_S
    if ttl <= 0 or not store.buffered():
        return _load(instance_id)
    now = time.monotonic()
    with _lock:
        hit = _cache.get(instance_id)
    if hit is not None and hit[0] > now:
        return hit[1]
    value = _load(instance_id)
    with _lock:
        if len(_cache) > 10_000:
            _cache.clear()
        _cache[instance_id] = (now + ttl, value)
    return value


def forget(instance_id: int) -> None:
    """Drop this process's cached canary of an instance (after a decision taken here)."""
    with _lock:
        _cache.pop(instance_id, None)


def _load(instance_id: int) -> Canary | None:
    return (
        Canary.objects.select_related("version", "base_version")
        .filter(instance_id=instance_id, status=CanaryStatus.ACTIVE)
        .first()
    )
