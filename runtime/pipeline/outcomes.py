"""What a function's result means for an event: delivered, retry, or a final error category."""

from __future__ import annotations

import random

from django.conf import settings

from functions_platform.celery import app as celery_app

from ..choices import ErrorCategory

RETRYABLE = {"RetryError": ErrorCategory.RETRY, "Timeout": ErrorCategory.TIMEOUT}
# Platform trouble (the host died, the call could not be made) is not the user's fault: retry.
# That covers the calls merely in flight when a host died (replayed by the sandbox, then
# SandboxUnavailable), a host killed from outside, and a quarantined function's refusal.
# A host death the sandbox charged to the call itself (error["attributed"]: its isolate's
# fatal error, or it killed a fresh host again on its own) is the function's fault: final.
INFRASTRUCTURE = {"SandboxUnavailable", "InternalError", "Crash"}
CATEGORY_BY_TYPE = {
    "EventNotSupported": ErrorCategory.UNSUPPORTED_EVENT_TYPE,
    "ValidationError": ErrorCategory.MESSAGE_REJECTED,
    "InvalidEventPayload": ErrorCategory.MESSAGE_REJECTED,
    "MemoryLimit": ErrorCategory.MEMORY,
    "PayloadTooLarge": ErrorCategory.MESSAGE_REJECTED,
    "PayloadTooDeep": ErrorCategory.MESSAGE_REJECTED,
}
# Which per-instance counter a final error adds to.
COUNTER_BY_CATEGORY = {
    ErrorCategory.UNSUPPORTED_EVENT_TYPE: "unsupported",
    ErrorCategory.MESSAGE_REJECTED: "rejected",
}


def error_type(error: dict | None) -> str:
    """The thrown class name of a sandbox error (\"Error\" when unnamed)."""
    return (error or {}).get("type") or "Error"


def is_infrastructure(error: dict | None) -> bool:
    """A platform fault, not charged by the sandbox to the function that got it."""
    return error_type(error) in INFRASTRUCTURE and (error or {}).get("attributed") is not True


def is_retryable(error: dict | None) -> bool:
    """RetryError, timeouts and platform faults are retried; everything else is final."""
    return error_type(error) in RETRYABLE or is_infrastructure(error)


def category_of(error: dict | None) -> str:
    """Segment's error category for a thrown error (anything unknown is Bad Request)."""
    kind = error_type(error)
    if kind in RETRYABLE:
        return RETRYABLE[kind]
    if is_infrastructure(error):
        return ErrorCategory.INTERNAL
    return CATEGORY_BY_TYPE.get(kind, ErrorCategory.BAD_REQUEST)


def counter_of(category: str) -> str:
    """The delivery counter a final error of `category` adds to."""
    return COUNTER_BY_CATEGORY.get(category, "failed")


def status_outcome(entry) -> str:
    """An onBatch per-event status: 'ok', 'retry' (429/5xx) or 'fail' (other codes)."""
    status = entry.get("status") if isinstance(entry, dict) else None
    try:
        code = int(status)
    except (TypeError, ValueError):
        return "fail"
    if 200 <= code < 300:
        return "ok"
    if code == 429 or code >= 500:
        return "retry"
    return "fail"


def source_retry_delay(attempt: int) -> float | None:
    """Seconds before source retry number `attempt` (1-based), or None when exhausted."""
    if attempt > settings.SOURCE_RETRY_MAX:
        return None
    first = random.uniform(settings.SOURCE_RETRY_FIRST_MIN_S, settings.SOURCE_RETRY_FIRST_MAX_S)
    return min(settings.SOURCE_RETRY_CAP_S, first * 2 ** (attempt - 1))


def delivery_retry_delay(attempt: int, elapsed_s: float) -> float | None:
    """Full-jitter exponential backoff; None once the retry window (4 h by default) is spent.

    Embedded (eager) mode cannot wait, so its retries run at once; they are capped by count
    (PIPELINE_EAGER_DELIVERY_RETRIES), or a failing endpoint would retry for ever in-request.
    """
    if celery_app.conf.task_always_eager and attempt > settings.PIPELINE_EAGER_DELIVERY_RETRIES:
        return None
    ceiling = min(settings.DELIVERY_RETRY_CAP_S, settings.DELIVERY_RETRY_BASE_S * 2 ** (attempt - 1))
    delay = random.uniform(settings.DELIVERY_RETRY_BASE_S, max(settings.DELIVERY_RETRY_BASE_S, ceiling))
    if elapsed_s + delay > settings.DELIVERY_RETRY_WINDOW_S:
        return None
    return delay
