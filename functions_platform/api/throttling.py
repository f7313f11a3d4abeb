"""Per-token rate limit in a fixed one-minute window, counted in Django's cache.

Every answer carries Segment's X-RateLimit-Consumed / -Remaining / -Reset headers (the base
view adds them from `request.rate_limit`); over the limit the call is refused with 429.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

WINDOW_SECONDS = 60


def clock() -> float:
    return time.time()


def limit_per_minute() -> int:
    return int(getattr(settings, "API_RATE_LIMIT_PER_MINUTE", 600))


class TokenRateThrottle(BaseThrottle):
    """Counts calls per access token; unauthenticated calls never reach it (401 first)."""

    def allow_request(self, request, view):
        token = request.auth
        if token is None:
            return True
        now = clock()
        window = int(now // WINDOW_SECONDS)
        key = f"api-rate:{token.prefix}:{token.pk}:{window}"
        # add() is a no-op when the key exists, so concurrent first calls do not reset the count.
        cache.add(key, 0, timeout=WINDOW_SECONDS * 2)
        try:
            consumed = cache.incr(key)
        except ValueError:  # the key expired between add() and incr()
            cache.set(key, 1, timeout=WINDOW_SECONDS * 2)
            consumed = 1
        reset = (window + 1) * WINDOW_SECONDS
        limit = limit_per_minute()
        request.rate_limit = {
            "consumed": consumed,
            "remaining": max(0, limit - consumed),
            "reset": reset,
            "ms_before_next": int((reset - now) * 1000),
        }
        self._wait = reset - now
        return consumed <= limit

    def wait(self):
        return getattr(self, "_wait", WINDOW_SECONDS)
