"""Request-level security that settings alone cannot express."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.urls import Resolver404, get_resolver

from runtime.ingest import JsonRefused, json_max_depth, json_strict_loads


def secure_cookies(get_response):
    """Mark every cookie Secure on a request that came over HTTPS.

    request.is_secure() honours SECURE_PROXY_SSL_HEADER, so the embedded `make run` on plain
    http keeps its cookies while the same platform served over https (directly or behind a
    trusted proxy) never sends its session or CSRF cookie over http, whatever PUBLIC_BASE_URL
    says. Listed above the session and CSRF middleware so it sees the cookies they set.
    """

    def middleware(request):
        response = get_response(request)
        if request.is_secure():
            for morsel in response.cookies.values():
                morsel["secure"] = True
        return response

    return middleware


# Ingest views read their bodies with the same strict reader themselves (after undoing a
# Content-Encoding and checking size, which this middleware cannot see past). The editor's test
# webhook (/hooks/test/...) stores what it gets, so it is checked here.
_SELF_PARSING = ("/v1/", "/hooks/")
_CHECKED_HERE = ("/hooks/test/",)
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def input_guard(get_response):
    """Refuse, before any view runs, input the platform would not accept (400): NUL in the
    path or the query string (PostgreSQL cannot compare or store it), and a JSON body the
    platform's strict reader refuses.

    Every JSON endpoint then shares one rule (runtime.ingest.json_strict_loads: the sandbox's
    nesting limit, no NaN/Infinity/1e400, no lone surrogates or NUL), including views that
    parse with json.loads themselves, such as the admin's editor endpoints. A body counts as
    JSON when its Content-Type says so or when it starts like JSON, since json.loads does not
    look at the header. Form posts are left to Django's forms.
    """

    def middleware(request):
        refusal = _json_refusal(request)
        if refusal is not None:
            return _refused(request, refusal)
        return get_response(request)

    return middleware


def _json_refusal(request) -> str | None:
    if "\x00" in request.path or "%00" in request.META.get("QUERY_STRING", ""):
        return "NUL is not allowed in the URL"
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return None
    if request.path.startswith(_SELF_PARSING) and not request.path.startswith(_CHECKED_HERE):
        return None
    content_type = request.content_type or ""
    if content_type in _FORM_TYPES:
        return None
    try:
        body = request.body
    except RequestDataTooBig:
        return None  # the view answers it (Django's own 413 or the view's size check)
    stripped = body.lstrip()
    if not stripped or not (content_type.endswith("json") or stripped[:1] in (b"{", b"[")):
        return None
    try:
        json_strict_loads(body, max_depth=json_max_depth())
    except UnicodeDecodeError:
        return "the body is not valid UTF-8"
    except JsonRefused as exc:
        return str(exc)
    return None


def _refused(request, reason: str) -> JsonResponse:
    message = f"Bad request: {reason}."
    if request.path.startswith("/api"):
        body = {"errors": [{"type": "BadRequest", "message": message, "status": 400}]}
    else:
        body = {"error": message}
    return JsonResponse(body, status=400)


# The ingest views served by `ingest_shortcut` (url names in runtime/urls.py).
_SHORTCUT_VIEWS = frozenset({"source-webhook", "tracking-api"})


def ingest_shortcut(get_response):
    """Serve the ingest endpoints (/hooks/<token>, /v1/<type>) without the middleware below
    this one: CSP (which excludes these paths but still builds its policy twice a response),
    secure cookies (ingest sets none), whitenoise, sessions, CSRF (the views are exempt),
    authentication, messages and axes serve browsers and logged-in people, never a machine
    posting events, and cost each request CPU on the hot path.

    Above it, request ids and SecurityMiddleware (https redirect, its headers) still run for
    ingest; what the skipped middleware would have done to an ingest request is done here:
    input_guard's check (NUL in the URL; the views parse their bodies strictly themselves),
    the Host header's validation (ALLOWED_HOSTS, as CommonMiddleware does), Content-Length
    and X-Frame-Options. Any other path, an unresolved one (404 and Django's slash handling)
    or a configured DISALLOWED_USER_AGENTS goes through the whole chain.
    """

    def middleware(request):
        path = request.path_info
        if (
            path.startswith(_SELF_PARSING)
            and not path.startswith(_CHECKED_HERE)
            and not settings.DISALLOWED_USER_AGENTS
        ):
            try:
                match = get_resolver().resolve(path)
            except Resolver404:
                match = None
            if match is not None and match.url_name in _SHORTCUT_VIEWS:
                request.get_host()  # DisallowedHost: a 400, as on every other path
                refusal = _json_refusal(request)
                if refusal is not None:
                    return _refused(request, refusal)
                request.resolver_match = match
                response = match.func(request, *match.args, **match.kwargs)
                if not response.streaming and not response.has_header("Content-Length"):
                    response.headers["Content-Length"] = str(len(response.content))
                if response.get("X-Frame-Options") is None and not getattr(
                    response, "xframe_options_exempt", False
                ):
                    response.headers["X-Frame-Options"] = settings.X_FRAME_OPTIONS.upper()
                return response
        return get_response(request)

    return middleware
