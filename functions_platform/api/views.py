"""The base view of every API endpoint: token auth, rate limit, envelopes, scope helpers.

Authorization is never decided here: views ask workspaces.permissions and use the helpers
below to answer 404 for what the caller may not see and 403 for what it may see but not do.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

from django.http import Http404, HttpResponsePermanentRedirect, JsonResponse
from django.shortcuts import redirect
from django.urls import Resolver404, get_resolver, resolve
from rest_framework import exceptions
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from . import media
from .authentication import BearerTokenAuthentication
from .exceptions import exception_handler
from .pagination import paginate
from .throttling import TokenRateThrottle


class ApiView(APIView):
    """Base class: subclasses scope every query with `self.workspace` (the token's workspace)."""

    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes = [TokenRateThrottle]
    renderer_classes = media.RENDERERS
    parser_classes = media.PARSERS

    def get_exception_handler(self):
        return exception_handler

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        state = getattr(request, "rate_limit", None)
        if state:
            reset = datetime.fromtimestamp(state["reset"], tz=UTC)
            response["X-RateLimit-Consumed"] = str(state["consumed"])
            response["X-RateLimit-Remaining"] = str(state["remaining"])
            response["X-RateLimit-Reset"] = format_datetime(reset, usegmt=True)
        return response

    @property
    def workspace(self):
        return self.request.auth.workspace

    @property
    def user(self):
        return self.request.user

    def get_in_scope(self, queryset, **lookup):
        """The object from `queryset` (already what the user may see) or 404."""
        obj = queryset.filter(**lookup).first()
        if obj is None:
            raise Http404
        return obj

    def require(self, allowed: bool, message: str = "You do not have permission to do this.") -> None:
        if not allowed:
            raise exceptions.PermissionDenied(message)

    def input(self, serializer_class, **kwargs) -> dict:
        serializer = serializer_class(data=self.request.data, **kwargs)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def respond(self, payload: dict, status: int = 200) -> Response:
        return Response({"data": payload}, status=status)

    def respond_page(self, key: str, queryset, render) -> Response:
        items, pagination = paginate(self.request, queryset)
        return self.respond({key: [render(item) for item in items], "pagination": pagination})


def not_found(request, *args, **kwargs):
    """404 in the API's error envelope for paths that match no endpoint; a known endpoint asked
    with a trailing slash (`/api/docs/`) is sent to its URL (308 keeps the method and body)."""
    without_slash = request.path.rstrip("/")
    if request.path.endswith("/") and _is_endpoint(without_slash):
        query = request.META.get("QUERY_STRING", "")
        return HttpResponsePermanentRedirect(
            without_slash + (f"?{query}" if query else ""), preserve_request=True
        )
    body = {"errors": [{"type": "NotFound", "message": "No such endpoint.", "status": 404}]}
    return JsonResponse(body, status=404)


def _is_endpoint(path: str) -> bool:
    try:
        return resolve(path).func is not not_found
    except Resolver404:
        return False


def api_index(request):
    """GET /api/: where the reference is and how to authenticate; a browser goes to the docs."""
    if "text/html" in request.headers.get("Accept", ""):
        return redirect("api-docs")
    base = request.build_absolute_uri("/api")
    collections = sorted({p for p in _endpoint_paths() if "<" not in p and p not in ("", "docs", "schema")})
    data = {
        "name": "Functions platform API (Segment Public API shape)",
        "docs": f"{base}/docs",
        "schema": f"{base}/schema",
        "authentication": "Authorization: Bearer <access token>; owners create tokens in the admin.",
        "resources": [f"{base}/{path}" for path in collections],
    }
    return JsonResponse({"data": data})


def _endpoint_paths():
    api = next(p for p in get_resolver().url_patterns if str(p.pattern) == "api/")
    for pattern in api.url_patterns:
        for inner in getattr(pattern, "url_patterns", [pattern]):
            yield str(inner.pattern)
