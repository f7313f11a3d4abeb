"""Which failures are the platform's (retried for as long as it takes) rather than the data's.

Kept free of models so `runtime/tasks.py` can name them in its retry options at import time.
"""

from __future__ import annotations

import django.db
import redis
from kombu.exceptions import KombuError

from ..sandbox import SandboxUnavailable


class QueueUnavailable(Exception):
    """The queue refused the work: the caller must not report success."""


# An error of one of these never finalises an event nor uses up its attempts: the batch goes
# back to its buffer (or its durable retry row) and runs again when the platform recovers.
INFRASTRUCTURE_ERRORS = (
    django.db.Error,
    redis.RedisError,
    KombuError,
    OSError,
    SandboxUnavailable,
    QueueUnavailable,
)


def is_infrastructure(error: BaseException) -> bool:
    """True for platform trouble, and for interruptions (a shutdown) that are nobody's fault."""
    return isinstance(error, INFRASTRUCTURE_ERRORS) or not isinstance(error, Exception)
