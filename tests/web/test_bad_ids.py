"""Ids that are not ids: non-ASCII digits, numbers past the database's range, foreign objects.

Each answers 4xx (404 for a path that names nothing, 422 for a body or query value) and
writes nothing; a form shows the error instead of failing after a partial save.
"""

import base64

import pytest
from django.urls import reverse

from catalog.models import FunctionVersion
from runtime.models import Deployment, FunctionInstance
from tests.factories import FunctionFactory, InstanceFactory, SourceFactory
from tests.permission_matrix import form_fields
from workspaces.services import role_grant

pytestmark = pytest.mark.django_db

NOT_IDS = ["²", "١٢", "1" * 30, "9" * 20, "-1", "0x10"]


def cursor(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize("value", NOT_IDS)
def test_path_parameters(api, function, instance, source, value):
    paths = [
        f"/api/functions/{value}",
        f"/api/functions/{function.public_id}/versions/{value}",
        f"/api/function-instances/{value}",
        f"/api/function-instances/{value}/errors",
        f"/api/insert-function-instances/{value}",
        f"/api/sources/{value}",
    ]
    for path in paths:
        response = api.get(path)
        assert response.status_code == 404, (path, response.content[:200])


@pytest.mark.parametrize("value", NOT_IDS)
def test_admin_path_parameters(login, owner, function, instance, value):
    client = login(owner)
    for url in (
        f"/admin/catalog/function/{value}/change/",
        f"/admin/catalog/function/{value}/versions/",
        f"/admin/runtime/functioninstance/{value}/change/",
        f"/admin/workspaces/workspace/{value}/members/",
    ):
        response = client.get(url)
        assert 300 <= response.status_code < 500, (url, response.status_code)


@pytest.mark.parametrize(
    "query",
    [
        "pagination.count=²",
        "pagination.count=" + "1" * 30,
        "pagination[count]=١",
        "pagination.cursor=" + cursor("9" * 20),
        "pagination.cursor=" + cursor("²"),
        "pagination.cursor=" + cursor("-5"),
        "pagination.cursor=%FF",
    ],
)
def test_pagination_parameters(api, function, query):
    response = api.get(f"/api/functions?{query}")
    assert response.status_code == 422, response.content[:300]
    assert response.json()["errors"][0]["field"].startswith("pagination.")


def test_a_cursor_past_the_end_is_an_empty_page(api, function):
    response = api.get(f"/api/functions?pagination.cursor={cursor('100000')}")
    assert response.status_code == 200
    assert response.json()["data"]["functions"] == []


@pytest.mark.parametrize("value", ["²", "1" * 30])
def test_query_ids(api, function, value):
    response = api.get(f"/api/insert-function-instances?functionId={value}")
    assert 400 <= response.status_code < 500


@pytest.mark.parametrize("value", ["²", "١", "1" * 30, "9" * 19, "-1"])
def test_deploy_body_ids(api, function, instance, value, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api.post(
            f"/api/functions/{function.public_id}/deploy", {"instanceIds": [value]}, format="json"
        )
    assert response.status_code == 422, response.content[:300]
    assert Deployment.objects.count() == 0 and callbacks == []


def test_deploy_body_with_another_functions_instance(api, function, second_function, source):
    other = InstanceFactory(function=FunctionFactory(workspace=function.workspace), source=source)
    for value in (other.public_id, str(other.pk)):
        response = api.post(
            f"/api/functions/{function.public_id}/deploy", {"instanceIds": [value]}, format="json"
        )
        assert response.status_code == 422
    assert Deployment.objects.count() == 0


def deploy_post(client, function, chosen):
    url = reverse("admin:catalog_function_change", args=[function.pk])
    data = form_fields(client.get(url).content.decode())
    data.update({"_deploy": "1", "deploy_target": "chosen", "deploy_instances": chosen})
    return client.post(url, data)


@pytest.mark.parametrize("which", ["other function", "other workspace", "²", "huge"])
def test_save_and_deploy_to_instances_of_another_function(
    login, owner, function, instance, source, foreign_function, which, django_capture_on_commit_callbacks
):
    other = {
        "other function": lambda: InstanceFactory(
            function=FunctionFactory(workspace=function.workspace), source=source
        ),
        "other workspace": lambda: InstanceFactory(function=foreign_function),
    }
    chosen = [str(other[which]().pk)] if which in other else ["²" if which == "²" else "1" * 30]
    versions = FunctionVersion.objects.count()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = deploy_post(login(owner), function, [str(instance.pk), *chosen])
    assert response.status_code == 200  # the form again, with the error
    assert "Not instances of this function" in response.content.decode()
    assert FunctionVersion.objects.count() == versions and Deployment.objects.count() == 0
    assert callbacks == []


def test_connect_form_offers_only_the_functions_workspace(login, owner, function, source, other_workspace):
    foreign = SourceFactory(workspace=other_workspace, name="Foreign source")
    role_grant(workspace=other_workspace, role="owner", user=owner)  # a member of both
    client = login(owner)
    url = reverse("admin:runtime_functioninstance_add") + f"?function={function.pk}"
    page = client.get(url).content.decode()
    assert source.name in page and "Foreign source" not in page
    # A forged choice is a form error, and nothing is created.
    data = {**form_fields(page), "function": str(function.pk), "name": "x", "source": str(foreign.pk)}
    response = client.post(url, data)
    assert response.status_code == 200
    assert not FunctionInstance.objects.filter(name="x").exists()


def test_surrogate_in_settings_patch_is_refused_and_the_instance_stays_readable(api, instance):
    url = f"/api/function-instances/{instance.public_id}"
    response = api.generic(
        "PATCH", url, '{"settings": {"x": "\\ud800"}, "name": "\\ud800"}', content_type="application/json"
    )
    assert response.status_code == 400
    assert api.get(url).status_code == 200
    instance.refresh_from_db()
    assert instance.name == "Forward website"
