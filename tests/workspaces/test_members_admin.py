"""The owners' Members and roles page in the Workspace admin."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from tests.factories import UserFactory
from workspaces import permissions
from workspaces.choices import AuditAction
from workspaces.models import AuditEvent, Membership
from workspaces.services import membership_ensure


@pytest.fixture
def page(workspace):
    return reverse("admin:workspaces_workspace_members", args=[workspace.pk])


def test_owner_sees_members_and_grants(login, owner, functions_admin_list, function, page):
    response = login(owner).get(page)
    assert response.status_code == 200
    body = response.content.decode()
    assert "fnadmin-list" in body and function.public_id in body


def test_owner_adds_a_member_by_username(login, owner, workspace, page):
    newbie = UserFactory(username="newbie", is_staff=False)
    response = login(owner).post(page, {"member-username": "newbie", "add_member": "1"})
    assert response.status_code == 302
    assert Membership.objects.filter(workspace=workspace, user=newbie).exists()
    newbie.refresh_from_db()
    assert newbie.is_staff
    assert AuditEvent.objects.filter(action=AuditAction.GRANTED, object_repr="newbie", actor=owner).exists()


def test_unknown_username_is_a_form_error(login, owner, workspace, page):
    response = login(owner).post(page, {"member-username": "ghost", "add_member": "1"})
    assert response.status_code == 200
    assert "No user with that username." in response.content.decode()
    assert not Membership.objects.filter(user__username="ghost").exists()


def test_owner_grants_a_role_on_chosen_functions(login, owner, workspace, function, second_function, page):
    bob = UserFactory(username="bob")
    data = {"role-grantee_kind": "user", "role-name": "bob", "role-role": "functions-admin",
            "role-functions": [function.pk], "grant": "Grant"}  # fmt: skip
    assert login(owner).post(page, data).status_code == 302
    assert permissions.can_admin_function(bob, function)
    assert not permissions.can_admin_function(bob, second_function)


def test_owner_grants_and_revokes_a_group_role_workspace_wide(login, owner, workspace, source, page):
    group = Group.objects.create(name="ops")
    dave = UserFactory(username="dave")
    dave.groups.add(group)
    membership_ensure(workspace=workspace, user=dave)
    data = {"role-grantee_kind": "group", "role-name": "ops", "role-role": "source-admin", "grant": "Grant"}
    client = login(owner)
    assert client.post(page, data).status_code == 302
    assert permissions.can_admin_source(dave, source)
    data.pop("grant")
    assert client.post(page, {**data, "revoke": "Revoke"}).status_code == 302
    dave = type(dave).objects.get(pk=dave.pk)
    assert not permissions.can_admin_source(dave, source)


def test_functions_cannot_be_chosen_for_a_source_role(login, owner, function, page):
    UserFactory(username="bob")
    data = {"role-grantee_kind": "user", "role-name": "bob", "role-role": "source-admin",
            "role-functions": [function.pk], "grant": "Grant"}  # fmt: skip
    response = login(owner).post(page, data)
    assert response.status_code == 200
    assert "Functions can only be chosen for a Functions role." in response.content.decode()


def test_objects_of_another_workspace_cannot_be_chosen(login, owner, foreign_function, page):
    bob = UserFactory(username="bob")
    data = {"role-grantee_kind": "user", "role-name": "bob", "role-role": "functions-admin",
            "role-functions": [foreign_function.pk], "grant": "Grant"}  # fmt: skip
    assert login(owner).post(page, data).status_code == 200
    assert not permissions.can_admin_function(bob, foreign_function)


def test_non_owner_member_gets_403_and_outsider_404(login, functions_admin, outsider, page):
    assert login(functions_admin).get(page).status_code == 403
    assert login(outsider).get(page).status_code == 404
