"""The dead-letter store: final failures are kept whole (for replay), retention is enforced."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from catalog.choices import ResourceType
from runtime.choices import ErrorCategory, PipelineStage
from runtime.models import DeadLetter
from runtime.pipeline.dead_letters import dead_letter_create, dead_letters_prune
from runtime.pipeline.retention import records_cleanup
from runtime.selectors import delivery_summary
from tests.factories import InstanceFactory

from .conftest import make_function
from .test_bad_input import basic

pytestmark = pytest.mark.django_db

STRICT = """
async function onTrack(e) {
  if (e.event === 'bad') throw new ValidationError('bad event ' + e.messageId);
  if (e.event === 'later') throw new RetryError('come back');
}
"""


def send_batch(client, source, batch):
    resp = client.post(
        "/v1/batch",
        data=json.dumps({"batch": batch}),
        content_type="application/json",
        HTTP_AUTHORIZATION=basic(source.write_key),
    )
    assert resp.status_code == 200, resp.content


@pytest.fixture
def strict(workspace, tracking_source):
    return InstanceFactory(function=make_function(workspace, STRICT), source=tracking_source, name="strict")


def test_final_failures_become_dead_letters_with_their_error(client, tracking_source, strict):
    batch = [{"type": "track", "event": "bad", "userId": "u", "messageId": f"b-{i}"} for i in range(7)]
    batch += [
        {"type": "track", "event": "ok", "userId": "u", "messageId": "fine"},
        {"type": "identify", "userId": "u", "messageId": "no-handler"},
    ]
    send_batch(client, tracking_source, batch)
    letters = DeadLetter.objects.filter(instance=strict)
    # Every failed event is kept (the error log keeps 5 per batch); no handler is not a fault.
    assert sorted(letters.values_list("message_id", flat=True)) == sorted(f"b-{i}" for i in range(7))
    letter = letters.get(message_id="b-3")
    assert (letter.category, letter.error_type) == (ErrorCategory.MESSAGE_REJECTED, "ValidationError")
    assert letter.error_message == "bad event b-3"
    assert letter.stage == PipelineStage.DESTINATION
    assert letter.version_id == strict.deployed_version_id
    assert letter.event["event"] == "bad" and letter.event["userId"] == "u"
    assert "writeKey" not in letter.event
    assert delivery_summary(instance=strict)["rejected"] == 7


def test_retries_spent_become_dead_letters_counted_failed(client, settings, tracking_source, strict):
    settings.DELIVERY_RETRY_WINDOW_S = 0.0005
    send_batch(
        client, tracking_source, [{"type": "track", "event": "later", "userId": "u", "messageId": "l-1"}]
    )
    letter = DeadLetter.objects.get(instance=strict)
    assert (letter.message_id, letter.error_type, letter.category) == (
        "l-1",
        "RetryError",
        ErrorCategory.RETRY,
    )
    assert letter.attempts >= 1
    assert delivery_summary(instance=strict)["failed"] == 1


def test_create_validates_and_keeps_any_item(strict):
    [row] = dead_letter_create(
        instance=strict,
        items=[{"id": "req-1", "payload": "{}"}],
        error={"type": "WorkerLost", "message": "gone"},
        category=ErrorCategory.INTERNAL,
        attempts=6,
        stage=PipelineStage.SOURCE,
    )
    assert (row.message_id, row.attempts, row.stage) == ("req-1", 6, "src")
    with pytest.raises(Exception):  # noqa: B017, PT011 - Django's ValidationError
        dead_letter_create(instance=strict, items=[{}], error={}, category="not-a-category")


def test_retention_keeps_newest_per_instance_and_drops_old(settings, strict, destination):
    settings.PIPELINE_DEAD_LETTER_KEEP = 3
    for i in range(5):
        dead_letter_create(instance=strict, items=[{"messageId": f"s-{i}"}], error={"type": "E"})
    dead_letter_create(instance=destination, items=[{"messageId": "d-old"}, {"messageId": "d-new"}], error={})
    DeadLetter.objects.filter(message_id="d-old").update(created_at=timezone.now() - timedelta(days=31))
    assert records_cleanup()["dead_letters"] == 3
    assert sorted(DeadLetter.objects.values_list("message_id", flat=True)) == ["d-new", "s-2", "s-3", "s-4"]
    assert dead_letters_prune() == 0


def test_a_webhook_request_the_source_function_fails_on_is_a_dead_letter(client, source_function_instance):
    resp = client.post(
        f"/hooks/{source_function_instance.source.webhook_token}",
        data=json.dumps({"boom": True}),
        content_type="application/json",
    )
    assert resp.status_code == 200
    letter = DeadLetter.objects.get(instance=source_function_instance)
    assert (letter.stage, letter.error_type, letter.category) == (
        PipelineStage.SOURCE,
        "TypeError",
        ErrorCategory.BAD_REQUEST,
    )
    assert json.loads(letter.event["payload"]["body"]) == {"boom": True}  # the request, whole


SOURCE_INSERT = """
async function onTrack(e) {
  if (e.event === 'bad') throw new TypeError('cannot enrich ' + e.messageId);
  if (e.event === 'later') throw new RetryError('enricher down');
  return e;
}
"""


def test_source_insert_failures_are_dead_letters_of_the_insert(
    client, settings, workspace, tracking_source, destination
):
    settings.SOURCE_RETRY_MAX = 1
    insert = InstanceFactory(
        function=make_function(workspace, SOURCE_INSERT, kind=ResourceType.INSERT_SOURCE),
        source=tracking_source,
        name="enricher",
    )
    send_batch(
        client,
        tracking_source,
        [
            {"type": "track", "event": "bad", "userId": "u", "messageId": "si-bad"},
            {"type": "track", "event": "later", "userId": "u", "messageId": "si-later"},
            {"type": "track", "event": "ok", "userId": "u", "messageId": "si-ok"},
        ],
    )
    letters = {d.message_id: d for d in DeadLetter.objects.filter(instance=insert)}
    assert set(letters) == {"si-bad", "si-later"}
    assert {d.stage for d in letters.values()} == {PipelineStage.ROUTE}
    assert (letters["si-bad"].error_type, letters["si-later"].error_type) == ("TypeError", "RetryError")
    assert delivery_summary(instance=destination)["delivered"] == 1
