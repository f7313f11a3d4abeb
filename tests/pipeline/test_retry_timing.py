"""Retry scheduling: backoff policies and long delays hopping under the visibility timeout."""

import time

import pytest

from runtime.pipeline import outcomes, queue


class FakeTask:
    def __init__(self):
        self.published = []

    def apply_async(self, args, kwargs, countdown):
        self.published.append((args, kwargs, countdown))


@pytest.fixture
def fake_task(monkeypatch, settings):
    task = FakeTask()
    monkeypatch.setattr(queue, "_task", lambda stage: task)
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 600}
    return task


def test_long_delay_is_published_in_short_countdowns(fake_task):
    queue.retry_later("dst", 7, {"items": [1], "attempt": 2}, 1000)
    [(args, kwargs, countdown)] = fake_task.published
    assert (args, countdown, kwargs["items"]) == ([7], 300, [1])
    assert kwargs["not_before"] == pytest.approx(time.time() + 1000, abs=5)


def test_early_wakeup_republishes_the_rest(fake_task, monkeypatch):
    monkeypatch.setitem(queue.celery_app.conf, "task_always_eager", False)
    assert queue.deferred("dst", 7, {"items": [1], "not_before": time.time() + 100})
    [(_, kwargs, countdown)] = fake_task.published
    assert 99 <= countdown <= 100 and kwargs["items"] == [1]
    assert not queue.deferred("dst", 7, {"items": [1], "not_before": time.time() - 1})
    assert not queue.deferred("dst", 7, {"items": [1], "not_before": None})


def test_eager_mode_never_waits(fake_task):
    assert not queue.deferred("dst", 7, {"items": [1], "not_before": time.time() + 100})
    assert fake_task.published == []


def test_source_policy(settings):
    settings.SOURCE_RETRY_MAX = 6
    settings.SOURCE_RETRY_FIRST_MIN_S, settings.SOURCE_RETRY_FIRST_MAX_S, settings.SOURCE_RETRY_CAP_S = (
        60,
        180,
        1200,
    )
    first = [outcomes.source_retry_delay(1) for _ in range(50)]
    assert all(60 <= d <= 180 for d in first)
    assert all(d <= 1200 for d in (outcomes.source_retry_delay(n) for n in range(1, 7)))
    assert outcomes.source_retry_delay(6) is not None
    assert outcomes.source_retry_delay(7) is None


def test_delivery_policy_stops_at_the_window(settings):
    settings.DELIVERY_RETRY_WINDOW_S = 4 * 3600
    settings.DELIVERY_RETRY_BASE_S, settings.DELIVERY_RETRY_CAP_S = 30, 1800
    settings.PIPELINE_EAGER_DELIVERY_RETRIES = 100  # the worker's policy, not embedded mode's cap
    assert all(30 <= outcomes.delivery_retry_delay(n, 0) <= 1800 for n in range(1, 20))
    assert outcomes.delivery_retry_delay(3, 4 * 3600 - 10) is None


@pytest.mark.parametrize(
    ("entry", "outcome"),
    [
        ({"status": 200}, "ok"),
        ({"status": 204}, "ok"),
        ({"status": 429}, "retry"),
        ({"status": 503}, "retry"),
        ({"status": 400}, "fail"),
        ({"status": "x"}, "fail"),
        (None, "fail"),
    ],
)
def test_on_batch_statuses(entry, outcome):
    assert outcomes.status_outcome(entry) == outcome
