"""The admin is scoped by workspace and shows clear validation errors; secrets never render."""

import pytest
from django.urls import reverse

from catalog.models import Function
from catalog.services import function_create
from runtime.services import instance_create

SECRET = "sk_admin_secret_value_42"


@pytest.fixture
def secret_instance(workspace, source):
    function = function_create(
        workspace=workspace,
        resource_type="DESTINATION",
        display_name="Secretive",
        settings=[{"label": "API Key", "sensitive": True, "required": True}],
    )
    return instance_create(
        function=function, name="Secret instance", source=source, settings={"apiKey": SECRET}
    )


def test_outsider_changelist_and_search_show_nothing_of_acme(login, outsider, function, foreign_function):
    client = login(outsider)
    page = client.get(reverse("admin:catalog_function_changelist")).content.decode()
    assert foreign_function.display_name in page and function.display_name not in page
    found = client.get(reverse("admin:catalog_function_changelist"), {"q": "Webhook"}).content.decode()
    assert function.display_name not in found and "0 functions" in found


def test_outsider_gets_404_on_acme_objects(login, outsider, function, instance, source):
    client = login(outsider)
    for name, obj in [
        ("catalog_function", function),
        ("runtime_functioninstance", instance),
        ("workspaces_source", source),
        ("workspaces_workspace", source.workspace),
    ]:
        for view in ("change", "delete", "history"):
            url = reverse(f"admin:{name}_{view}", args=[obj.pk])
            assert client.get(url).status_code == 404, url


def test_outsider_foreign_key_choices_are_scoped(login, outsider, workspace, other_workspace):
    client = login(outsider)
    page = client.get(reverse("admin:catalog_function_add")).content.decode()
    assert f'value="{other_workspace.pk}"' in page and f'value="{workspace.pk}"' not in page


def test_workspace_filter_lists_only_member_workspaces(login, outsider, workspace, other_workspace):
    page = login(outsider).get(reverse("admin:catalog_function_changelist")).content.decode()
    assert f"workspace={other_workspace.pk}" in page and f"workspace={workspace.pk}" not in page


def test_outsider_cannot_post_into_another_workspace(login, outsider, workspace):
    response = login(outsider).post(reverse("admin:catalog_function_add"), _function_form(workspace))
    assert response.status_code == 200  # re-rendered with an error, nothing created
    assert "Select a valid choice" in response.content.decode()
    assert not Function.objects.filter(workspace=workspace).exists()


def _function_form(workspace, **overrides):
    data = {
        "workspace": workspace.pk,
        "resource_type": "DESTINATION",
        "display_name": "From admin",
        "description": "",
        "logo_url": "",
        "code": "",
        "batch_max_count": 20,
        "timeout_ms": 5000,
        "setting_defs-TOTAL_FORMS": 0,
        "setting_defs-INITIAL_FORMS": 0,
        "versions-TOTAL_FORMS": 0,
        "versions-INITIAL_FORMS": 0,
    }
    return {**data, **overrides}


def test_owner_creates_a_function_from_the_template(login, owner, workspace):
    response = login(owner).post(reverse("admin:catalog_function_add"), _function_form(workspace))
    assert response.status_code == 302, response.content.decode()[:2000]
    function = Function.objects.get(workspace=workspace, display_name="From admin")
    assert "async function onTrack" in function.code and function.versions.count() == 1


def test_invalid_code_is_a_clear_form_error(login, owner, workspace):
    form = _function_form(workspace, code="async function onTrack( {")
    page = login(owner).post(reverse("admin:catalog_function_add"), form).content.decode()
    assert "SyntaxError" in page and "line 1" in page
    assert not Function.objects.exists()


def test_duplicate_name_is_a_clear_form_error(login, owner, workspace, function):
    form = _function_form(workspace, display_name=function.display_name)
    page = login(owner).post(reverse("admin:catalog_function_add"), form).content.decode()
    assert "already exists in this workspace" in page


def test_duplicate_setting_names_are_a_clear_form_error(login, owner, workspace):
    form = _function_form(
        workspace,
        **{
            "setting_defs-TOTAL_FORMS": 2,
            "setting_defs-0-label": "API Key",
            "setting_defs-0-type": "STRING",
            "setting_defs-1-label": "api key",
            "setting_defs-1-type": "STRING",
        },
    )
    page = login(owner).post(reverse("admin:catalog_function_add"), form).content.decode()
    assert "is already used" in page and not Function.objects.exists()


def test_invalid_instance_settings_are_clear_form_errors(login, owner, secret_instance):
    url = reverse("admin:runtime_functioninstance_add") + f"?function={secret_instance.function.pk}"
    page = (
        login(owner)
        .post(
            url,
            {
                "function": secret_instance.function.pk,
                "name": "Second",
                "source": secret_instance.source.pk,
                "enabled": "on",
            },
        )
        .content.decode()
    )
    assert "This setting is required." in page


def test_stored_secret_is_never_rendered(login, owner, read_only, secret_instance):
    for user in (owner, read_only):
        client = login(user)
        for url in (
            reverse("admin:runtime_functioninstance_change", args=[secret_instance.pk]),
            reverse("admin:runtime_functioninstance_changelist"),
        ):
            page = client.get(url).content.decode()
            assert client.get(url).status_code == 200
            assert SECRET not in page, (user, url)
