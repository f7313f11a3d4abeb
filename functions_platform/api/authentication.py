"""Bearer access tokens: `Authorization: Bearer <token>` acts as the token's user in its workspace."""

from __future__ import annotations

from rest_framework import authentication, exceptions

from workspaces import services


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """Authenticates a workspace access token; `request.auth` is the AccessToken row."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid Authorization header.")
        try:
            secret = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("Invalid token.")
        token = services.access_token_authenticate(secret=secret)
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        return token.user, token

    def authenticate_header(self, request):
        # A WWW-Authenticate value makes DRF answer 401 (not 403) to unauthenticated calls.
        return self.keyword
