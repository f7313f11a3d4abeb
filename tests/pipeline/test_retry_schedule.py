"""Durable retries: the batch waits in a PendingRetry row; its task carries only the row id,
and a lost task message is published again by the sweep."""

from datetime import timedelta

import pytest
from django.utils import timezone

from runtime.choices import PipelineStage
from runtime.models import DeadLetter, PendingRetry
from runtime.pipeline import queue, recovery, retries, store
from runtime.sandbox import SandboxUnavailable

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def published(monkeypatch, settings):
    """Buffered mode's retry path with the broker publish recorded instead of sent."""
    settings.PIPELINE_INFLIGHT_MAX_ATTEMPTS = 2
    settings.PIPELINE_RETRY_REPUBLISH_S = 0
    monkeypatch.setattr(store, "buffered", lambda: True)
    sent = []

    def publish(row, *, countdown):
        sent.append((row.stage, row.key, row.pk, countdown))
        return True

    monkeypatch.setattr(queue, "retry_publish", publish)
    return sent


def schedule(instance, delay=0.0, items=None):
    queue.retry_later(
        "dst", instance.pk, {"items": items or [{"messageId": "r1"}], "attempt": 2, "first_at": 5.0}, delay
    )
    return PendingRetry.objects.get()


def test_a_retry_is_a_row_and_a_task_carrying_its_id(published, instance):
    row = schedule(instance, delay=30)
    assert (row.stage, row.key, row.items, row.attempt, row.first_at) == (
        "dst",
        instance.pk,
        [{"messageId": "r1"}],
        2,
        5.0,
    )
    assert 25 < (row.due_at - timezone.now()).total_seconds() <= 30
    assert published == [("dst", instance.pk, row.pk, 30)]


def test_the_task_runs_the_row_with_its_attempt_and_forgets_it(published, instance):
    row = schedule(instance)
    runs = []
    queue.stage_run("dst", instance.pk, "task-1", {"retry_id": row.pk}, lambda *a: runs.append(a), limit=None)
    assert runs == [([{"messageId": "r1"}], 2, 5.0)]
    assert not PendingRetry.objects.exists()
    # A second copy of the message finds nothing to do.
    queue.stage_run("dst", instance.pk, "task-2", {"retry_id": row.pk}, lambda *a: runs.append(a), limit=None)
    assert len(runs) == 1


def test_a_held_row_is_left_to_its_holder_but_its_own_task_takes_it_back(published, instance):
    row = schedule(instance)
    assert retries.retry_claim(retry_id=row.pk, token="holder") is not None
    assert retries.retry_claim(retry_id=row.pk, token="other") is None
    assert retries.retry_claim(retry_id=row.pk, token="holder") is not None  # redelivered


def test_an_early_wake_waits_again(published, instance):
    row = schedule(instance, delay=60)
    queue.stage_run(
        "dst", instance.pk, "t", {"retry_id": row.pk}, lambda *a: pytest.fail("ran early"), limit=None
    )
    assert PendingRetry.objects.get().claimed_by == ""
    assert published[-1][2] == row.pk and 50 < published[-1][3] <= 60


def test_infrastructure_errors_keep_the_row_without_counting(published, instance):
    row = schedule(instance)

    def down(*_):
        raise SandboxUnavailable("no node")

    for _ in range(4):
        with pytest.raises(SandboxUnavailable):
            queue.stage_run("dst", instance.pk, "t", {"retry_id": row.pk}, down, limit=None)
    row.refresh_from_db()
    assert (row.failures, row.claimed_by) == (0, "")


def test_a_retry_that_always_fails_ends_in_the_dead_letters(published, instance):
    row = schedule(instance)

    def bug(*_):
        raise KeyError("bug")

    for _ in range(2):
        with pytest.raises(KeyError):
            queue.stage_run("dst", instance.pk, "t", {"retry_id": row.pk}, bug, limit=None)
    queue.stage_run("dst", instance.pk, "t", {"retry_id": row.pk}, bug, limit=None)  # 3rd: given up
    assert not PendingRetry.objects.exists()
    letter = DeadLetter.objects.get(instance=instance)
    assert (letter.message_id, letter.error_type, letter.stage) == (
        "r1",
        "KeyError",
        PipelineStage.DESTINATION,
    )


def test_the_sweep_republishes_due_rows_whose_message_was_lost(published, instance):
    due = schedule(instance)
    PendingRetry.objects.create(
        stage="dst",
        key=instance.pk,
        items=[],
        due_at=timezone.now() + timedelta(hours=1),
        published_at=timezone.now(),
    )
    held = PendingRetry.objects.create(
        stage="dst",
        key=instance.pk,
        items=[],
        due_at=timezone.now(),
        published_at=timezone.now(),
        claimed_by="live",
        claimed_until=timezone.now() + timedelta(minutes=5),
    )
    published.clear()
    recovery.pipeline_sweep()
    assert [p[2] for p in published] == [due.pk]
    assert held.pk not in [p[2] for p in published]


def test_a_retry_whose_worker_keeps_dying_ends_in_the_dead_letters(published, instance):
    row = schedule(instance)
    # Claimed and never let go, three times (each time its worker was killed mid-run).
    for _ in range(3):
        assert retries.retry_claim(retry_id=row.pk, token="t") is not None
    queue.stage_run("dst", instance.pk, "t", {"retry_id": row.pk}, lambda *a: pytest.fail("ran"), limit=None)
    assert not PendingRetry.objects.exists()
    assert DeadLetter.objects.get(instance=instance).message_id == "r1"
