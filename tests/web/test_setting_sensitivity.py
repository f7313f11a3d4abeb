"""A setting moved across the plain/encrypted line: values follow it, none shows, none is lost.

The author flips `sensitive` on a setting that instances already hold a value for. From the
save on, the value is treated as a secret (masked to readers, write-only in forms); the deploy
moves it to the column its new version says; and a form or PATCH that leaves it out keeps it.
"""

import json

import pytest
from django.db import connection
from django.urls import reverse

from catalog.services import function_create, function_save
from runtime.models import FunctionInstance
from runtime.services import function_save_and_deploy, instance_create
from tests.permission_matrix import form_fields

VALUE = "tok_was_plain_31337"
PLAIN = [{"label": "Token"}, {"label": "Region"}]
SECRET = [{"label": "Token", "sensitive": True}, {"label": "Region"}]

pytestmark = pytest.mark.django_db


def columns(instance) -> tuple[dict, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT settings, encrypted_settings FROM runtime_functioninstance WHERE id = %s", [instance.pk]
        )
        plain, encrypted = cursor.fetchone()
    return (json.loads(plain) if isinstance(plain, str) else plain), encrypted


def make(workspace, source, schema, values):
    function = function_create(
        workspace=workspace, resource_type="DESTINATION", display_name="Flip", settings=schema
    )
    return instance_create(function=function, name="Flip", source=source, settings=values)


@pytest.fixture
def was_plain(workspace, source):
    return make(workspace, source, PLAIN, {"token": VALUE, "region": "eu"})


@pytest.fixture
def was_secret(workspace, source):
    return make(workspace, source, SECRET, {"token": VALUE, "region": "eu"})


def deploy(instance, owner, schema, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        function_save_and_deploy(function=instance.function, author=owner, settings=schema)
    return FunctionInstance.objects.get(pk=instance.pk)


def test_made_sensitive_moves_to_the_encrypted_column_on_deploy(
    was_plain, owner, django_capture_on_commit_callbacks
):
    instance = deploy(was_plain, owner, SECRET, django_capture_on_commit_callbacks)
    plain, encrypted = columns(instance)
    assert plain == {"region": "eu"}
    assert VALUE not in encrypted and encrypted.startswith("gAAAA")
    assert instance.all_settings() == {"token": VALUE, "region": "eu"}


def test_made_plain_moves_to_the_plain_column_on_deploy(
    was_secret, owner, django_capture_on_commit_callbacks
):
    instance = deploy(was_secret, owner, PLAIN, django_capture_on_commit_callbacks)
    plain, _ = columns(instance)
    assert plain == {"token": VALUE, "region": "eu"}
    assert instance.secret_values() == {}


def test_made_sensitive_is_masked_before_any_deploy(api_as, login, read_only, was_plain, owner):
    function_save(function=was_plain.function, author=owner, settings=SECRET)
    response = api_as(read_only).get(f"/api/function-instances/{was_plain.public_id}")
    assert response.status_code == 200
    assert VALUE not in response.content.decode()
    assert response.json()["data"]["instance"]["settings"]["region"] == "eu"
    page = login(read_only).get(reverse("admin:runtime_functioninstance_change", args=[was_plain.pk]))
    assert page.status_code == 200 and VALUE not in page.content.decode()


def test_values_in_the_wrong_column_are_never_shown(api_as, login, read_only, owner, was_plain):
    # A row written before values followed their setting: the secret still sits in the plain column.
    function_save(function=was_plain.function, author=owner, settings=SECRET)
    FunctionInstance.objects.filter(pk=was_plain.pk).update(
        deployed_version=was_plain.function.latest_version
    )
    for user in (read_only, owner):
        body = api_as(user).get(f"/api/function-instances/{was_plain.public_id}").content.decode()
        assert VALUE not in body
        page = login(user).get(reverse("admin:runtime_functioninstance_change", args=[was_plain.pk]))
        assert VALUE not in page.content.decode()


def untouched_post(client, instance):
    url = reverse("admin:runtime_functioninstance_change", args=[instance.pk])
    data = form_fields(client.get(url).content.decode())
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    return FunctionInstance.objects.get(pk=instance.pk)


@pytest.mark.parametrize("deployed", [False, True])
def test_untouched_admin_form_keeps_a_value_made_sensitive(
    login, owner, was_plain, deployed, django_capture_on_commit_callbacks
):
    if deployed:
        deploy(was_plain, owner, SECRET, django_capture_on_commit_callbacks)
    else:
        function_save(function=was_plain.function, author=owner, settings=SECRET)
    client = login(owner)
    page = client.get(reverse("admin:runtime_functioninstance_change", args=[was_plain.pk]))
    assert VALUE not in page.content.decode()
    instance = untouched_post(client, was_plain)
    assert instance.all_settings() == {"token": VALUE, "region": "eu"}
    assert "token" not in columns(instance)[0]


@pytest.mark.parametrize("deployed", [False, True])
def test_untouched_admin_form_keeps_a_value_made_plain(
    login, owner, was_secret, deployed, django_capture_on_commit_callbacks
):
    if deployed:
        deploy(was_secret, owner, PLAIN, django_capture_on_commit_callbacks)
    else:
        function_save(function=was_secret.function, author=owner, settings=PLAIN)
    instance = untouched_post(login(owner), was_secret)
    assert instance.all_settings() == {"token": VALUE, "region": "eu"}


def test_untouched_form_keeps_a_value_in_the_wrong_column(login, owner, was_secret):
    # Encrypted column, schema says plain (a deploy from before values followed their setting).
    function_save(function=was_secret.function, author=owner, settings=PLAIN)
    FunctionInstance.objects.filter(pk=was_secret.pk).update(
        deployed_version=was_secret.function.latest_version
    )
    instance = untouched_post(login(owner), was_secret)
    assert instance.all_settings() == {"token": VALUE, "region": "eu"}


@pytest.mark.parametrize("deployed", [False, True])
def test_api_patch_without_the_value_keeps_it(
    api, owner, was_plain, deployed, django_capture_on_commit_callbacks
):
    if deployed:
        deploy(was_plain, owner, SECRET, django_capture_on_commit_callbacks)
    else:
        function_save(function=was_plain.function, author=owner, settings=SECRET)
    url = f"/api/function-instances/{was_plain.public_id}"
    shown = api.get(url).json()["data"]["instance"]["settings"]
    assert shown["token"] != VALUE
    response = api.patch(url, {"settings": shown}, format="json")  # sent back as read
    assert response.status_code == 200, response.content
    assert VALUE not in response.content.decode()
    response = api.patch(url, {"settings": {"region": "us"}}, format="json")
    assert response.status_code == 200
    instance = FunctionInstance.objects.get(pk=was_plain.pk)
    assert instance.all_settings() == {"token": VALUE, "region": "us"}
    assert "token" not in columns(instance)[0]


def test_insert_instance_api_masks_a_value_made_sensitive(api_as, read_only, owner, workspace, source):
    function = function_create(
        workspace=workspace, resource_type="INSERT_SOURCE", display_name="Ins", settings=PLAIN
    )
    instance = instance_create(function=function, name="i", source=source, settings={"token": VALUE})
    function_save(function=function, author=owner, settings=SECRET)
    body = api_as(read_only).get(f"/api/insert-function-instances/{instance.public_id}").content.decode()
    assert VALUE not in body
