"""manage.py grant: roles to users or groups, workspace-wide or on listed public ids."""

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command

from tests.factories import UserFactory
from workspaces import permissions
from workspaces.choices import AuditAction
from workspaces.models import AuditEvent
from workspaces.services import membership_ensure


@pytest.fixture
def bob(workspace):
    return UserFactory(username="bob")


def grant(*args):
    call_command("grant", *args)


def test_functions_admin_on_all_functions(workspace, function, second_function, bob):
    grant("functions-admin", "--workspace", "acme", "--user", "bob")
    assert permissions.can_create_function(bob, workspace)
    assert set(permissions.functions_administered(bob)) == {function, second_function}
    assert AuditEvent.objects.filter(action=AuditAction.GRANTED, object_repr="bob").exists()


def test_functions_admin_on_a_list(workspace, function, second_function, bob):
    grant("functions-admin", "--workspace", "acme", "--user", "bob", "--function", function.public_id)
    assert permissions.can_admin_function(bob, function)
    assert not permissions.can_admin_function(bob, second_function)
    assert not permissions.can_create_function(bob, workspace)


@pytest.mark.parametrize("style", ["repeated", "listed"])
def test_several_ids_repeated_or_listed(workspace, function, second_function, bob, style):
    ids = [function.public_id, second_function.public_id]
    flags = ["--function", ids[0], "--function", ids[1]] if style == "repeated" else ["--function", *ids]
    grant("functions-read-only", "--workspace", "acme", "--user", "bob", *flags)
    assert set(permissions.functions_visible(bob)) == {function, second_function}
    assert not permissions.can_create_function(bob, workspace)


def test_source_read_only_on_a_list(workspace, source, other_source, bob):
    grant("source-read-only", "--workspace", "acme", "--user", "bob", "--source", source.public_id)
    assert list(permissions.sources_visible(bob)) == [source]
    assert not permissions.can_admin_source(bob, source)


def test_owner_and_revoke(workspace, function, bob):
    grant("owner", "--workspace", "acme", "--user", "bob")
    assert permissions.is_owner(bob, workspace)
    assert permissions.can_admin_function(bob, function)
    grant("owner", "--workspace", "acme", "--user", "bob", "--revoke")
    assert not permissions.is_owner(bob, workspace)
    assert not permissions.can_view_function(bob, function)


def test_group_grant_reaches_members(workspace, function, bob):
    group = Group.objects.create(name="editors")
    bob.groups.add(group)
    grant("functions-read-only", "--workspace", "acme", "--group", "editors")
    # Membership is access: the group's grant reaches bob once he is a member of acme.
    assert not permissions.can_view_function(bob, function)
    membership_ensure(workspace=workspace, user=bob)
    assert permissions.can_view_function(bob, function)
    assert not permissions.can_admin_function(bob, function)


@pytest.mark.parametrize(
    "args, message",
    [
        (["owner", "--workspace", "nope", "--user", "bob"], "Unknown workspace 'nope'"),
        (["owner", "--workspace", "acme", "--user", "nobody"], "Unknown user 'nobody'"),
        (["owner", "--workspace", "acme", "--group", "nogroup"], "Unknown group 'nogroup'"),
        (
            ["functions-admin", "--workspace", "acme", "--user", "bob", "--function", "dfn_missing"],
            "dfn_missing",
        ),
        (
            ["source-admin", "--workspace", "acme", "--user", "bob", "--source", "FUNCTION_ID"],
            "Unknown source id",  # a function id passed to a source role
        ),
        (
            ["owner", "--workspace", "acme", "--user", "bob", "--function", "FUNCTION_ID"],
            "--function ids cannot",
        ),
        (["functions-admin", "--workspace", "acme", "--user", "bob", "--source", "x"], "--source ids cannot"),
    ],
)
def test_clear_errors(workspace, function, bob, args, message):
    args = [function.public_id if a == "FUNCTION_ID" else a for a in args]
    with pytest.raises(CommandError, match=message):
        grant(*args)
    assert not AuditEvent.objects.filter(action=AuditAction.GRANTED).exists()


def test_function_of_another_workspace_is_unknown(workspace, foreign_function, bob):
    with pytest.raises(CommandError, match=foreign_function.public_id):
        grant(
            "functions-admin",
            "--workspace",
            "acme",
            "--user",
            "bob",
            "--function",
            foreign_function.public_id,
        )
    assert not permissions.can_admin_function(bob, foreign_function)


def test_user_or_group_is_required(workspace):
    with pytest.raises(CommandError):
        grant("owner", "--workspace", "acme")
