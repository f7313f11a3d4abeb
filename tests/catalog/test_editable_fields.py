"""Every editable field round-trips (admin form, API) and code is stored with `\\n` line endings on
every write path (admin, API, restore, the data migration)."""

import importlib

import pytest
from django.apps import apps as django_apps
from django.urls import reverse

from catalog.models import FUNCTION_EDITABLE_FIELDS, Function, FunctionVersion
from catalog.services import function_create, function_save, function_version_restore

CRLF_CODE = "// edited\r\nasync function onTrack(event, settings) {\r\n  return event.event;\r\n}\r\n"
LF_CODE = CRLF_CODE.replace("\r\n", "\n")

# A new value per editable field (model name -> (value sent, value stored)). A field added to
# FUNCTION_EDITABLE_FIELDS without a row here fails test_every_editable_field_has_a_test_value.
NEW_VALUES = {
    "display_name": ("Renamed function", "Renamed function"),
    "description": ("Posts every event somewhere else", "Posts every event somewhere else"),
    "logo_url": ("https://example.com/new-logo.png", "https://example.com/new-logo.png"),
    "code": (CRLF_CODE, LF_CODE),
    "batch_max_count": (123, 123),
    "timeout_ms": (7500, 7500),
}


def test_every_editable_field_has_a_test_value():
    assert set(NEW_VALUES) == set(FUNCTION_EDITABLE_FIELDS)


def admin_post(function, **values):
    data = {
        "setting_defs-TOTAL_FORMS": 0,
        "setting_defs-INITIAL_FORMS": 0,
        "_continue": "1",
        **{name: getattr(function, name) for name in FUNCTION_EDITABLE_FIELDS},
    }
    return {**data, **values}


def test_admin_form_round_trips_every_editable_field(login, owner, function):
    client = login(owner)
    url = reverse("admin:catalog_function_change", args=[function.pk])
    sent = {name: value for name, (value, _) in NEW_VALUES.items()}
    response = client.post(url, admin_post(function, **sent))
    assert response.status_code == 302, response.context["adminform"].form.errors
    function.refresh_from_db()
    for name, (_, stored) in NEW_VALUES.items():
        assert getattr(function, name) == stored, name
    assert function.latest_version.code == LF_CODE

    # The form shows what was stored: saving it untouched changes nothing but the version.
    form = client.get(url).context["adminform"].form
    for name, (_, stored) in NEW_VALUES.items():
        assert form.initial[name] == stored, name


def test_admin_add_form_keeps_every_editable_field(login, owner, workspace):
    client = login(owner)
    sent = {name: value for name, (value, _) in NEW_VALUES.items()}
    response = client.post(
        reverse("admin:catalog_function_add"),
        {
            "workspace": workspace.pk,
            "resource_type": "DESTINATION",
            "setting_defs-TOTAL_FORMS": 0,
            "setting_defs-INITIAL_FORMS": 0,
            "_continue": "1",
            **sent,
        },
    )
    assert response.status_code == 302
    function = Function.objects.get(display_name="Renamed function")
    for name, (_, stored) in NEW_VALUES.items():
        assert getattr(function, name) == stored, name


def test_services_normalise_lone_carriage_returns_too(workspace):
    function = function_create(
        workspace=workspace,
        resource_type="DESTINATION",
        display_name="Old Mac",
        code="// a\rfunction onTrack() {}\r",
    )
    assert function.code == "// a\nfunction onTrack() {}\n"
    function_save(function=function, code="// b\r\nfunction onTrack() {}")
    function.refresh_from_db()
    assert function.code == function.latest_version.code == "// b\nfunction onTrack() {}"


def test_restore_of_a_version_stored_before_normalising_gets_lf(workspace):
    function = function_create(workspace=workspace, resource_type="DESTINATION", display_name="Restored")
    old = function.latest_version
    FunctionVersion.objects.filter(pk=old.pk).update(code=CRLF_CODE)  # as stored by older releases
    function_save(function=function, code=LF_CODE)
    old.refresh_from_db()
    restored = function_version_restore(function=function, version=old)
    assert restored.code == LF_CODE and "\r" not in Function.objects.get(pk=function.pk).code


def test_data_migration_normalises_stored_code(workspace):
    function = function_create(workspace=workspace, resource_type="DESTINATION", display_name="Legacy")
    Function.objects.filter(pk=function.pk).update(code=CRLF_CODE)
    FunctionVersion.objects.filter(function=function).update(code="a\rb\r\nc")
    migration = importlib.import_module("catalog.migrations.0002_code_line_endings")
    migration.normalise(django_apps, None)
    function.refresh_from_db()
    assert function.code == LF_CODE
    assert list(function.versions.values_list("code", flat=True)) == ["a\nb\nc"]


@pytest.mark.parametrize("field", ["batch_max_count", "timeout_ms"])
def test_admin_shows_numeric_fields_read_only_to_readers(login, read_only, function, field):
    page = login(read_only).get(reverse("admin:catalog_function_change", args=[function.pk])).content.decode()
    assert f'name="{field}"' not in page and f"field-{field}" in page
