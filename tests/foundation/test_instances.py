import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from catalog.services import function_create
from runtime.models import FunctionInstance
from runtime.services import instance_create, instance_delete, instance_update
from workspaces.choices import SourceKind
from workspaces.models import Source

SECRET = "sk_live_very_secret_value"
SCHEMA = [
    {"label": "API Key", "sensitive": True, "required": True},
    {"label": "Endpoint", "required": True},
]


@pytest.fixture
def destination(workspace):
    return function_create(
        workspace=workspace, resource_type="DESTINATION", display_name="Dest", settings=SCHEMA
    )


def test_secret_is_encrypted_in_the_database(destination, source):
    instance = instance_create(
        function=destination,
        name="d",
        source=source,
        settings={"apiKey": SECRET, "endpoint": "https://x.test"},
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT settings, encrypted_settings FROM runtime_functioninstance WHERE id = %s",
            [instance.pk],
        )
        plain_column, encrypted_column = cursor.fetchone()
    assert SECRET not in str(plain_column) and SECRET not in encrypted_column
    assert encrypted_column.startswith("gAAAA")  # a Fernet token
    instance = FunctionInstance.objects.get(pk=instance.pk)
    assert instance.all_settings() == {"apiKey": SECRET, "endpoint": "https://x.test"}
    assert "apiKey" not in instance.settings


def test_update_without_the_secret_keeps_it(destination, source):
    instance = instance_create(
        function=destination,
        name="d",
        source=source,
        settings={"apiKey": SECRET, "endpoint": "https://a.test"},
    )
    instance_update(instance=instance, settings={"endpoint": "https://b.test"})
    instance.refresh_from_db()
    assert instance.all_settings() == {"apiKey": SECRET, "endpoint": "https://b.test"}


def test_invalid_settings_create_nothing(destination, source):
    with pytest.raises(ValidationError) as exc:
        instance_create(function=destination, name="d", source=source, settings={"endpoint": 3})
    assert set(exc.value.message_dict) == {"apiKey", "endpoint"}
    assert not FunctionInstance.objects.exists()


def test_source_function_instance_owns_its_source(workspace):
    function = function_create(workspace=workspace, resource_type="SOURCE", display_name="Hook")
    instance = instance_create(function=function, name="Stripe hook")
    assert instance.source.kind == SourceKind.FUNCTION and instance.source.name == "Stripe hook"
    assert instance.source.webhook_url.endswith(f"/hooks/{instance.source.webhook_token}")
    assert instance.deployed_version == function.latest_version
    instance_delete(instance=instance)
    assert not Source.objects.filter(pk=instance.source_id).exists()


def test_destination_needs_a_source_of_its_workspace(destination, other_workspace):
    from tests.factories import SourceFactory

    with pytest.raises(ValidationError) as exc:
        instance_create(function=destination, name="d", settings={"apiKey": "k", "endpoint": "e"})
    assert "source" in exc.value.message_dict
    foreign = SourceFactory(workspace=other_workspace)
    with pytest.raises(ValidationError) as exc:
        instance_create(
            function=destination, name="d", source=foreign, settings={"apiKey": "k", "endpoint": "e"}
        )
    assert exc.value.message_dict["source"] == ["That source belongs to another workspace."]
