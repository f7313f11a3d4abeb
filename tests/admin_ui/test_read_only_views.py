"""Read-only users are offered no delete action, and read an instance's settings as a table
(secrets masked, values as written, no JSON)."""

import pytest
from django.urls import reverse

from catalog.services import function_create
from runtime.services import instance_create

SECRET = "sk_read_only_never_77"

CHANGELISTS = [
    "admin:catalog_function_changelist",
    "admin:runtime_functioninstance_changelist",
    "admin:workspaces_source_changelist",
    "admin:runtime_deployment_changelist",
    "admin:runtime_errorlog_changelist",
]


@pytest.fixture
def configured(workspace, source):
    function = function_create(
        workspace=workspace,
        resource_type="DESTINATION",
        display_name="Configured",
        settings=[
            {"label": "API Key", "sensitive": True, "required": True},
            {"label": "Region"},
            {"label": "Verbose", "type": "BOOLEAN"},
            {"label": "Tags", "type": "ARRAY"},
            {"label": "Headers", "type": "TEXT_MAP"},
            {"label": "Unset"},
        ],
    )
    return instance_create(
        function=function,
        name="Configured instance",
        source=source,
        settings={
            "apiKey": SECRET,
            "region": "eu-west-1",
            "verbose": True,
            "tags": ["a", "b"],
            "headers": {"X-Team": "growth"},
        },
    )


@pytest.mark.parametrize("url", CHANGELISTS)
def test_read_only_users_are_not_offered_delete(login, read_only, configured, url):
    response = login(read_only).get(reverse(url))
    assert response.status_code == 200
    assert "delete_selected" not in response.content.decode()


@pytest.mark.parametrize(
    ("url", "offered"),
    [
        ("admin:catalog_function_changelist", True),
        ("admin:runtime_functioninstance_changelist", True),
        ("admin:workspaces_source_changelist", True),
        ("admin:runtime_deployment_changelist", False),
    ],
)
def test_owners_are_offered_delete_where_they_may_delete(login, owner, configured, url, offered):
    page = login(owner).get(reverse(url)).content.decode()
    assert ("delete_selected" in page) is offered


def test_functions_admin_without_sources_is_not_offered_instance_delete(login, functions_admin, configured):
    page = login(functions_admin).get(reverse("admin:runtime_functioninstance_changelist")).content.decode()
    assert "delete_selected" not in page
    assert (
        "delete_selected"
        in login(functions_admin).get(reverse("admin:catalog_function_changelist")).content.decode()
    )


def test_read_only_instance_page_shows_settings_as_a_table(login, read_only, configured):
    page = login(read_only).get(reverse("admin:runtime_functioninstance_change", args=[configured.pk]))
    html = page.content.decode()
    assert SECRET not in html and "\\u2022" not in html and "<pre>{" not in html
    assert 'id="fn-settings-table"' in html
    rows = {
        "apiKey": "••••••••",
        "region": "eu-west-1",
        "verbose": "true",
        "tags": "a<br>b",
        "headers": "X-Team=growth",
    }
    for name, shown in rows.items():
        row = html.split(f'data-setting="{name}"', 1)[1].split("</tr>", 1)[0]
        assert f"settings.{name}" in row and shown in row, name
    unset = html.split('data-setting="unset"', 1)[1].split("</tr>", 1)[0]
    assert "not set" in unset
