"""Logging filters named in settings.LOGGING."""

import logging

from .request_ids import current


class ClientErrorWithoutTraceback(logging.Filter):
    """Logs a 4xx response as its one line: Django attaches the exception's traceback to a 403
    (PermissionDenied) or a 400 (SuspiciousOperation), which are the client's doing, not a fault
    to debug, and would otherwise fill the log with a traceback per refused request."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and 400 <= status < 500:
            record.exc_info = None
            record.exc_text = None
        return True


class RequestIdFilter(logging.Filter):
    """Adds `request_id` (the running request's or task's, else "-") to every record.

    Also keeps task arguments out of the log: Celery's task-succeeded record carries the task's
    args, kwargs and return value as `data`, and a JSON line writes every extra field; pipeline
    tasks carry events (write keys, personal data) in their kwargs.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = current() or "-"
        data = getattr(record, "data", None)
        if record.name.startswith("celery") and isinstance(data, dict):
            record.data = {k: v for k, v in data.items() if k not in ("args", "kwargs", "return_value")}
        return True
