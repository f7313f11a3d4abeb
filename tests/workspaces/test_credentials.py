"""Webhook URLs and write keys are credentials: only those who may manage the source see them,
in the API, the admin and stored error logs."""

import importlib

import pytest
from django.apps import apps
from django.urls import reverse

from runtime.models import ErrorLog
from runtime.pipeline import records
from tests.factories import FunctionFactory, InstanceFactory
from workspaces.redaction import REDACTED


@pytest.fixture
def hook(workspace):
    function = FunctionFactory(workspace=workspace, display_name="Stripe hook", resource_type="SOURCE")
    return InstanceFactory(function=function, name="Stripe")


@pytest.mark.parametrize(
    "persona, shown",
    [("owner", True), ("source_admin", True), ("read_only", False), ("functions_admin", False)],
)
def test_api_shows_the_webhook_url_to_source_admins_only(api_as, personas, hook, persona, shown):
    client = api_as(personas[persona])
    token = hook.source.webhook_token
    one = client.get(f"/api/function-instances/{hook.public_id}")
    assert one.status_code == 200
    assert (one.json()["data"]["instance"]["webhookUrl"] == hook.source.webhook_url) == shown
    assert (token in one.content.decode()) == shown
    listed = client.get(f"/api/functions/{hook.function.public_id}/instances")
    if persona != "source_admin":  # a Source Admin alone does not see the function (404)
        assert listed.status_code == 200
        assert (token in listed.content.decode()) == shown


@pytest.mark.parametrize("persona, shown", [("owner", True), ("read_only", False)])
def test_admin_instance_and_source_pages_hide_credentials(login, personas, hook, persona, shown):
    client = login(personas[persona])
    instance_page = client.get(reverse("admin:runtime_functioninstance_change", args=[hook.pk]))
    source_page = client.get(reverse("admin:workspaces_source_change", args=[hook.source.pk]))
    assert instance_page.status_code == source_page.status_code == 200
    for page in (instance_page, source_page):
        body = page.content.decode()
        assert (hook.source.webhook_token in body) == shown
        assert ("hidden (Source Admin only)" in body) != shown
    assert (hook.source.write_key in source_page.content.decode()) == shown


def test_stored_error_logs_never_hold_the_token(hook, personas, api_as):
    token, write_key = hook.source.webhook_token, hook.source.write_key
    request = {"method": "POST", "url": f"http://x/hooks/{token}", "headers": {"Referer": f"/hooks/{token}"}}

    class Result:
        logs = [{"level": "info", "message": f"got {token}"}]
        requests = [{"method": "GET", "url": f"https://api.test/?k={write_key}"}]

    records.error_log_record(
        instance=hook,
        category="internal",
        error={"type": "Error", "message": f"bad {token}", "stack": f"at {token}"},
        input={"payload": request},
        result=Result(),
    )
    log = ErrorLog.objects.get(instance=hook)
    for value in (log.message, log.stack, str(log.input), str(log.logs), str(log.requests)):
        assert token not in value and write_key not in value
    assert log.input["payload"]["url"] == f"http://x/hooks/{REDACTED}"
    body = api_as(personas["read_only"]).get(f"/api/function-instances/{hook.public_id}/errors").content
    assert token.encode() not in body


def test_existing_error_logs_are_redacted_by_the_migration(hook):
    token = hook.source.webhook_token
    log = ErrorLog.objects.create(instance=hook, category="internal", message=token, input={"url": token})
    migration = importlib.import_module("runtime.migrations.0004_redact_error_log_credentials")
    migration.redact_error_logs(apps, None)
    log.refresh_from_db()
    assert log.message == REDACTED
    assert log.input == {"url": REDACTED}
