"""Ingest skips the browser middleware (functions_platform.middleware.ingest_shortcut), and
answers as it did through the whole chain."""

import json

import pytest

from .test_bad_input import basic

pytestmark = pytest.mark.django_db


def track(client, source, path="/v1/track", **extra):
    body = json.dumps({"event": "E", "userId": "u1"})
    return client.post(
        path, data=body, content_type="application/json", HTTP_AUTHORIZATION=basic(source.write_key), **extra
    )


def test_ingest_answers_with_the_same_headers_without_sessions_or_csrf(client, tracking_source, destination):
    response = track(client, tracking_source)
    assert response.status_code == 200 and response.json() == {"success": True}
    assert response["Content-Type"] == "application/json"
    assert response["Content-Length"] == str(len(response.content))
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"  # SecurityMiddleware still runs
    assert len(response["X-Request-ID"]) == 32
    assert "Content-Security-Policy" not in response and "Vary" not in response
    assert not response.cookies
    assert not hasattr(response.wsgi_request, "session") and not hasattr(response.wsgi_request, "user")


def test_ingest_still_refuses_a_bad_host_and_nul(client, tracking_source, settings):
    assert track(client, tracking_source, HTTP_HOST="evil.example").status_code == 400
    assert track(client, tracking_source, path="/v1/track%00").status_code in (400, 404)
    hook = client.post("/hooks/abc%00", data="{}", content_type="application/json")
    assert hook.status_code == 400 and "NUL" in hook.json()["error"]


def test_other_paths_keep_the_whole_chain(client):
    response = client.get("/v1/unknown")  # not an ingest view: Django's own 404 path
    assert response.status_code == 404
    assert "Content-Security-Policy" in client.get("/admin/login/")
