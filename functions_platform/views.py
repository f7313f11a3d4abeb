"""The landing page, the favicon, and the liveness and readiness probes."""

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.views.decorators.http import require_GET

from runtime.pipeline.persistence import persistence_ok
from runtime.sandbox import engine_problem

from .celery import app


@require_GET
def home(request):
    """What this platform is, with the way into the admin, the API and the ingest endpoints
    (the admin's "View site" lands here)."""
    return render(request, "home.html", {"base_url": settings.PUBLIC_BASE_URL})


@require_GET
def favicon(request):
    # Browsers ask for /favicon.ico on every page, the API's JSON and the docs included.
    return redirect(static("functions_platform/favicon.svg"), permanent=True)


@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request):
    checks = {
        "database": _database_ok(),
        "broker": _broker_ok(),
        "node": _node_ok(),
        "redis_persistence": _persistence_ok(),
    }
    ok = all(checks.values())
    return JsonResponse({"status": "ok" if ok else "unavailable", **checks}, status=200 if ok else 503)


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:
        return False


def _broker_ok() -> bool:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return True
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True
    except Exception:
        return False


def _persistence_ok() -> bool:
    # Production mode on a Redis that would lose accepted events is not ready (runtime.E101).
    try:
        return persistence_ok()
    except Exception:
        return False


def _node_ok() -> bool:
    return engine_problem(settings.NODE_BINARY or None) is None
