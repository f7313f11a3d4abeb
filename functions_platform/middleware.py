"""Request-level security that settings alone cannot express."""

from __future__ import annotations


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
