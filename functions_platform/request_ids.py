"""Request ids: one id per HTTP request or task, on every log line written while it runs.

An incoming `X-Request-ID` (from a proxy in front) is kept when it is a short token, otherwise
a new one is made; the response carries it back. Ingest passes it on with the work it queues
(a webhook's queued item is identified by it), so the source run, routing and delivery log
lines of that work name it too (docs/observability.md, Logs).
"""

from __future__ import annotations

import contextlib
import contextvars
import re
import uuid

_current: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
_ACCEPTED = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")
HEADER = "X-Request-ID"


def new_id() -> str:
    """A fresh request id (32 hex digits)."""
    return uuid.uuid4().hex


def current() -> str:
    """The request id of the running request or task ('' outside one)."""
    return _current.get()


@contextlib.contextmanager
def bound(request_id: str):
    """Run a block (a task, a batch) under `request_id`."""
    token = _current.set(request_id or "")
    try:
        yield
    finally:
        _current.reset(token)


_task_tokens: dict[str, contextvars.Token] = {}


def task_started(task_id: str) -> None:
    """A Celery task begins: its log lines carry its task id, unless it runs inside a request
    (an eager task in embedded mode), whose id it keeps."""
    if task_id and not current():
        _task_tokens[task_id] = _current.set(task_id)


def task_finished(task_id: str) -> None:
    """A Celery task ended: restore the id that was current before it."""
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        with contextlib.suppress(ValueError):
            _current.reset(token)


class RequestIdMiddleware:
    """Gives each HTTP request its id (kept from X-Request-ID when well-formed)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        sent = request.headers.get(HEADER, "")
        request.request_id = sent if _ACCEPTED.match(sent) else new_id()
        with bound(request.request_id):
            response = self.get_response(request)
        response[HEADER] = request.request_id
        return response
