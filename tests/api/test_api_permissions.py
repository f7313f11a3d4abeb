"""The permission matrix of the API: every endpoint x persona, exact statuses.

404 for what the persona may not see (including everything outside its token's workspace),
403 for what it may see but not do, 401 without a token. Denied writes change nothing.
"""

import re

import pytest
from rest_framework.test import APIClient

from catalog.models import Function, FunctionVersion
from runtime.models import Deployment, FunctionInstance
from workspaces.models import Source

PERSONAS = [
    "owner",
    "functions_admin",
    "functions_admin_list",
    "read_only",
    "source_admin",
    "outsider",
    "anonymous",
]


def row(*statuses):
    return dict(zip(PERSONAS, statuses, strict=True))


# endpoint name -> (method, url template, body), filled from the fixtures' public ids
ENDPOINTS = {
    "list functions": ("get", "/api/functions", None),
    "get function": ("get", "/api/functions/{function}", None),
    "get listed-out function": ("get", "/api/functions/{second_function}", None),
    "list versions": ("get", "/api/functions/{function}/versions", None),
    "get version": ("get", "/api/functions/{function}/versions/{version}", None),
    "list instances": ("get", "/api/functions/{function}/instances", None),
    "get instance": ("get", "/api/function-instances/{instance}", None),
    "instance errors": ("get", "/api/function-instances/{instance}/errors", None),
    "instance metrics": ("get", "/api/function-instances/{instance}/metrics", None),
    "list sources": ("get", "/api/sources", None),
    "get source": ("get", "/api/sources/{source}", None),
    "get foreign function": ("get", "/api/functions/{foreign_function}", None),
    "create function": (
        "post",
        "/api/functions",
        {"displayName": "New", "resourceType": "DESTINATION", "code": "async function onTrack(e) {}"},
    ),
    "update function": ("patch", "/api/functions/{function}", {"description": "changed"}),
    "delete function": ("delete", "/api/functions/{function}", None),
    "restore version": ("post", "/api/functions/{function}/versions", {"versionId": "{version}"}),
    "deploy function": ("post", "/api/functions/{function}/deploy", None),
    # Functions admins cannot see the source named in the body: 404.
    "connect instance": (
        "post",
        "/api/functions/{function}/instances",
        {"name": "Second", "sourceId": "{other_source}"},
    ),
    "update instance": ("patch", "/api/function-instances/{instance}", {"name": "Renamed"}),
    "delete instance": ("delete", "/api/function-instances/{instance}", None),
    "create insert instance": (
        "post",
        "/api/insert-function-instances",
        {"functionId": "{second_function}", "integrationId": "{instance}", "name": "Ins", "settings": {}},
    ),
    "create source": ("post", "/api/sources", {"name": "Server"}),
    "update source": ("patch", "/api/sources/{source}", {"name": "Renamed"}),
    "delete source": ("delete", "/api/sources/{source}", None),
}

#                                 owner fn-adm fn-list  r/o  src-adm outsider anon
EXPECTED = {
    "list functions": row(200, 200, 200, 200, 200, 200, 401),
    "get function": row(200, 200, 200, 200, 404, 404, 401),
    "get listed-out function": row(200, 200, 404, 200, 404, 404, 401),
    "list versions": row(200, 200, 200, 200, 404, 404, 401),
    "get version": row(200, 200, 200, 200, 404, 404, 401),
    "list instances": row(200, 200, 200, 200, 404, 404, 401),
    "get instance": row(200, 200, 200, 200, 200, 404, 401),
    "instance errors": row(200, 200, 200, 200, 200, 404, 401),
    "instance metrics": row(200, 200, 200, 200, 200, 404, 401),
    "list sources": row(200, 200, 200, 200, 200, 200, 401),
    "get source": row(200, 404, 404, 200, 200, 404, 401),
    "get foreign function": row(404, 404, 404, 404, 404, 200, 401),
    # The outsider's token belongs to its own workspace: it creates there, never in acme.
    "create function": row(200, 200, 403, 403, 403, 200, 401),
    "update function": row(200, 200, 200, 403, 404, 404, 401),
    # Deleting also removes the function's instances: Source Admin on each instance's source.
    "delete function": row(200, 403, 403, 403, 404, 404, 401),
    "restore version": row(200, 200, 200, 403, 404, 404, 401),
    # Deploying also needs Source Admin on the instance's source.
    "deploy function": row(200, 403, 403, 403, 404, 404, 401),
    "connect instance": row(200, 404, 404, 403, 404, 404, 401),
    # Configuring needs Source Admin on the source and read access to the function.
    "update instance": row(200, 403, 403, 403, 403, 404, 401),
    "delete instance": row(200, 403, 403, 403, 403, 404, 401),
    "create insert instance": row(200, 403, 404, 403, 404, 404, 401),
    "create source": row(200, 403, 403, 403, 200, 200, 401),
    "update source": row(200, 404, 404, 403, 200, 404, 401),
    "delete source": row(200, 404, 404, 403, 200, 404, 401),
}

CASES = [(endpoint, persona) for endpoint in ENDPOINTS for persona in PERSONAS]


def snapshot(workspace):
    """Everything a denied write could have changed in acme."""
    functions = Function.objects.filter(workspace=workspace)
    return {
        "functions": sorted(
            functions.values_list("public_id", "display_name", "description", "latest_version_id")
        ),
        "versions": FunctionVersion.objects.filter(function__workspace=workspace).count(),
        "sources": sorted(
            Source.objects.filter(workspace=workspace).values_list("public_id", "name", "enabled")
        ),
        "instances": sorted(
            FunctionInstance.objects.filter(function__workspace=workspace).values_list(
                "public_id", "name", "enabled"
            )
        ),
        "deployments": Deployment.objects.filter(instance__function__workspace=workspace).count(),
    }


@pytest.fixture
def ids(function, second_function, instance, source, other_source, foreign_function):
    return {
        "function": function.public_id,
        "second_function": second_function.public_id,
        "version": function.latest_version.public_id,
        "instance": instance.public_id,
        "source": source.public_id,
        "other_source": other_source.public_id,
        "foreign_function": foreign_function.public_id,
    }


def fill(value, ids):
    if isinstance(value, str):
        return re.sub(r"\{(\w+)\}", lambda m: ids.get(m.group(1), m.group(0)), value)
    if isinstance(value, dict):
        return {key: fill(item, ids) for key, item in value.items()}
    return value


def test_matrix_covers_every_endpoint_and_persona():
    assert set(EXPECTED) == set(ENDPOINTS)
    assert all(set(statuses) == set(PERSONAS) for statuses in EXPECTED.values())


@pytest.mark.parametrize(("endpoint", "persona"), CASES)
def test_permission_matrix(
    endpoint, persona, personas, api_as, ids, workspace, django_capture_on_commit_callbacks
):
    method, url, body = ENDPOINTS[endpoint]
    user = personas[persona]
    client = api_as(user) if user is not None else APIClient()
    before = snapshot(workspace)
    with django_capture_on_commit_callbacks(execute=True):
        response = getattr(client, method)(fill(url, ids), fill(body, ids), format="json")
    expected = EXPECTED[endpoint][persona]
    assert response.status_code == expected, response.content
    if expected == 200:
        assert "data" in response.json()
    else:
        error = response.json()["errors"][0]
        assert error["status"] == expected and error["message"]
    if method != "get" and (expected != 200 or persona == "outsider"):
        assert snapshot(workspace) == before


def test_lists_show_only_what_the_persona_may_see(personas, api_as, ids):
    def function_ids(persona):
        return {f["id"] for f in api_as(personas[persona]).get("/api/functions").json()["data"]["functions"]}

    assert function_ids("owner") == {ids["function"], ids["second_function"]}
    assert function_ids("functions_admin_list") == {ids["function"]}
    assert function_ids("source_admin") == set()
    assert function_ids("outsider") == {ids["foreign_function"]}


def test_write_key_only_for_source_managers(personas, api_as, ids, source):
    def shown(persona):
        return api_as(personas[persona]).get(f"/api/sources/{ids['source']}").json()["data"]["source"]

    assert shown("source_admin")["writeKey"] == source.write_key
    assert shown("owner")["writeKey"] == source.write_key
    assert shown("read_only")["writeKey"] is None
