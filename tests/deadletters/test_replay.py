"""Dead letters: listing with filters, and bulk replay through the current version (embedded
mode: eager Celery, the real sandbox, a local HTTP sink)."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from catalog.models import FunctionVersion
from runtime.choices import ErrorCategory, ReplayStatus
from runtime.deadletters import services
from runtime.models import DeadLetter, DeadLetterReplay
from runtime.pipeline.dead_letters import dead_letter_create
from runtime.services import deployment_apply, deployment_request
from tests.factories import InstanceFactory
from tests.pipeline.conftest import SINK_DESTINATION, make_function, sink_events
from tests.pipeline.test_bad_input import basic

pytestmark = pytest.mark.django_db

BROKEN = "async function onTrack(event) { throw new TypeError('v1 is broken') }"
PICKY = SINK_DESTINATION.replace(
    "async function post(event, settings) {",
    "async function post(event, settings) {\n  if (event.properties && event.properties.bad) throw new TypeError('still bad');",
)


@pytest.fixture
def broken(workspace, tracking_source, sink):
    function = make_function(workspace, BROKEN, display_name="Flaky")
    return InstanceFactory(
        function=function, source=tracking_source, name="flaky", settings={"url": sink.url_for("/sink")}
    )


def deploy(instance, code, owner) -> FunctionVersion:
    function = instance.function
    version = FunctionVersion.objects.create(
        function=function, number=function.versions.count() + 1, code=code
    )
    (deployment,) = deployment_request(
        function=function, version=version, instances=[instance], requested_by=owner
    )
    deployment_apply(deployment_id=deployment.pk)
    instance.refresh_from_db()
    assert instance.deployed_version == version
    return version


def replay(api, instance, body, capture):
    """POST a replay (its task runs on commit, eagerly) and read it back when done."""
    url = f"/api/function-instances/{instance.public_id}/dead-letters/replay"
    with capture(execute=True):
        response = api.post(url, body, format="json")
    assert response.status_code == 202, response.content
    accepted = response.json()["data"]["replay"]
    assert accepted["status"] == "PENDING"
    done = api.get(f"/api/function-instances/{instance.public_id}/dead-letters/replays/{accepted['id']}")
    assert done.status_code == 200
    return done.json()["data"]["replay"]


def send(client, source, events):
    response = client.post(
        "/v1/batch", data=json.dumps({"batch": events}), content_type="application/json",
        HTTP_AUTHORIZATION=basic(source.write_key),
    )  # fmt: skip
    assert response.status_code == 200, response.content


def tracks(*names, **properties):
    return [
        {"type": "track", "event": n, "userId": "u", "messageId": f"dl-{n}", "properties": properties}
        for n in names
    ]


def test_failed_events_replay_through_the_new_version_with_their_message_ids(
    client, api, owner, tracking_source, broken, sink, django_capture_on_commit_callbacks
):
    send(client, tracking_source, tracks("a", "b", "c"))
    assert sink_events(sink) == []
    failed_version = broken.deployed_version
    kept = DeadLetter.objects.filter(instance=broken)
    assert sorted(kept.values_list("message_id", flat=True)) == ["dl-a", "dl-b", "dl-c"]
    assert {row.version_id for row in kept} == {failed_version.pk}

    deploy(broken, SINK_DESTINATION, owner)
    done = replay(api, broken, {}, django_capture_on_commit_callbacks)
    assert (done["status"], done["total"], done["processed"], done["delivered"], done["failed"]) == (
        "SUCCEEDED", 3, 3, 3, 0,
    )  # fmt: skip
    delivered = sink_events(sink)
    assert sorted(e["messageId"] for e in delivered) == ["dl-a", "dl-b", "dl-c"]
    assert {e["writeKey"] for e in delivered} == {tracking_source.write_key}  # put back for the function
    assert not DeadLetter.objects.filter(instance=broken).exists()  # succeeded: left the list
    # Delivered now, so a second replay or a resend delivers nothing twice.
    send(client, tracking_source, tracks("a"))
    assert len(sink_events(sink)) == 3


def test_events_that_fail_again_stay_with_the_new_error_and_version(
    client, api, owner, tracking_source, broken, sink, django_capture_on_commit_callbacks
):
    send(client, tracking_source, tracks("ok1", "ok2") + tracks("nope", bad=True))
    picky = deploy(broken, PICKY, owner)
    done = replay(api, broken, {}, django_capture_on_commit_callbacks)
    assert (done["delivered"], done["failed"], done["total"]) == (2, 1, 3)
    [left] = DeadLetter.objects.filter(instance=broken)
    assert left.message_id == "dl-nope"
    assert (left.version_id, left.error_message) == (picky.pk, "still bad")
    assert sorted(e["messageId"] for e in sink_events(sink)) == ["dl-ok1", "dl-ok2"]


def test_replay_only_what_the_filters_match(
    client, api, owner, tracking_source, broken, sink, django_capture_on_commit_callbacks
):
    send(client, tracking_source, tracks("old", "new"))
    DeadLetter.objects.filter(message_id="dl-old").update(created_at=timezone.now() - timedelta(days=2))
    deploy(broken, SINK_DESTINATION, owner)
    since = (timezone.now() - timedelta(hours=1)).isoformat()
    done = replay(api, broken, {"since": since}, django_capture_on_commit_callbacks)
    assert (done["total"], done["delivered"]) == (1, 1)
    assert done["filters"]["since"]
    assert [e["messageId"] for e in sink_events(sink)] == ["dl-new"]
    assert list(DeadLetter.objects.filter(instance=broken).values_list("message_id", flat=True)) == ["dl-old"]


def test_list_filters_by_time_category_and_version(api, owner, function, instance):
    v1 = instance.deployed_version
    v2 = FunctionVersion.objects.create(function=function, number=v1.number + 1, code=v1.code)
    dead_letter_create(
        instance=instance, items=[{"messageId": "t1"}], error={"type": "TypeError", "message": "x"}
    )
    dead_letter_create(
        instance=instance, items=[{"messageId": "r1"}], error={"type": "RetryError", "message": "later"},
        category=ErrorCategory.RETRY, attempts=9,
    )  # fmt: skip
    old = dead_letter_create(instance=instance, items=[{"messageId": "o1"}], error=None)[0]
    DeadLetter.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=3), version=v2)
    url = f"/api/function-instances/{instance.public_id}/dead-letters"

    def ids(**query):
        response = api.get(url, query)
        assert response.status_code == 200, response.content
        return [row["messageId"] for row in response.json()["data"]["deadLetters"]]

    assert ids() == ["r1", "t1", "o1"]
    assert ids(category="retry") == ["r1"]
    assert ids(versionId=v2.public_id) == ["o1"]
    assert ids(until=(timezone.now() - timedelta(days=1)).isoformat()) == ["o1"]
    assert ids(since=(timezone.now() - timedelta(days=1)).isoformat(), category="bad_request") == ["t1"]
    row = api.get(url, {"category": "retry"}).json()["data"]["deadLetters"][0]
    assert (row["errorType"], row["errorMessage"], row["attempts"], row["versionId"]) == (
        "RetryError",
        "later",
        9,
        v1.public_id,
    )
    for bad in (
        {"since": "yesterday"},
        {"since": "2026-01-01T00:00:00"},
        {"category": "nope"},
        {"versionId": "fv_nope"},
    ):
        response = api.get(url, bad)
        assert response.status_code == 422, (bad, response.content)
        assert response.json()["errors"][0]["field"] == next(iter(bad))


def test_replay_refused_for_a_disabled_instance_or_while_one_runs(api, broken):
    url = f"/api/function-instances/{broken.public_id}/dead-letters/replay"
    DeadLetterReplay.objects.create(instance=broken, status=ReplayStatus.RUNNING, heartbeat_at=timezone.now())
    response = api.post(url, {}, format="json")
    assert response.status_code == 422 and "already under way" in response.content.decode()
    DeadLetterReplay.objects.all().delete()
    broken.enabled = False
    broken.save(update_fields=["enabled"])
    assert api.post(url, {}, format="json").status_code == 422
    assert api.post(url, {"category": "nope"}, format="json").status_code == 422
    assert api.post(url, ["not", "an", "object"], format="json").status_code == 422


def test_a_replay_runs_once_and_resumes_where_it_stopped(client, owner, tracking_source, broken, sink):
    send(client, tracking_source, tracks("r1", "r2", "r3", "r4"))
    deploy(broken, SINK_DESTINATION, owner)
    broken.function.batch_max_count = 2
    broken.function.save(update_fields=["batch_max_count"])
    ids = list(DeadLetter.objects.filter(instance=broken).order_by("id").values_list("pk", flat=True))
    # A replay whose first batch was done by a task that then died (its lease long expired).
    first = DeadLetter.objects.filter(pk__in=ids[:2])
    first.delete()
    replay = DeadLetterReplay.objects.create(
        instance=broken, dead_letter_ids=ids, total=4, processed=2, delivered=2, status=ReplayStatus.RUNNING,
        runner="dead-task", heartbeat_at=timezone.now() - timedelta(hours=1),
    )  # fmt: skip
    # Another task's live lease keeps a second runner out.
    DeadLetterReplay.objects.filter(pk=replay.pk).update(heartbeat_at=timezone.now())
    assert services.dead_letters_replay_run(replay_id=replay.pk, runner="intruder") is None
    DeadLetterReplay.objects.filter(pk=replay.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    done = services.dead_letters_replay_run(replay_id=replay.pk, runner="successor")
    assert (done.status, done.processed, done.delivered) == (ReplayStatus.SUCCEEDED, 4, 4)
    assert sorted(e["messageId"] for e in sink_events(sink)) == ["dl-r3", "dl-r4"]  # only the rest
    assert services.dead_letters_replay_run(replay_id=replay.pk, runner="late") is None  # finished


def test_admin_action_replays_the_selected_rows(
    client, owner, read_only, tracking_source, broken, sink, django_capture_on_commit_callbacks
):
    send(client, tracking_source, tracks("x1", "x2", "x3"))
    deploy(broken, SINK_DESTINATION, owner)
    chosen = list(DeadLetter.objects.filter(message_id__in=["dl-x1", "dl-x3"]).values_list("pk", flat=True))
    url = "/admin/runtime/deadletter/"
    client.force_login(read_only)
    page = client.post(url, {"action": "replay", "_selected_action": chosen}, follow=True).content.decode()
    assert "replaying needs Functions Admin" in page
    assert not DeadLetterReplay.objects.exists()
    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        page = client.post(
            url, {"action": "replay", "_selected_action": chosen}, follow=True
        ).content.decode()
    assert "replaying 2 dead letters" in page
    assert sorted(e["messageId"] for e in sink_events(sink)) == ["dl-x1", "dl-x3"]
    assert list(DeadLetter.objects.values_list("message_id", flat=True)) == ["dl-x2"]
    listing = client.get(url, {"category__exact": "bad_request"}).content.decode()
    assert "dl-x2" in listing
    replays = client.get("/admin/runtime/deadletterreplay/").content.decode()
    assert "2 / 2" in replays


def test_a_dead_letter_replay_is_audited(
    client, api, owner, tracking_source, broken, sink, django_capture_on_commit_callbacks
):
    from workspaces.choices import AuditAction
    from workspaces.models import AuditEvent

    send(client, tracking_source, tracks("a", "b"))
    fixed = deploy(broken, SINK_DESTINATION, owner)
    done = replay(api, broken, {"category": ErrorCategory.BAD_REQUEST}, django_capture_on_commit_callbacks)
    entry = AuditEvent.objects.get(action=AuditAction.DEAD_LETTERS_REPLAYED)
    assert (entry.actor, entry.object_id, entry.version_id) == (owner, broken.public_id, fixed.public_id)
    assert entry.data == {"replay": done["id"], "filters": {"category": "bad_request"}, "total": 2}


def test_a_source_functions_webhook_requests_replay_through_its_new_version(
    client, api, owner, source_function_instance, sink, django_capture_on_commit_callbacks
):
    from tests.pipeline.conftest import SOURCE_CODE

    hook = source_function_instance
    body = {"boom": True, "items": [{"name": "Paid", "user": "u1"}]}
    response = client.post(
        f"/hooks/{hook.source.webhook_token}", data=json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 200
    [first] = DeadLetter.objects.filter(instance=hook)
    assert first.stage == "src" and sink_events(sink) == []

    # Still broken: it fails again and comes back as a new dead letter.
    done = replay(api, hook, {}, django_capture_on_commit_callbacks)
    assert (done["status"], done["total"], done["delivered"], done["failed"]) == ("SUCCEEDED", 1, 0, 1)
    [again] = DeadLetter.objects.filter(instance=hook)
    assert again.pk != first.pk and again.message_id == first.message_id

    deploy(hook, SOURCE_CODE.replace("if (body.boom) throw new TypeError('boom');", ""), owner)
    done = replay(api, hook, {}, django_capture_on_commit_callbacks)
    assert (done["delivered"], done["failed"], done["retrying"]) == (1, 0, 0)
    assert [(e["event"], e["userId"]) for e in sink_events(sink)] == [("Paid", "u1")]
    assert not DeadLetter.objects.filter(instance=hook).exists()


def test_a_source_inserts_messages_replay_through_the_inserts_and_routing(
    client,
    api,
    owner,
    settings,
    workspace,
    tracking_source,
    destination,
    sink,
    django_capture_on_commit_callbacks,
):
    from catalog.choices import ResourceType
    from tests.pipeline.conftest import make_function
    from tests.pipeline.test_dead_letters import SOURCE_INSERT

    insert = InstanceFactory(
        function=make_function(workspace, SOURCE_INSERT, kind=ResourceType.INSERT_SOURCE),
        source=tracking_source,
        name="enricher",
    )
    send(client, tracking_source, [{"type": "track", "event": "bad", "userId": "u", "messageId": "si-bad"}])
    [letter] = DeadLetter.objects.filter(instance=insert)
    assert letter.stage == "route" and sink_events(sink) == []

    deploy(insert, "async function onTrack(e) { e.properties = {enriched: true}; return e; }", owner)
    done = replay(api, insert, {}, django_capture_on_commit_callbacks)
    assert (done["status"], done["total"], done["delivered"], done["failed"]) == ("SUCCEEDED", 1, 1, 0)
    [delivered] = sink_events(sink)
    assert (delivered["messageId"], delivered["properties"]) == ("si-bad", {"enriched": True})
    assert delivered["writeKey"] == tracking_source.write_key
    assert not DeadLetter.objects.filter(instance=insert).exists()
