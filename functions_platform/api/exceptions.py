"""Errors in Segment's envelope: `{"errors": [{"type", "message", "field"?, "status"}]}`.

Statuses as Segment uses them: 400 malformed JSON, 401 no or bad token, 403 visible but not
allowed, 404 not found (or not visible), 413 too large, 422 validation failures, 429 rate limit.
Domain services raise django.core.exceptions.ValidationError; it is answered like DRF's.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from runtime.sandbox import SandboxUnavailable

ERROR_TYPES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
    422: "ValidationError",
    429: "RequestError",
    503: "ServiceUnavailable",
}


class UnprocessableEntity(exceptions.ValidationError):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "Service temporarily unavailable."


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def error(status_code: int, message: str, field: str | None = None, **extra) -> dict:
    item = {"type": ERROR_TYPES.get(status_code, "Error"), "message": str(message)}
    if field:
        item["field"] = field
    item.update(extra)
    item["status"] = status_code
    return item


def flatten(detail, field: str | None = None) -> list[tuple[str | None, str]]:
    """DRF's nested error detail as (dotted field, message) pairs."""
    if isinstance(detail, dict):
        pairs = []
        for key, value in detail.items():
            name = None if key in ("non_field_errors", "__all__") else camel(str(key))
            pairs += flatten(value, f"{field}.{name}" if field and name else (name or field))
        return pairs
    if isinstance(detail, list):
        return [pair for item in detail for pair in flatten(item, field)]
    return [(field, str(detail))]


def errors_response(status_code: int, items: list[dict], headers=None) -> Response:
    return Response({"errors": items}, status=status_code, headers=headers)


def exception_handler(exc, context):
    """DRF exception handler answering every API error in Segment's envelope."""
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        exc = UnprocessableEntity(detail)
    elif isinstance(exc, exceptions.ValidationError) and not isinstance(exc, UnprocessableEntity):
        exc = UnprocessableEntity(exc.detail)
    if isinstance(exc, exceptions.Throttled):
        return _throttled(exc, context)
    if isinstance(exc, SandboxUnavailable):  # checking code on save needs the sandbox too
        exc = ServiceUnavailable(f"The sandbox is unavailable: {exc}")
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    code = response.status_code
    if isinstance(exc, exceptions.ValidationError):
        items = [error(code, message, field) for field, message in flatten(exc.detail)]
    elif isinstance(exc, Http404):
        items = [error(code, "Resource not found.")]
    else:
        items = [error(code, getattr(exc, "detail", str(exc)))]
    response.data = {"errors": items}
    return response


def _throttled(exc, context):
    request = context["request"]
    state = getattr(request, "rate_limit", None) or {}
    data = {
        "remainingPoints": 0,
        "msBeforeNext": int(state.get("ms_before_next", (exc.wait or 0) * 1000)),
        "consumedPoints": state.get("consumed", 0),
    }
    item = {"type": "RequestError", "message": "Too many requests", "data": data, "status": 429}
    return errors_response(429, [item], headers={"Retry-After": str(max(1, int(exc.wait or 1)))})
