"""Bearer access tokens: `Authorization: Bearer <token>` acts as the token's user in its workspace."""

from __future__ import annotations

from contextlib import contextmanager

from rest_framework import authentication, exceptions

from functions_platform import throttle
from workspaces import services


@contextmanager
def throttled():
    """throttle.Throttled as DRF's 429 (with Retry-After)."""
    try:
        yield
    except throttle.Throttled as exc:
        raise exceptions.Throttled(wait=exc.wait) from None


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """Authenticates a workspace access token; `request.auth` is the AccessToken row."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        with throttled():
            throttle.check(request)
            token = self._token(request, header)
        return token.user, token

    def _token(self, request, header):
        # Every presented-but-wrong token counts against the client address (brute force).
        secret = header[1].decode(errors="replace") if len(header) == 2 else ""
        token = services.access_token_authenticate(secret=secret) if secret else None
        if token is None or not token.user.is_active:
            throttle.failure(request)
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        return token

    def authenticate_header(self, request):
        # A WWW-Authenticate value makes DRF answer 401 (not 403) to unauthenticated calls.
        return self.keyword
