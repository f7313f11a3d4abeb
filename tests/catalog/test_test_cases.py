"""Saved test cases: writes, encrypted values per user, runs in the real sandbox and their
expectations (success, error type, emitted events, output event, requests made)."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from catalog.models import TestCase, TestCaseSecret
from catalog.services import function_create
from catalog.testcase_checks import expectation_check, mismatch
from catalog.testcases import (
    secret_names_set,
    testcase_create,
    testcase_delete,
    testcase_run,
    testcase_update,
    testcases_run,
)

pytestmark = pytest.mark.django_db

DEST = """
async function onTrack(event, settings) {
  if (!event.userId) throw new ValidationError('userId is required');
  const response = await fetch(settings.endpointUrl + '/track', {
    method: 'POST',
    headers: {Authorization: 'Bearer ' + settings.apiKey},
    body: JSON.stringify(event)
  });
  return response.status;
}
"""
INSERT = """
async function onTrack(event, settings) {
  if (event.event === 'Spam') throw new DropEvent('spam');
  event.properties = {...event.properties, plan: settings.plan || 'free'};
  return event;
}
"""
SOURCE = """
async function onRequest(request, settings) {
  const body = request.json();
  Segment.track({event: body.name, userId: body.user, properties: {source: 'hook'}});
}
"""
SECRET = "sk_case_secret_4242"


def make(workspace, owner, kind, code, settings):
    return function_create(
        workspace=workspace,
        resource_type=kind,
        display_name=f"{kind} cases",
        code=code,
        settings=settings,
        created_by=owner,
    )


@pytest.fixture
def dest(workspace, owner):
    return make(
        workspace,
        owner,
        "DESTINATION",
        DEST,
        [
            {"label": "Endpoint URL", "required": True},
            {"label": "API Key", "sensitive": True, "required": True},
        ],
    )


def test_encrypted_values_are_kept_encrypted_and_per_user(dest, owner, functions_admin):
    case = testcase_create(
        function=dest,
        name="signed up",
        payload={"type": "track", "event": "Signed Up", "userId": "u1"},
        setting_values={"endpointUrl": "https://x.test", "apiKey": SECRET},
        user=owner,
    )
    assert case.setting_values == {"endpointUrl": "https://x.test"}
    with connection.cursor() as cursor:
        cursor.execute("SELECT encrypted_settings FROM catalog_testcasesecret")
        (raw,) = cursor.fetchone()
    assert SECRET not in raw
    assert secret_names_set(case, owner) == ["apiKey"]
    assert secret_names_set(case, functions_admin) == []

    # Another user's run does not get the owner's value: the required check says so.
    outcome = testcase_run(test_case=case, user=functions_admin)
    assert not outcome.passed and outcome.failures == ["API Key is required"]

    # Saving again with the secret left empty keeps it; null clears it.
    testcase_update(
        test_case=case, user=owner, setting_values={"endpointUrl": "https://y.test", "apiKey": ""}
    )
    assert secret_names_set(case, owner) == ["apiKey"]
    testcase_update(test_case=case, user=owner, setting_values={"apiKey": None})
    assert secret_names_set(case, owner) == []
    testcase_delete(test_case=case)
    assert not TestCaseSecret.objects.exists()


def test_run_checks_requests_and_error_types(dest, owner, httpserver):
    httpserver.expect_request("/track").respond_with_json({"ok": True})
    base = httpserver.url_for("").rstrip("/")
    values = {"endpointUrl": base, "apiKey": SECRET}
    ok = testcase_create(
        function=dest,
        name="a track",
        payload={"type": "track", "event": "Signed Up", "userId": "u1"},
        setting_values=values,
        expectation={"status": "success", "requests": [{"method": "POST", "url": f"{base}/track"}]},
        user=owner,
    )
    rejected = testcase_create(
        function=dest,
        name="no user",
        payload={"type": "track", "event": "Signed Up"},
        setting_values=values,
        expectation={"errorType": "ValidationError"},
        user=owner,
    )
    wrong = testcase_create(
        function=dest,
        name="wants an error",
        payload={"type": "track", "event": "Signed Up", "userId": "u1"},
        setting_values=values,
        expectation={"errorType": "RetryError", "requests": [{"method": "GET", "url": f"{base}/other"}]},
        user=owner,
    )
    outcomes = {o.case.name: o for o in testcases_run(function=dest, user=owner)}
    assert outcomes["a track"].passed, outcomes["a track"].failures
    assert outcomes["no user"].passed, outcomes["no user"].failures
    failures = outcomes["wants an error"].failures
    assert not outcomes["wants an error"].passed
    assert failures[0] == "expected error, got success"
    assert failures[1] == f"expected a request GET {base}/other (made: POST {base}/track)"
    assert outcomes["a track"].diff is None  # destinations: what they send is the output
    assert {ok.pk, rejected.pk, wrong.pk} == set(TestCase.objects.values_list("pk", flat=True))

    # The same cases against code about to be deployed (not saved).
    broken = DEST.replace("return response.status;", "throw new Error('boom');")
    assert not testcase_run(test_case=ok, user=owner, code=broken).passed


def test_insert_output_expectation_and_diff(workspace, owner):
    insert = make(workspace, owner, "INSERT_DESTINATION", INSERT, [{"label": "Plan"}])
    case = testcase_create(
        function=insert,
        name="adds the plan",
        payload={"type": "track", "event": "Paid", "properties": {"amount": 5}},
        setting_values={"plan": "pro"},
        expectation={"output": {"event": "Paid", "properties": {"amount": 5, "plan": "free"}}},
        user=owner,
    )
    outcome = testcase_run(test_case=case, user=owner)
    assert outcome.failures == ["output.properties.plan is 'pro', expected 'free'"]
    assert {"kind": "add", "text": '    "plan": "pro"'} in outcome.diff
    assert {"kind": "ctx", "text": '  "event": "Paid",'} in outcome.diff
    dropped = testcase_create(
        function=insert,
        name="drops spam",
        payload={"type": "track", "event": "Spam"},
        expectation={"status": "error", "errorType": "DropEvent"},
        user=owner,
    )
    assert testcase_run(test_case=dropped, user=owner).passed


def test_source_events_expectation(workspace, owner):
    source = make(workspace, owner, "SOURCE", SOURCE, [])
    case = testcase_create(
        function=source,
        name="hook",
        payload={
            "method": "POST",
            "headers": {"Content-Type": "application/json"},
            "body": {"name": "Hi", "user": "u7"},
        },
        expectation={"events": [{"type": "track", "event": "Hi", "userId": "u7"}]},
        user=owner,
    )
    outcome = testcase_run(test_case=case, user=owner)
    assert outcome.passed, outcome.failures
    assert any(row["kind"] == "add" and '"event": "Hi"' in row["text"] for row in outcome.diff)
    case = testcase_update(test_case=case, user=owner, expectation={"events": []})
    assert testcase_run(test_case=case, user=owner).failures == ["events has 1 items, expected 0"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("expectation", {"status": "maybe"}, "status is success or error."),
        ("expectation", {"outputs": {}}, "Unknown field(s): outputs."),
        ("expectation", {"output": {}}, "output is for insert functions"),
        ("expectation", {"requests": [{"url": 3}]}, "requests is a list of {method, url}."),
        ("payload", "not an event", "An event object, or a list of events for onBatch."),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(dest, owner, field, value, message):
    args = {"payload": {"type": "track"}, "expectation": {}}
    args[field] = value
    with pytest.raises(ValidationError) as error:
        testcase_create(function=dest, name="bad", user=owner, **args)
    assert message in str(error.value)
    assert not TestCase.objects.exists()


def test_names_are_unique_per_function(dest, owner):
    testcase_create(function=dest, name="same", payload={"type": "track"}, user=owner)
    with pytest.raises(ValidationError, match="already exists"):
        testcase_create(function=dest, name=" same ", payload={"type": "track"}, user=owner)


def test_mismatch_messages():
    assert mismatch({"a": {"b": [1, 2]}}, {"a": {"b": [1, 3]}, "x": 1}) == "a.b[1] is 3, expected 2"
    assert mismatch({"a": True}, {"a": 1}) == "a is 1, expected true"
    assert mismatch({"a": 1}, {}) == "a is missing"
    assert mismatch([{"k": 1}], [{"k": 1, "extra": 2}]) is None
    assert expectation_check({}, {"status": "error", "error": {"type": "TypeError", "message": "x"}}) == [
        "expected success, got TypeError: x"
    ]
