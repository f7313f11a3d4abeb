"""A client that calls the API with a fresh token of a persona (made a member first)."""

import pytest
from rest_framework.test import APIClient

from workspaces.services import access_token_create, membership_ensure


@pytest.fixture
def api_as(workspace):
    def _api_as(user):
        membership_ensure(workspace=workspace, user=user)
        _, secret = access_token_create(workspace=workspace, user=user, name=f"{user.username} token")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        return client

    return _api_as
