"""Shared fixtures: the personas every permission test is phrased in.

One workspace ("acme") holds two functions, two sources and an instance; another workspace
("other") belongs to the outsider. Personas:
  owner              Workspace Owner of acme
  functions_admin    Functions Admin on all functions of acme
  functions_admin_list  Functions Admin on acme's first function only
  read_only          Functions Read-only (all) + Source Read-only (all)
  source_admin       Source Admin on all sources of acme
  outsider           owner of "other", member of nothing in acme
  anonymous          not logged in
"""

import pytest
from django.contrib.auth.models import AnonymousUser

from catalog.choices import ResourceType
from tests.factories import (
    FunctionFactory,
    InstanceFactory,
    SourceFactory,
    UserFactory,
    WorkspaceFactory,
)
from workspaces.services import role_grant

PASSWORD = "pw-for-tests-1"

# One real browser for the whole session (see tests/browser.py for why only one).
pytest_plugins = ["tests.browser"]


@pytest.fixture
def workspace(db):
    return WorkspaceFactory(slug="acme", name="Acme")


@pytest.fixture
def other_workspace(db):
    return WorkspaceFactory(slug="other", name="Other")


@pytest.fixture
def source(workspace):
    return SourceFactory(workspace=workspace, name="Website")


@pytest.fixture
def other_source(workspace):
    return SourceFactory(workspace=workspace, name="Mobile")


@pytest.fixture
def function(workspace):
    return FunctionFactory(
        workspace=workspace, display_name="Webhook Forwarder", resource_type=ResourceType.DESTINATION
    )


@pytest.fixture
def second_function(workspace):
    return FunctionFactory(
        workspace=workspace, display_name="Enricher", resource_type=ResourceType.INSERT_DESTINATION
    )


@pytest.fixture
def instance(function, source):
    return InstanceFactory(function=function, source=source, name="Forward website")


@pytest.fixture
def foreign_function(other_workspace):
    return FunctionFactory(workspace=other_workspace, display_name="Secret Function")


def _user(name, workspace, role=None, objects=()):
    user = UserFactory(username=name)
    if role:
        role_grant(workspace=workspace, role=role, user=user, objects=objects)
    return user


@pytest.fixture
def owner(workspace):
    return _user("owner", workspace, "owner")


@pytest.fixture
def functions_admin(workspace):
    return _user("fnadmin", workspace, "functions-admin")


@pytest.fixture
def functions_admin_list(workspace, function):
    return _user("fnadmin-list", workspace, "functions-admin", [function])


@pytest.fixture
def read_only(workspace):
    user = _user("readonly", workspace, "functions-read-only")
    role_grant(workspace=workspace, role="source-read-only", user=user)
    return user


@pytest.fixture
def source_admin(workspace):
    return _user("srcadmin", workspace, "source-admin")


@pytest.fixture
def outsider(other_workspace):
    return _user("outsider", other_workspace, "owner")


@pytest.fixture
def anonymous():
    return AnonymousUser()


@pytest.fixture
def personas(owner, functions_admin, functions_admin_list, read_only, source_admin, outsider):
    return {
        "owner": owner,
        "functions_admin": functions_admin,
        "functions_admin_list": functions_admin_list,
        "read_only": read_only,
        "source_admin": source_admin,
        "outsider": outsider,
        "anonymous": None,
    }


@pytest.fixture
def login(client):
    def _login(user):
        client.force_login(user)
        return client

    return _login
