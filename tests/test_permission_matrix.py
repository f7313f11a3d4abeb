"""The permission matrix: every persona × every admin view (enumerated from admin.site) and every
API endpoint (tests/permission_matrix.API_ROWS, the one API matrix) × read and write, with the
exact status and answer envelope; every refused write leaves every table as it was and schedules
no task, and the outsider's allowed writes stay in its own workspace."""

import json
import re
from contextlib import contextmanager
from unittest import mock

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.urls import reverse
from rest_framework.test import APIClient

from catalog.models import TestCase
from catalog.starters import starter_code
from runtime.inspector.services import inspector_for
from runtime.models import DeadLetter, DeadLetterReplay, Deployment, ErrorLog, FunctionInstance, IngestDrop
from runtime.replay.models import ReplayRun
from tests.factories import FunctionFactory, SourceFactory
from tests.permission_matrix import (
    ACTION_CASES,
    ADMIN_RULES,
    CUSTOM_VIEW_RULES,
    FORM_CASES,
    PERSONAS,
    changed_tables,
    expected_object_status,
    form_fields,
    snapshot,
)
from tests.permission_matrix_api import API_ROWS
from workspaces.choices import AuditAction
from workspaces.services import access_token_create, audit_record

STANDARD_URLS = ("_changelist", "_add", "_history", "_delete", "_change", "_autocomplete")
REGISTRY = {model._meta.label_lower: model_admin for model, model_admin in admin.site._registry.items()}
CUSTOM_URLS = sorted(
    {
        pattern.name
        for model_admin in REGISTRY.values()
        for pattern in model_admin.get_urls()
        if pattern.name and not pattern.name.endswith(STANDARD_URLS)
    }
)
MODELS = sorted(REGISTRY)


@pytest.fixture
def world(personas, workspace, other_workspace, function, source, other_source, instance, foreign_function):
    """One object of every registered admin's model, all in acme (plus the outsider's own), and
    a source function and a destination-insert function to connect."""
    SourceFactory(workspace=other_workspace, name="Outsider's source")
    FunctionFactory(workspace=other_workspace, display_name="Outsider's function")
    source_function = FunctionFactory(workspace=workspace, display_name="Hook", resource_type="SOURCE")
    insert_function = FunctionFactory(
        workspace=workspace, display_name="Enrich", resource_type="INSERT_DESTINATION"
    )
    # Something to roll back to (the same version: the matrix is about who may, not what).
    instance.previous_version = function.latest_version
    instance.save(update_fields=["previous_version"])
    testcase = TestCase.objects.create(
        function=function,
        name="Matrix",
        payload={"type": "identify", "userId": "u"},
        # The factory's function has no onIdentify: expected, so Save & Deploy's check passes.
        expectation={"errorType": "EventNotSupported"},
    )
    objects = {
        "workspaces.workspace": workspace,
        "workspaces.source": source,
        "catalog.function": function,
        "catalog.testcase": testcase,
        "runtime.functioninstance": instance,
        "runtime.deployment": Deployment.objects.create(instance=instance, version=function.latest_version),
        "runtime.errorlog": ErrorLog.objects.create(instance=instance, category="internal", message="boom"),
        "runtime.deadletter": DeadLetter.objects.create(
            instance=instance, message_id="m-dead", event={"type": "track"}, category="bad_request"
        ),
        "runtime.deadletterreplay": DeadLetterReplay.objects.create(instance=instance, status="SUCCEEDED"),
        "runtime.ingestdrop": IngestDrop.objects.create(source=source, code="no_user_anon_id", event={}),
        "runtime.requestinspector": inspector_for(workspace=workspace),
        "workspaces.auditevent": audit_record(
            workspace=workspace, actor=personas["owner"], action=AuditAction.SAVED, obj=function
        ),
        "workspaces.accesstoken": access_token_create(workspace=workspace, user=personas["owner"], name="t")[
            0
        ],
        "auth.user": personas["read_only"],
        "auth.group": Group.objects.create(name="editors"),
    }
    return {
        "objects": objects,
        "personas": personas,
        "function": function,
        "source": source,
        "other_source": other_source,
        "foreign_function": foreign_function,
        "instance": instance,
        "source_function": source_function,
        "insert_function": insert_function,
        "replay": ReplayRun.objects.create(function=function, draft_code=function.code, limit=1),
        "testcase": testcase,
    }


def client_for(client, world, persona):
    user = world["personas"][persona]
    if user is not None:
        client.force_login(user)
    return client


@contextmanager
def nothing_changes(capture):
    """Assert the block changed no row and scheduled no task (on_commit or Celery publish)."""
    before = snapshot()
    with mock.patch("celery.app.task.Task.apply_async") as published, capture(execute=False) as callbacks:
        yield
    assert changed_tables(before, snapshot()) == []
    assert callbacks == []
    assert not published.called


def admin_url(label, view, *args):
    app_label, model_name = label.split(".")
    return reverse(f"admin:{app_label}_{model_name}_{view}", args=args)


def expect_login_redirect(response):
    assert response.status_code == 302
    assert "/login/" in response["Location"]


# --- coverage of the tables -------------------------------------------------------------------


def test_every_admin_has_a_rule():
    assert set(MODELS) <= set(ADMIN_RULES), "add the new admin to ADMIN_RULES in tests/permission_matrix.py"


def test_every_custom_admin_view_has_a_rule():
    assert set(CUSTOM_URLS) <= set(CUSTOM_VIEW_RULES), "add the view to CUSTOM_VIEW_RULES"


def test_every_api_endpoint_has_a_row():
    from django.urls import get_resolver

    api = next(p for p in get_resolver().url_patterns if str(p.pattern).startswith("api"))
    # The index, schema and docs are public: they describe the API, not a workspace.
    names = {name for name in _names(api) if name not in ("api-index", "api-schema", "api-docs")}
    covered = {"api-functions", "api-function", "api-function-deploy", "api-function-versions",
               "api-function-version", "api-sources", "api-source", "api-function-instances",
               "api-instance", "api-instance-errors", "api-instance-metrics", "api-preview",
               "api-function-preview", "api-insert-instances", "api-insert-instance",
               "api-source-drops", "api-instance-rollback", "api-dead-letters", "api-dead-letters-replay",
               "api-dead-letter-replays", "api-dead-letter-replay", "api-function-replays",
               "api-function-replay", "api-instance-canary", "api-instance-canary-promote",
               "api-instance-canary-abort", "api-function-test-cases", "api-function-test-cases-run",
               "api-function-test-case"}  # fmt: skip
    # Endpoints not yet in API_ROWS are listed here so a new one fails until it gets rows.
    pending: set[str] = set()
    assert names <= covered | pending, f"add rows to API_ROWS for {sorted(names - covered - pending)}"


def _names(resolver):
    for pattern in resolver.url_patterns:
        if hasattr(pattern, "url_patterns"):
            yield from _names(pattern)
        elif pattern.name:
            yield pattern.name


# --- admin ------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("label", MODELS)
def test_admin_changelist(client, world, label, persona):
    rule = ADMIN_RULES[label]
    response = client_for(client, world, persona).get(admin_url(label, "changelist"))
    if persona == "anonymous":
        expect_login_redirect(response)
        return
    assert response.status_code == (200 if persona in rule.changelist else 403)
    if response.status_code == 200:
        obj = world["objects"][label]
        link = admin_url(label, "change", obj.pk)
        assert (link in response.content.decode()) == (persona in rule.see)


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("label", MODELS)
def test_admin_add(client, world, label, persona, django_capture_on_commit_callbacks):
    rule = ADMIN_RULES[label]
    client = client_for(client, world, persona)
    response = client.get(admin_url(label, "add"))
    if persona == "anonymous":
        expect_login_redirect(response)
    else:
        assert response.status_code == (200 if persona in rule.add else 403)
    if persona not in rule.add:
        with nothing_changes(django_capture_on_commit_callbacks):
            response = client.post(admin_url(label, "add"), {"name": "x", "display_name": "x"})
        assert response.status_code == (302 if persona == "anonymous" else 403)


@pytest.mark.parametrize("verb", ["view", "history", "delete"])
@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("label", MODELS)
def test_admin_object_read(client, world, label, persona, verb):
    obj = world["objects"][label]
    view = {"view": "change", "history": "history", "delete": "delete"}[verb]
    response = client_for(client, world, persona).get(admin_url(label, view, obj.pk))
    assert response.status_code == expected_object_status(ADMIN_RULES[label], persona, verb)


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("label", MODELS)
def test_admin_change_write(client, world, label, persona, django_capture_on_commit_callbacks):
    obj = world["objects"][label]
    expected = expected_object_status(ADMIN_RULES[label], persona, "change")
    client = client_for(client, world, persona)
    if expected == 200:  # allowed: an empty form re-renders with errors, or saves read-only fields
        assert client.post(admin_url(label, "change", obj.pk), {}).status_code in (200, 302)
        return
    with nothing_changes(django_capture_on_commit_callbacks):
        response = client.post(admin_url(label, "change", obj.pk), {"name": "hacked", "enabled": ""})
    assert response.status_code == expected


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("label", MODELS)
def test_admin_delete_write(client, world, label, persona, django_capture_on_commit_callbacks):
    obj = world["objects"][label]
    expected = expected_object_status(ADMIN_RULES[label], persona, "delete")
    client = client_for(client, world, persona)
    if expected == 200:
        response = client.post(admin_url(label, "delete", obj.pk), {"post": "yes"})
        assert response.status_code == 302
        assert not type(obj).objects.filter(pk=obj.pk).exists()
        return
    with nothing_changes(django_capture_on_commit_callbacks):
        response = client.post(admin_url(label, "delete", obj.pk), {"post": "yes"})
    assert response.status_code == expected


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("case", ACTION_CASES, ids=[f"{c.label}-{c.action}" for c in ACTION_CASES])
def test_admin_action(client, world, case, persona, django_capture_on_commit_callbacks):
    """A changelist action (delete_selected and each admin's own) reaches only objects the
    persona may act on; a refused one changes nothing."""
    rule = ADMIN_RULES[case.label]
    obj = world["objects"][case.label]
    data = {"action": case.action, "_selected_action": [obj.pk], "post": "yes"}
    client = client_for(client, world, persona)
    if persona in case.allowed:
        before = snapshot()
        response = client.post(admin_url(case.label, "changelist"), data)
        assert response.status_code == 302
        assert changed_tables(before, snapshot()), "the allowed action changed nothing"
        return
    with nothing_changes(django_capture_on_commit_callbacks):
        response = client.post(admin_url(case.label, "changelist"), data)
    if persona == "anonymous":
        expect_login_redirect(response)
    elif persona not in rule.changelist:
        assert response.status_code == 403
    else:
        # Django answers a refused action with 403, a "cannot delete" page (200) or a redirect
        # when nothing in scope was selected; what matters is that nothing changed.
        assert response.status_code in (200, 302, 403)


def form_url(case, world):
    args = [] if case.view == "add" else [world["objects"][case.label].pk]
    return admin_url(case.label, case.view, *args) + fill_placeholders(case.query, world)


def fill_placeholders(value, world):
    if not isinstance(value, str) or "{" not in value:
        return value
    names = {
        "{workspace}": world["function"].workspace.pk,
        "{function}": world["function"].pk,
        "{source}": world["source"].pk,
        "{instance}": world["instance"].pk,
        "{source_function}": world["source_function"].pk,
        "{insert_function}": world["insert_function"].pk,
        "{owner}": world["personas"]["owner"].pk,
        "{template}": starter_code("DESTINATION"),
    }
    for name, filled in names.items():
        value = value.replace(name, str(filled))
    return value


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("case", FORM_CASES, ids=[case.name for case in FORM_CASES])
def test_admin_form_post(client, world, case, persona, django_capture_on_commit_callbacks):
    """A complete add or change form, as the browser submits it, for every persona: the same
    rule as the API decides, and a refused one changes nothing."""
    url = form_url(case, world)
    owner_page = client_for(client, world, "owner").get(url)
    assert owner_page.status_code == 200
    data = {
        **form_fields(owner_page.content.decode()),
        **{k: fill_placeholders(v, world) for k, v in case.data.items()},
    }
    client.logout()
    client = client_for(client, world, persona)
    expected = case.expected(persona)
    if persona in case.allowed:
        before = snapshot()
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(url, data)
        assert response.status_code == 302, re.findall(
            r'class="errorlist[^>]*>(.*?)</ul>', response.content.decode()
        )
        assert changed_tables(before, snapshot()), "the allowed write changed nothing"
        return
    with nothing_changes(django_capture_on_commit_callbacks):
        response = client.post(url, data)
    assert response.status_code == expected
    if persona == "anonymous":
        expect_login_redirect(response)


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("name", CUSTOM_URLS)
def test_admin_custom_view(client, world, name, persona, method, django_capture_on_commit_callbacks):
    rule = CUSTOM_VIEW_RULES[name]
    function = world["function"]
    args = {
        "workspace": [function.workspace.pk],
        "function": [function.pk],
        "version": [function.pk, function.latest_version.public_id],
        "instance": [world["instance"].pk],
        "source": [world["source"].pk],
        "testcase": [function.pk, world["testcase"].public_id],
        "": [],
    }[rule.args]
    url = reverse(f"admin:{name}", args=args)
    client = client_for(client, world, persona)
    expected = rule.expected(persona, method)
    if method == "GET":
        assert client.get(url).status_code == expected
        return
    fill = {"{function}": function.pk, "{template}": starter_code(function.resource_type)}
    data = {k: fill.get(v, v) if isinstance(v, str) else v for k, v in (rule.data or {}).items()}
    kwargs = {"data": json.dumps(data), "content_type": "application/json"} if rule.json else {"data": data}
    if expected == rule.ok and persona in rule.allowed:
        assert client.post(url, **kwargs).status_code == expected  # allowed: the write happens
        return
    with nothing_changes(django_capture_on_commit_callbacks):
        response = client.post(url, **kwargs)
    assert response.status_code == expected


# --- API --------------------------------------------------------------------------------------


@pytest.fixture
def api_client(world, other_workspace):
    def _client(persona):
        client = APIClient()
        user = world["personas"][persona]
        if user is not None:
            workspace = other_workspace if persona == "outsider" else world["function"].workspace
            _, secret = access_token_create(workspace=workspace, user=user, name=f"{persona} token")
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        return client

    return _client


def api_path(row, world):
    return row.path.format(
        function=world["function"].public_id,
        version=world["function"].latest_version.public_id,
        source=world["source"].public_id,
        instance=world["instance"].public_id,
        replay=world["objects"]["runtime.deadletterreplay"].pk,
        dry_replay=world["replay"].public_id,
        testcase=world["testcase"].public_id,
        insert_function=world["insert_function"].public_id,
        foreign_function=world["foreign_function"].public_id,
    )


def api_body(row, world):
    if row.body is None:
        return None
    ids = {
        "{source}": world["source"].public_id,
        "{other_source}": world["other_source"].public_id,
        "{function}": world["function"].public_id,
        "{insert_function}": world["insert_function"].public_id,
        "{version}": world["function"].latest_version.public_id,
        "{instance}": world["instance"].public_id,
        "{template}": starter_code("DESTINATION"),
    }
    return {k: ids.get(v, v) if isinstance(v, str) else v for k, v in row.body.items()}


def acme_rows(world) -> dict:
    """What an outsider's write could have changed in acme (the persona's own workspace aside)."""
    workspace = world["function"].workspace
    return {
        "functions": sorted(workspace.functions.values_list("public_id", "display_name", "description")),
        "sources": sorted(workspace.sources.values_list("public_id", "name", "enabled")),
        "instances": sorted(
            FunctionInstance.objects.filter(function__workspace=workspace).values_list("public_id", "name")
        ),
    }


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("row", API_ROWS, ids=[row.name for row in API_ROWS])
def test_api(world, api_client, row, persona, django_capture_on_commit_callbacks):
    client = api_client(persona)
    expected = row.expected(persona)
    call = getattr(client, row.method.lower())
    kwargs = {"format": "json"} if row.body is not None else {}
    args = (api_path(row, world), api_body(row, world)) if row.body is not None else (api_path(row, world),)
    acme_before = acme_rows(world)
    if row.write and expected >= 400:
        with nothing_changes(django_capture_on_commit_callbacks):
            response = call(*args, **kwargs)
    else:
        with django_capture_on_commit_callbacks(execute=True):
            response = call(*args, **kwargs)
    assert response.status_code == expected, response.content[:300]
    if row.write and persona == "outsider":  # its token writes in its own workspace, never in acme
        assert acme_rows(world) == acme_before
    answer = response.json()
    if expected < 300:
        assert "data" in answer
    else:  # Segment's error envelope, with the status and a message
        error = answer["errors"][0]
        assert error["status"] == expected and error["message"]
