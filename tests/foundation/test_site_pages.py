"""No dead ends outside the admin's own pages: the landing page, styled error pages, /api/ and
trailing-slash URLs of the API, the favicon, and one log line (no traceback) per refused request."""

import io
import logging
import sys

import pytest
from django.urls import reverse

from functions_platform.log_filters import ClientErrorWithoutTraceback


def test_landing_page_says_what_this_is_and_leads_to_the_admin(client, db):
    response = client.get("/")
    page = response.content.decode()
    assert response.status_code == 200
    assert 'href="/admin/"' in page and "Sign in to the admin" in page and "/api/docs" in page
    assert "/v1/track" in page and "/hooks/" in page


def test_admin_view_site_link_reaches_the_landing_page(login, owner):
    page = login(owner).get(reverse("admin:index")).content.decode()
    assert 'href="/"' in page  # "View site"
    landing = login(owner).get("/").content.decode()
    assert "Continue to the admin" in landing and "Signed in as owner" in landing


def test_favicon_is_served(client, db):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("favicon.svg")


@pytest.mark.parametrize(
    ("path", "status", "text"),
    [
        ("/no/such/page", 404, "Page not found"),
        ("/admin/catalog/function/999999/versions/", 404, "outside what you may see"),
    ],
)
def test_not_found_pages_are_styled(login, owner, path, status, text):
    response = login(owner).get(path)
    page = response.content.decode()
    assert response.status_code == status
    assert text in page and "functions_platform/site.css" in page and 'href="/admin/"' in page


def test_forbidden_page_is_styled_and_logged_without_a_traceback(login, read_only):
    # The console handler settings.LOGGING configures, writing to a buffer for the test.
    [console] = [
        h
        for h in logging.getLogger().handlers
        if any(isinstance(f, ClientErrorWithoutTraceback) for f in h.filters)
    ]
    buffer = io.StringIO()
    previous = console.setStream(buffer)
    try:
        response = login(read_only).get(reverse("admin:catalog_function_new"))
    finally:
        console.setStream(previous)
    page = response.content.decode()
    assert response.status_code == 403
    assert "You may not do this" in page and "functions_platform/site.css" in page
    logged = buffer.getvalue()
    assert "Forbidden (Permission denied): /admin/catalog/function/new/" in logged
    assert "Traceback" not in logged and "PermissionDenied" not in logged


def test_client_error_filter_keeps_server_error_tracebacks():
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        info = sys.exc_info()
    server = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "boom", (), info)
    server.status_code = 500
    client = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "Forbidden", (), info)
    client.status_code = 403
    ClientErrorWithoutTraceback().filter(server)
    ClientErrorWithoutTraceback().filter(client)
    assert server.exc_info is info and client.exc_info is None


def test_api_root_answers_where_the_reference_is(client, db):
    data = client.get("/api/").json()["data"]
    assert data["docs"].endswith("/api/docs") and data["schema"].endswith("/api/schema")
    assert any(url.endswith("/api/functions") for url in data["resources"])
    assert not any("<" in url for url in data["resources"])
    browser = client.get("/api/", HTTP_ACCEPT="text/html,application/xhtml+xml")
    assert browser.status_code == 302 and browser["Location"] == "/api/docs"


@pytest.mark.parametrize("path", ["/api/docs/", "/api/schema/", "/api/functions/"])
def test_api_paths_with_a_trailing_slash_lead_to_the_endpoint(client, db, path):
    response = client.get(path + "?count=2")
    assert response.status_code == 308 and response["Location"] == path.rstrip("/") + "?count=2"


def test_unknown_api_paths_still_answer_the_error_envelope(client, db):
    response = client.get("/api/nothing-here/")
    assert response.status_code == 404 and response.json()["errors"][0]["type"] == "NotFound"
