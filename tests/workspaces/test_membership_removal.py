"""Membership is access: removing a member ends their admin access and their API tokens at once;
the members page removes members and revokes one grant at a time."""

import re

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from guardian.models import UserObjectPermission
from rest_framework.test import APIClient

from tests.factories import UserFactory
from tests.permission_matrix import form_fields
from workspaces import permissions
from workspaces.choices import AuditAction
from workspaces.models import AccessToken, AuditEvent, Membership
from workspaces.services import access_token_create, membership_remove, role_grant


@pytest.fixture
def page(workspace):
    return reverse("admin:workspaces_workspace_members", args=[workspace.pk])


@pytest.fixture
def bob(workspace, function, source):
    user = UserFactory(username="bob")
    role_grant(workspace=workspace, role="functions-admin", user=user, objects=[function])
    role_grant(workspace=workspace, role="source-admin", user=user)
    return user


def api(secret):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def fresh(user):
    return type(user).objects.get(pk=user.pk)  # guardian caches permissions per user object


def test_removing_a_member_ends_admin_and_api_access_at_once(
    client, login, owner, bob, workspace, function, source, page
):
    _, secret = access_token_create(workspace=workspace, user=bob, name="bob's")
    assert api(secret).get(f"/api/functions/{function.public_id}").status_code == 200
    bob_client = client.__class__()
    bob_client.force_login(bob)
    change = reverse("admin:catalog_function_change", args=[function.pk])
    assert bob_client.get(change).status_code == 200

    response = login(owner).post(page, {"remove_member": bob.pk})

    assert response.status_code == 302
    assert not Membership.objects.filter(workspace=workspace, user=bob).exists()
    assert not UserObjectPermission.objects.filter(user=bob).exists()
    assert AccessToken.objects.get(user=bob).revoked_at is not None
    assert api(secret).get(f"/api/functions/{function.public_id}").status_code == 401
    assert bob_client.get(change).status_code == 404  # the same session, next request
    assert bob_client.get(reverse("admin:catalog_function_changelist")).status_code == 403
    bob = fresh(bob)
    assert not permissions.can_view_function(bob, function)
    assert not permissions.can_admin_source(bob, source)
    assert not permissions.workspaces_visible(bob).exists()
    assert AuditEvent.objects.filter(
        action=AuditAction.REVOKED, object_repr="bob", data={"role": "member"}
    ).exists()


def test_a_token_dies_with_the_membership_however_it_goes(bob, workspace, function):
    _, secret = access_token_create(workspace=workspace, user=bob, name="bob's")
    Membership.objects.filter(workspace=workspace, user=bob).delete()  # not through the service
    assert api(secret).get(f"/api/functions/{function.public_id}").status_code == 401


def test_group_grants_reach_only_members(bob, workspace, function):
    editors = Group.objects.create(name="editors")
    bob.groups.add(editors)
    role_grant(workspace=workspace, role="functions-admin", group=editors)
    membership_remove(workspace=workspace, user=bob)
    bob = fresh(bob)
    assert not permissions.can_view_function(bob, function)
    assert not permissions.functions_visible(bob).exists()
    assert not permissions.can_create_function(bob, workspace)
    # The group keeps its grant: other members still get it.
    carol = UserFactory(username="carol")
    carol.groups.add(editors)
    role_grant(workspace=workspace, role="functions-read-only", user=carol, objects=[])
    assert permissions.can_admin_function(carol, function)


def test_grants_elsewhere_survive(bob, workspace, other_workspace):
    role_grant(workspace=other_workspace, role="functions-read-only", user=bob)
    membership_remove(workspace=workspace, user=bob)
    assert permissions.workspaces_visible(fresh(bob)).get() == other_workspace


def test_the_last_owner_cannot_be_removed(login, owner, workspace, page):
    response = login(owner).post(page, {"remove_member": owner.pk}, follow=True)
    assert "the last owner" in response.content.decode()
    assert Membership.objects.filter(workspace=workspace, user=owner).exists()
    assert permissions.is_owner(fresh(owner), workspace)


def test_a_non_member_cannot_be_removed(login, owner, workspace, outsider, page):
    response = login(owner).post(page, {"remove_member": outsider.pk}, follow=True)
    assert "not a member" in response.content.decode()
    assert Membership.objects.filter(user=outsider).exists()


def test_only_owners_remove_members(client, functions_admin, bob, workspace, page):
    client.force_login(functions_admin)
    assert client.post(page, {"remove_member": bob.pk}).status_code == 403
    assert Membership.objects.filter(workspace=workspace, user=bob).exists()


def _revoke_forms(html: str) -> list[dict]:
    forms = re.findall(r"<form[^>]*>(.*?)</form>", html, flags=re.S)
    return [form_fields(f) | {"revoke": "Revoke"} for f in forms if "fn-revoke-grant" in f]


def test_each_grant_row_revokes_that_grant_only(login, owner, bob, workspace, function, source, page):
    client = login(owner)
    forms = _revoke_forms(client.get(page).content.decode())
    listed = next(f for f in forms if f["role-name"] == "bob" and f["role-role"] == "functions-admin")
    assert listed["role-functions"] == str(function.pk)

    assert client.post(page, listed).status_code == 302

    bob = fresh(bob)
    assert not permissions.can_admin_function(bob, function)
    assert permissions.can_admin_source(bob, source)  # the other grant stays
    assert Membership.objects.filter(workspace=workspace, user=bob).exists()


def test_role_select_starts_on_least_privilege(login, owner, page):
    html = login(owner).get(page).content.decode()
    select = re.search(r'<select name="role-role"[^>]*>(.*?)</select>', html, flags=re.S).group(1)
    first = re.search(r'<option value="([^"]+)"', select).group(1)
    assert first == "functions-read-only"
    assert "selected" not in select or 'value="functions-read-only" selected' in select
    assert 'class="form-row field-role' in html  # laid out like the admin's own forms
