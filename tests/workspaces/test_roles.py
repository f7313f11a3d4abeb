"""Roles combine to the most permissive, whether granted to the user or to one of its groups."""

import pytest
from django.contrib.auth.models import Group

from tests.factories import FunctionFactory, InstanceFactory, SourceFactory, UserFactory
from workspaces import permissions
from workspaces.services import membership_ensure, role_grant, role_revoke


@pytest.fixture
def carol(workspace):
    return UserFactory(username="carol")


@pytest.fixture
def editors(carol):
    group = Group.objects.create(name="editors")
    carol.groups.add(group)
    return group


def test_user_read_only_plus_group_admin_on_a_list(workspace, function, second_function, carol, editors):
    role_grant(workspace=workspace, role="functions-read-only", user=carol)
    role_grant(workspace=workspace, role="functions-admin", group=editors, objects=[second_function])
    assert set(permissions.functions_visible(carol)) == {function, second_function}
    assert permissions.can_admin_function(carol, second_function)
    assert not permissions.can_admin_function(carol, function)
    assert not permissions.can_create_function(carol, workspace)


def test_group_admin_on_all_beats_user_read_only(workspace, function, carol, editors):
    role_grant(workspace=workspace, role="functions-read-only", user=carol, objects=[function])
    role_grant(workspace=workspace, role="functions-admin", group=editors)
    assert permissions.can_admin_function(carol, function)
    assert permissions.can_create_function(carol, workspace)
    # Covers future functions too.
    later = FunctionFactory(workspace=workspace, display_name="Later")
    assert permissions.can_admin_function(carol, later)


def test_deploy_needs_source_admin_on_every_affected_source(
    workspace, function, source, other_source, carol, editors
):
    first = InstanceFactory(function=function, source=source)
    second = InstanceFactory(function=function, source=other_source)
    role_grant(workspace=workspace, role="functions-admin", user=carol, objects=[function])
    role_grant(workspace=workspace, role="source-admin", group=editors, objects=[source])
    assert permissions.can_deploy(carol, function, [first])
    assert not permissions.can_deploy(carol, function, [first, second])
    role_grant(workspace=workspace, role="source-admin", user=carol, objects=[other_source])
    assert permissions.can_deploy(carol, function, [first, second])


def test_connect_rules(workspace, function, source, carol, foreign_function):
    source_function = FunctionFactory(workspace=workspace, resource_type="SOURCE", display_name="Hook")
    role_grant(workspace=workspace, role="functions-admin", user=carol)
    assert not permissions.can_connect(carol, function, source)
    role_grant(workspace=workspace, role="source-admin", user=carol, objects=[source])
    assert permissions.can_connect(carol, function, source)
    # A source function creates a new source: that takes Source Admin on all sources.
    assert not permissions.can_connect(carol, source_function)
    role_grant(workspace=workspace, role="source-admin", user=carol)
    assert permissions.can_connect(carol, source_function)
    assert not permissions.can_connect(carol, foreign_function, source)


def test_read_only_sees_but_cannot_change(workspace, function, source, instance, read_only):
    assert permissions.can_view_function(read_only, function)
    assert permissions.can_view_source(read_only, source)
    assert permissions.can_view_instance(read_only, instance)
    assert not permissions.can_admin_function(read_only, function)
    assert not permissions.can_configure_instance(read_only, instance)
    assert not permissions.can_deploy(read_only, function, [instance])


def test_revoking_the_group_grant_removes_it(workspace, function, carol, editors):
    membership_ensure(workspace=workspace, user=carol)
    role_grant(workspace=workspace, role="functions-admin", group=editors)
    assert permissions.can_admin_function(carol, function)
    role_revoke(workspace=workspace, role="functions-admin", group=editors)
    carol = type(carol).objects.get(pk=carol.pk)  # guardian caches permissions per instance
    assert not permissions.can_admin_function(carol, function)
    assert not permissions.can_view_function(carol, function)


def test_owner_may_do_everything_in_its_workspace_only(
    workspace, function, instance, owner, foreign_function
):
    assert permissions.can_deploy(owner, function, [instance])
    assert permissions.can_manage_members(owner, workspace)
    assert permissions.workspaces_owned(owner).filter(pk=workspace.pk).exists()  # the audit trail
    assert not permissions.can_view_function(owner, foreign_function)


def test_inactive_and_anonymous_users_get_nothing(workspace, function, functions_admin, anonymous):
    functions_admin.is_active = False
    assert not permissions.can_view_function(functions_admin, function)
    assert not permissions.functions_visible(functions_admin).exists()
    assert not permissions.functions_visible(anonymous).exists()
    assert not permissions.can_view_function(anonymous, function)


def test_workspace_grants_lists_every_grant(workspace, function, source, carol, editors, owner):
    role_grant(workspace=workspace, role="functions-admin", user=carol, objects=[function])
    role_grant(workspace=workspace, role="source-read-only", group=editors)
    grants = {
        (g["kind"], str(g["grantee"]), g["role"], tuple(g["objects"]))
        for g in permissions.workspace_grants(workspace)
    }
    assert grants == {
        ("user", "owner", "owner", ()),
        ("user", "carol", "functions-admin", (function,)),
        ("group", "editors", "source-read-only", ()),
    }


def test_source_read_only_on_a_list(workspace, source, other_source, carol):
    role_grant(workspace=workspace, role="source-read-only", user=carol, objects=[other_source])
    assert list(permissions.sources_visible(carol)) == [other_source]
    assert not permissions.can_view_source(carol, source)
    assert not permissions.can_create_source(carol, workspace)
    SourceFactory(workspace=workspace, name="Future")
    assert permissions.sources_visible(carol).count() == 1
