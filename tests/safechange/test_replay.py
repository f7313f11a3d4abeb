"""Dry-run replay with the real sandbox (eager Celery): recent events of the source through a
draft and the deployed version, nothing sent, per-event differences, secrets masked, the API."""

import json

import pytest
from django.core.exceptions import ValidationError

from catalog.choices import ResourceType
from runtime.pipeline.samples import samples_record
from runtime.replay import services as replay_services
from runtime.replay.choices import ReplayStatus
from runtime.replay.compare import summary_text
from runtime.replay.models import ReplayRun
from tests.factories import FunctionFactory, InstanceFactory

from .conftest import events

pytestmark = pytest.mark.django_db

SECRET = "sk_live_do_not_show_4242"
DEPLOYED = """
async function onTrack(event, settings) {
  const res = await fetch('https://api.example.com/v1/track?key=' + settings.apiKey, {
    method: 'POST', headers: {'authorization': 'Bearer ' + settings.apiKey, 'content-type': 'application/json'},
    body: JSON.stringify({user: event.userId, name: event.event})});
  if (res.status !== 200) throw new RetryError('status ' + res.status);
}
"""


def draft(change: str) -> str:
    return DEPLOYED.replace("name: event.event", change)


@pytest.fixture
def replayed(workspace, tracking_source, owner):
    function = FunctionFactory(workspace=workspace, code=DEPLOYED, display_name="Forwarder")
    instance = InstanceFactory(
        function=function,
        source=tracking_source,
        name="forward",
        encrypted_settings=json.dumps({"apiKey": SECRET}),
    )
    batch = events(12)
    for index, event in enumerate(batch):
        event["userId"] = f"user-{index}"
    samples_record(tracking_source.pk, batch)
    return function, instance, batch


def run(function, owner, django_capture_on_commit_callbacks, **kwargs):
    with django_capture_on_commit_callbacks(execute=True):
        replay = replay_services.replay_request(function=function, requested_by=owner, **kwargs)
    return ReplayRun.objects.get(pk=replay.pk)


def test_identical_code_replays_identical_and_nothing_leaves(
    replayed, owner, django_capture_on_commit_callbacks, httpserver
):
    function, _, batch = replayed
    replay = run(function, owner, django_capture_on_commit_callbacks, code=DEPLOYED, limit=50)
    assert replay.status == ReplayStatus.DONE and replay.done == replay.total == len(batch)
    assert replay.summary["identical"] == len(batch) and replay.summary["text"].startswith("12 identical")
    first = replay.results[0]
    request = first["deployed"]["requests"][0]
    assert request["method"] == "POST" and request["url"].startswith("https://api.example.com/v1/track")
    # Recorded as sent, secrets masked everywhere (header, query, body).
    assert SECRET not in json.dumps(replay.results)
    assert dict(request["headers"])["authorization"].startswith("Bearer ")


def test_a_changed_body_differs_with_a_diff(replayed, owner, django_capture_on_commit_callbacks):
    function, _, batch = replayed
    code = draft("name: event.event.toUpperCase()")
    replay = run(function, owner, django_capture_on_commit_callbacks, code=code, limit=50)
    assert replay.summary["differs"] == len(batch)
    entry = replay.results[0]
    assert entry["differs"] == ["requests"]
    assert "SIGNED UP" in entry["diffs"]["requests"] and "Signed Up" in entry["diffs"]["requests"]


def test_a_draft_that_throws_now_fails(replayed, owner, django_capture_on_commit_callbacks):
    function, _, batch = replayed
    code = DEPLOYED.replace(
        "const res", "if (event.userId.endsWith('3')) throw new Error('broken');\n  const res"
    )
    replay = run(function, owner, django_capture_on_commit_callbacks, code=code, limit=50)
    failing = [r for r in replay.results if r["verdict"] == "now_fails"]
    assert [r["draft"]["error"]["message"] for r in failing] == ["broken"]
    assert summary_text(replay.summary) == f"{len(batch) - 1} identical, 0 differ, 1 now fail"


def test_scripted_answers_per_url_pattern(replayed, owner, django_capture_on_commit_callbacks):
    function, _, batch = replayed
    answers = [{"urlPattern": "https://api.example.com/*", "status": 500, "body": {"error": "down"}}]
    replay = run(function, owner, django_capture_on_commit_callbacks, code=DEPLOYED, limit=5, answers=answers)
    assert replay.total == 5
    assert {r["deployed"]["outcome"] for r in replay.results} == {"retry"}
    assert replay.summary["identical"] == 5


def test_bad_requests_are_refused_clearly(replayed, owner):
    function, _, _ = replayed
    with pytest.raises(ValidationError) as exc:
        replay_services.replay_request(function=function, requested_by=owner, limit=501)
    assert "count" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        replay_services.replay_request(function=function, requested_by=owner, answers=[{"status": 200}])
    assert "answers[0]" in exc.value.message_dict
    assert not ReplayRun.objects.exists()


def test_an_insert_function_compares_its_output(
    workspace, tracking_source, owner, django_capture_on_commit_callbacks
):
    code = "async function onTrack(event) { event.properties = {seen: true}; return event }"
    function = FunctionFactory(workspace=workspace, code=code, resource_type=ResourceType.INSERT_SOURCE)
    InstanceFactory(function=function, source=tracking_source)
    samples_record(tracking_source.pk, events(3))
    changed = code.replace("seen: true", "seen: false")
    replay = run(function, owner, django_capture_on_commit_callbacks, code=changed, limit=10)
    assert {tuple(r["differs"]) for r in replay.results} == {("output",)}


def test_api_replay_and_permissions(
    replayed, api_as, owner, functions_admin, read_only, outsider, django_capture_on_commit_callbacks
):
    function, _, batch = replayed
    url = f"/api/functions/{function.public_id}/replays"
    body = {"code": draft("name: 'x'"), "count": 10}
    with django_capture_on_commit_callbacks(execute=True):
        answer = api_as(owner).post(url, body, format="json")
    assert answer.status_code == 202, answer.content
    replay = answer.json()["data"]["replay"]
    assert replay["status"] == "PENDING"
    detail = api_as(owner).get(f"{url}/{replay['id']}?results=different")
    assert detail.status_code == 200
    rows = detail.json()["data"]["replay"]["results"]
    assert len(rows) == 10 and all(r["verdict"] == "differs" for r in rows)
    assert api_as(owner).post(url, {"count": 0}, format="json").status_code == 422
    # Functions Admin without Source Admin, read-only: 403; another workspace: 404.
    assert api_as(functions_admin).post(url, body, format="json").status_code == 403
    assert api_as(read_only).get(f"{url}/{replay['id']}").status_code == 403
    assert api_as(outsider).get(f"{url}/{replay['id']}").status_code == 404


SOURCE_CODE = """
async function onRequest(request, settings) {
  const body = request.json();
  Segment.track({event: body.name, userId: body.user, properties: {via: request.headers.get('x-via')}});
}
"""


def test_a_source_function_replays_recorded_webhooks(
    client, workspace, owner, django_capture_on_commit_callbacks
):
    function = FunctionFactory(workspace=workspace, code=SOURCE_CODE, resource_type=ResourceType.SOURCE)
    instance = InstanceFactory(function=function, name="hook")
    for name in ("Opened", "Clicked", "Paid"):
        answer = client.post(
            f"/hooks/{instance.source.webhook_token}",
            data=json.dumps({"name": name, "user": "ann"}),
            content_type="application/json",
            HTTP_X_VIA="mobile",
        )
        assert answer.status_code == 200
    changed = SOURCE_CODE.replace(
        "event: body.name", "event: body.name === 'Paid' ? 'Order Paid' : body.name"
    )
    replay = run(function, owner, django_capture_on_commit_callbacks, code=changed, limit=10)
    assert replay.total == 3
    by_name = {r["deployed"]["events"][0]["event"]: r for r in replay.results}
    assert by_name["Paid"]["differs"] == ["events"] and by_name["Opened"]["verdict"] == "identical"
    assert by_name["Paid"]["draft"]["events"][0]["event"] == "Order Paid"
    assert by_name["Opened"]["deployed"]["events"][0]["properties"] == {"via": "mobile"}


def test_a_replay_is_audited_with_who_and_what(replayed, owner, django_capture_on_commit_callbacks):
    from workspaces.choices import AuditAction
    from workspaces.models import AuditEvent

    function, instance, _ = replayed
    unsaved = draft("name: 'changed'")
    replay = run(function, owner, django_capture_on_commit_callbacks, code=unsaved, limit=5)
    entry = AuditEvent.objects.get(action=AuditAction.REPLAYED)
    assert (entry.actor, entry.object_id, entry.version_id) == (owner, function.public_id, "")
    assert entry.data["replay"] == replay.public_id and entry.data["count"] == 5
    assert entry.data["draft"] == "code" and entry.data["instances"] == [instance.public_id]
    assert len(entry.data["codeSha256"]) == 64 and unsaved not in json.dumps(entry.data)

    run(function, owner, django_capture_on_commit_callbacks, limit=5)  # the LATEST version
    latest = AuditEvent.objects.filter(action=AuditAction.REPLAYED).latest("id")
    assert (latest.data["draft"], latest.version_id) == ("version", function.latest_version.public_id)
