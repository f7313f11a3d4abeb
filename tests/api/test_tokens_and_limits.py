"""Access tokens (service, command, admin, Bearer auth) and the per-token rate limit."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from workspaces.models import AccessToken
from workspaces.services import access_token_create, access_token_revoke


def bearer(secret):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def test_token_is_stored_hashed_and_authenticates(owner, workspace):
    token, secret = access_token_create(workspace=workspace, user=owner, name="ci")
    assert secret.startswith("sgp_") and len(secret) > 40
    assert secret not in (token.secret_hash, token.prefix) and secret.startswith(token.prefix)
    assert token.last_used_at is None
    assert bearer(secret).get("/api/functions").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None


@pytest.mark.parametrize(
    "header", [None, "Bearer", "Bearer nope", "Bearer sgp_wrongwrongwrongwrong", "Basic abc"]
)
def test_missing_or_bad_tokens_are_401(header, owner, workspace):
    access_token_create(workspace=workspace, user=owner, name="ci")
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/functions")
    assert response.status_code == 401
    assert response.json()["errors"][0]["type"] == "Unauthorized"


def test_revoked_token_stops_working(owner, workspace):
    token, secret = access_token_create(workspace=workspace, user=owner, name="ci")
    access_token_revoke(token=token, actor=owner)
    assert bearer(secret).get("/api/functions").status_code == 401


def test_token_needs_membership(outsider, workspace):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        access_token_create(workspace=workspace, user=outsider, name="x")


def test_create_token_command_prints_the_token_last(owner, workspace):
    out = io.StringIO()
    call_command("create_token", "--workspace", "acme", "--user", "owner", "--name", "deploy bot", stdout=out)
    secret = out.getvalue().strip().splitlines()[-1]
    assert AccessToken.objects.get(name="deploy bot").prefix == secret[:12]
    assert bearer(secret).get("/api/functions").status_code == 200
    with pytest.raises(CommandError):
        call_command("create_token", "--workspace", "nope", "--user", "owner", stdout=io.StringIO())


def test_admin_creates_token_shown_once_and_revokes(login, owner, workspace, functions_admin):
    client = login(owner)
    response = client.post(
        "/admin/workspaces/accesstoken/add/",
        {"workspace": workspace.pk, "user": functions_admin.pk, "name": "from admin"},
        follow=True,
    )
    assert response.status_code == 200
    token = AccessToken.objects.get(name="from admin")
    shown = [str(m) for m in response.context["messages"]]
    secret = next(word for m in shown for word in m.split() if word.startswith("sgp_"))
    assert bearer(secret).get("/api/functions").status_code == 200
    assert secret not in client.get(f"/admin/workspaces/accesstoken/{token.pk}/change/").content.decode()
    client.post(
        "/admin/workspaces/accesstoken/",
        {"action": "revoke_tokens", "_selected_action": [token.pk]},
    )
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert bearer(secret).get("/api/functions").status_code == 401


def test_admin_tokens_are_for_owners_only(login, functions_admin, owner, workspace):
    access_token_create(workspace=workspace, user=owner, name="owner's")
    client = login(functions_admin)
    assert client.get("/admin/workspaces/accesstoken/").status_code == 403
    assert client.get("/admin/workspaces/accesstoken/add/").status_code == 403


@pytest.fixture
def frozen_window(monkeypatch):
    """Pin the clock inside one rate-limit window so no test straddles a minute boundary."""
    from functions_platform.api import throttling

    monkeypatch.setattr(throttling, "clock", lambda: 1_800_000_010.0)


def test_rate_limit_headers_and_429(api, settings, frozen_window):
    settings.API_RATE_LIMIT_PER_MINUTE = 3
    responses = [api.get("/api/functions") for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    first = responses[0]
    assert first["X-RateLimit-Consumed"] == "1" and first["X-RateLimit-Remaining"] == "2"
    assert first["X-RateLimit-Reset"].endswith("GMT")
    body = responses[3].json()["errors"][0]
    assert body["type"] == "RequestError" and body["message"] == "Too many requests"
    assert body["data"]["remainingPoints"] == 0 and body["data"]["consumedPoints"] == 4
    assert body["data"]["msBeforeNext"] == 50_000
    assert first["X-RateLimit-Reset"] == "Fri, 15 Jan 2027 08:01:00 GMT"
    assert responses[3]["X-RateLimit-Remaining"] == "0"


def test_rate_limit_is_per_token(api_as, owner, functions_admin, settings, frozen_window):
    settings.API_RATE_LIMIT_PER_MINUTE = 1
    assert api_as(owner).get("/api/functions").status_code == 200
    assert api_as(functions_admin).get("/api/functions").status_code == 200


def test_admin_refuses_a_token_for_a_user_outside_the_workspace(login, owner, workspace, other_workspace):
    from tests.factories import UserFactory
    from workspaces.services import membership_set_owner

    membership_set_owner(workspace=other_workspace, user=owner)  # owner of both workspaces
    stranger = UserFactory(username="stranger")
    membership_set_owner(workspace=other_workspace, user=stranger)
    response = login(owner).post(
        "/admin/workspaces/accesstoken/add/",
        {"workspace": workspace.pk, "user": stranger.pk, "name": "mismatch"},
    )
    assert response.status_code == 200
    assert "is not a member of acme" in response.content.decode()
    assert not AccessToken.objects.filter(name="mismatch").exists()
