"""API fixtures: a token per persona and a client that sends it as a Bearer header."""

import pytest
from rest_framework.test import APIClient

from workspaces.services import access_token_create, membership_ensure


@pytest.fixture
def token_for(workspace):
    def _token_for(user, ws=None):
        ws = ws or workspace
        membership_ensure(workspace=ws, user=user)
        _, secret = access_token_create(workspace=ws, user=user, name=f"{user.username} token")
        return secret

    return _token_for


@pytest.fixture
def api_as(token_for, other_workspace):
    """A DRF test client authenticated as a persona (outsider: with a token for its own workspace)."""

    def _api_as(user):
        client = APIClient()
        if user is not None:
            ws = other_workspace if user.username == "outsider" else None
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user, ws)}")
        return client

    return _api_as


@pytest.fixture
def api(api_as, owner):
    return api_as(owner)
