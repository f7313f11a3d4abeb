"""Cookies and transport: HttpOnly always; Secure and HSTS when the request came over HTTPS
(directly or through a trusted proxy), while plain-http embedded mode keeps working."""

from django.urls import reverse

from tests.conftest import PASSWORD


def login(client, owner, **extra):
    client.get(reverse("admin:login"), **extra)  # sets the CSRF cookie
    return client.post(reverse("admin:login"), {"username": owner.username, "password": PASSWORD}, **extra)


def test_over_http_cookies_work_without_secure_and_no_hsts(client, owner):
    response = login(client, owner)
    assert response.status_code == 302
    session = response.cookies["sessionid"]
    assert session["httponly"] and not session["secure"]
    assert client.cookies["csrftoken"]["httponly"]
    assert "Strict-Transport-Security" not in response
    assert client.get("/admin/").status_code == 200  # the session works over http


def test_over_https_cookies_are_secure_and_hsts_is_sent(client, owner):
    response = login(client, owner, secure=True)
    assert response.status_code == 302
    assert response.cookies["sessionid"]["secure"] and response.cookies["sessionid"]["httponly"]
    assert client.cookies["csrftoken"]["secure"]
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")


def test_behind_a_trusted_proxy_forwarded_https_counts(client, owner, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    response = login(client, owner, HTTP_X_FORWARDED_PROTO="https")
    assert response.cookies["sessionid"]["secure"]
    assert "Strict-Transport-Security" in response


def test_without_a_trusted_proxy_the_forwarded_header_is_ignored(client, owner):
    response = login(client, owner, HTTP_X_FORWARDED_PROTO="https")
    assert not response.cookies["sessionid"]["secure"]
    assert "Strict-Transport-Security" not in response
