"""Is the pipeline's Redis durable? A 200 promises the event survives a Redis restart.

Buffered mode keeps accepted events in Redis lists until a worker delivers them, so a Redis
that does not persist (no AOF) loses them when it restarts. Production mode requires AOF with
`appendfsync everysec` or `always`; an operator who accepts the loss says so with
PIPELINE_REDIS_VOLATILE_OK. Checked by system check runtime.E101 (`manage.py check --deploy`,
run before the web, worker and beat start in docker/compose.yaml) and by /readyz.
"""

from __future__ import annotations

import redis
from django.conf import settings
from django.core.checks import Error, Warning, register

from . import store


def persistence_problem() -> str | None:
    """Why the pipeline's Redis would lose accepted events on a restart; None when it would not.

    None as well in embedded mode, when the operator accepted the loss, or when Redis cannot be
    asked (reachability is /readyz's broker check, not this one).
    """
    if not store.buffered() or settings.PIPELINE_REDIS_VOLATILE_OK:
        return None
    try:
        infos = store.node_infos("persistence")  # every primary of a cluster
    except redis.RedisError:
        return None
    if not all(int(info.get("aof_enabled") or 0) for info in infos):
        return "the pipeline's Redis does not write an append-only file (appendonly no)"
    fsync = _appendfsync()
    if fsync == "no":
        return "the pipeline's Redis has appendfsync no (the OS decides when writes reach disk)"
    return None


def _appendfsync() -> str | None:
    try:
        value = store.client().config_get("appendfsync").get("appendfsync")
    except redis.RedisError:
        return None  # CONFIG is often disabled on managed Redis: AOF on is what we can see
    return value.decode() if isinstance(value, bytes) else value


def persistence_ok() -> bool:
    """For /readyz: False when production mode runs on a Redis that would lose events."""
    return persistence_problem() is None


@register("pipeline", deploy=True)
def redis_persistence_check(app_configs=None, **kwargs):
    problem = persistence_problem()
    if problem:
        return [
            Error(
                f"{problem}: events answered 200 would be lost if Redis restarts.",
                hint="Run Redis with `--appendonly yes --appendfsync everysec` (docker/compose.yaml "
                "does), or set PIPELINE_REDIS_VOLATILE_OK=true to accept that loss (docs/pipeline.md).",
                id="runtime.E101",
            )
        ]
    if store.buffered() and settings.PIPELINE_REDIS_VOLATILE_OK:
        return [
            Warning(
                "PIPELINE_REDIS_VOLATILE_OK is set: events accepted but not yet delivered are lost "
                "if the pipeline's Redis restarts without persistence.",
                id="runtime.W101",
            )
        ]
    return []
