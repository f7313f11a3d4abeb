"""Failed authentication, throttled per client address (docs/access-control.md, "Brute force").

API bearer tokens, Tracking API write keys and webhook tokens report each failed check here. A
failure costs one increment in the shared cache (Redis in production); a success costs nothing
beyond a lookup in this process's memory. Past AUTH_FAILURE_LIMIT failures from one address in
an AUTH_FAILURE_WINDOW_S window, the address is refused with 429 and Retry-After for
AUTH_LOCKOUT_S, valid credential or not: at once by the process that counted the failure over
the limit, and by every other process from that address's next failure there on (each process
remembers the addresses it refuses, so the happy path never waits on the cache).

The admin's login is throttled by django-axes (AXES_* in settings), which uses the same
client_address() and answers with login_lockout_response().
"""

from __future__ import annotations

import logging
import math
import time

from django.conf import settings
from django.contrib import admin
from django.core.cache import cache
from django.shortcuts import render

log = logging.getLogger(__name__)

MAX_ADDRESS_CHARS = 64
MAX_REFUSED = 10_000  # addresses remembered per process (a flood of addresses cannot grow it further)
_refused: dict[str, float] = {}  # address -> refused until (epoch seconds)


class Throttled(Exception):
    """The client address is refused for `wait` seconds."""

    def __init__(self, wait: int):
        super().__init__(f"Too many failed authentications; retry in {wait} s")
        self.wait = wait


def client_address(request) -> str:
    """The address a request came from: REMOTE_ADDR or, behind TRUSTED_PROXY_COUNT proxies,
    the X-Forwarded-For entry the outermost trusted proxy added (entries further left are
    whatever the client sent)."""
    address = request.META.get("REMOTE_ADDR", "")
    hops = settings.TRUSTED_PROXY_COUNT
    if hops:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= hops:
            address = forwarded[-hops]
    return "".join(ch for ch in address[:MAX_ADDRESS_CHARS] if ch.isprintable() and not ch.isspace())


def refused_for(request) -> int:
    """Seconds the request's address must still wait (0: not refused). No cache call."""
    if not _refused:
        return 0
    address = client_address(request)
    until = _refused.get(address)
    if until is None:
        return 0
    left = until - time.time()
    if left <= 0:
        _refused.pop(address, None)
        return 0
    return math.ceil(left)


def check(request) -> None:
    """Raise Throttled when the request's address is refused, before any credential lookup."""
    wait = refused_for(request)
    if wait:
        raise Throttled(wait)


def failure(request) -> None:
    """Count one failed authentication from the request's address; raise Throttled past the limit."""
    address = client_address(request)
    now = time.time()
    window_s = settings.AUTH_FAILURE_WINDOW_S
    count = _count(f"auth-failures:{address}:{int(now // window_s)}", window_s)
    if count > settings.AUTH_FAILURE_LIMIT:
        _refuse(address, now + settings.AUTH_LOCKOUT_S)
        raise Throttled(settings.AUTH_LOCKOUT_S)


def _count(key: str, window_s: int) -> int:
    try:
        cache.add(key, 0, timeout=window_s * 2)  # a no-op when the key exists: no reset
        return cache.incr(key)
    except ValueError:  # the key expired between add() and incr()
        cache.set(key, 1, timeout=window_s * 2)
        return 1
    except Exception:  # the cache is best effort: an outage must not turn 401s into 500s
        log.warning("could not count a failed authentication", exc_info=True)
        return 0


def _refuse(address: str, until: float) -> None:
    if len(_refused) >= MAX_REFUSED:
        now = time.time()
        for stale in [a for a, t in _refused.items() if t <= now] or list(_refused)[: MAX_REFUSED // 10]:
            _refused.pop(stale, None)
    _refused[address] = until


def forget() -> None:
    """Drop this process's refused addresses (tests; an operator can restart the workers)."""
    _refused.clear()


def login_lockout_response(request, original_response=None, credentials=None):
    """django-axes' answer to a locked-out login: 429 with Retry-After and the admin's look."""
    wait = int(settings.AXES_COOLOFF_TIME.total_seconds())
    context = {
        **admin.site.each_context(request),
        "title": "Too many failed logins",
        "minutes": -(-wait // 60),
    }
    response = render(request, "admin/login_locked.html", context, status=429)
    response["Retry-After"] = str(wait)
    return response
