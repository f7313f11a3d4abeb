"""Deleting a function removes its instances and the destination-insert instances in front of
them: it takes the right to remove each one, and every removed instance is audited."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from catalog.models import Function
from runtime.models import FunctionInstance
from tests.factories import FunctionFactory, InstanceFactory, SourceFactory, UserFactory
from workspaces.choices import AuditAction
from workspaces.models import AuditEvent, Source
from workspaces.services import access_token_create, role_grant


@pytest.fixture
def api_as(workspace):
    def _api_as(user):
        _, secret = access_token_create(workspace=workspace, user=user, name="t")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        return client

    return _api_as


@pytest.fixture
def wired(workspace, function, source):
    """The function on two sources, and another function's insert instance in front of one."""
    other_source = SourceFactory(workspace=workspace, name="Mobile")
    first = InstanceFactory(function=function, source=source, name="On website")
    second = InstanceFactory(function=function, source=other_source, name="On mobile")
    enricher = FunctionFactory(
        workspace=workspace, display_name="Enricher", resource_type="INSERT_DESTINATION"
    )
    insert = InstanceFactory(function=enricher, source=source, destination=first, name="Enrich website")
    return {"first": first, "second": second, "insert": insert, "other_source": other_source}


def _admin_of(workspace, function, *sources):
    user = UserFactory(username="dora")
    role_grant(workspace=workspace, role="functions-admin", user=user, objects=[function])
    role_grant(workspace=workspace, role="functions-read-only", user=user)
    if sources:
        role_grant(workspace=workspace, role="source-admin", user=user, objects=list(sources))
    return user


def test_functions_admin_without_source_admin_gets_403_listing_the_instances(
    api_as, workspace, function, wired
):
    user = _admin_of(workspace, function)
    response = api_as(user).delete(f"/api/functions/{function.public_id}")
    assert response.status_code == 403
    message = response.json()["errors"][0]["message"]
    assert "On website" in message and "On mobile" in message
    assert Function.objects.filter(pk=function.pk).exists()
    assert FunctionInstance.objects.count() == 3


def test_source_admin_on_some_sources_is_not_enough(api_as, login, workspace, function, source, wired):
    user = _admin_of(workspace, function, source)
    response = api_as(user).delete(f"/api/functions/{function.public_id}")
    assert response.status_code == 403
    assert "On mobile" in response.json()["errors"][0]["message"]
    assert "On website" not in response.json()["errors"][0]["message"]
    admin_delete = reverse("admin:catalog_function_delete", args=[function.pk])
    assert login(user).post(admin_delete, {"post": "yes"}).status_code == 403
    assert FunctionInstance.objects.count() == 3


def test_with_every_right_it_deletes_and_audits_each_instance(api_as, workspace, function, source, wired):
    user = _admin_of(workspace, function, source, wired["other_source"])
    assert api_as(user).delete(f"/api/functions/{function.public_id}").status_code == 200
    assert not Function.objects.filter(pk=function.pk).exists()
    assert not FunctionInstance.objects.exists()  # the insert instance in front went too
    deleted = AuditEvent.objects.filter(action=AuditAction.DELETED, actor=user)
    audited = set(deleted.filter(object_type="functioninstance").values_list("object_id", flat=True))
    assert audited == {wired[k].public_id for k in ("first", "second", "insert")}
    assert deleted.filter(object_type="function", object_id=function.public_id).exists()


def test_owner_deletes_through_the_admin(login, owner, workspace, function, wired):
    response = login(owner).post(
        reverse("admin:catalog_function_delete", args=[function.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not FunctionInstance.objects.exists()
    assert AuditEvent.objects.filter(action=AuditAction.DELETED, object_type="functioninstance").count() == 3


def test_a_source_function_takes_its_sources_along(login, owner, workspace):
    hook = FunctionFactory(workspace=workspace, display_name="Hook", resource_type="SOURCE")
    instance = InstanceFactory(function=hook, name="Stripe")
    assert (
        login(owner)
        .post(reverse("admin:catalog_function_delete", args=[hook.pk]), {"post": "yes"})
        .status_code
        == 302
    )
    assert not Source.objects.filter(pk=instance.source_id).exists()
