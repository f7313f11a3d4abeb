"""Isolated destinations: delivery slots (runtime/pipeline/slots.py) and Retry-After.

The slot scripts run on the real Redis (REDIS_URL) under a key prefix of their own; the
Retry-After tests run real functions in the sandbox and capture the retry schedule.
"""

from __future__ import annotations

import json
import time

import pytest

from runtime.pipeline import delivery, queue, slots, store
from tests.factories import FunctionFactory, InstanceFactory
from tests.pipeline.conftest import make_function

pytestmark = pytest.mark.django_db


@pytest.fixture
def slot_redis(pipeline_redis, settings):
    # Seconds, with margins for a loaded machine: a test step must not take a second.
    settings.PIPELINE_SLOW_DELIVERY_S = 1.0
    settings.PIPELINE_SLOW_INSTANCE_SLOTS = 1
    settings.PIPELINE_SLOW_FLAG_S = 30
    settings.PIPELINE_SLOT_WAIT_S = 2.0
    return pipeline_redis


@pytest.fixture
def instance():
    return InstanceFactory(function=FunctionFactory(timeout_ms=1000))


def test_a_fast_instance_is_not_limited(slot_redis, instance):
    held = [slots.acquire(instance, f"task-{n}") for n in range(4)]
    assert all(held)
    for slot in held:
        slot.round(10)
        slot.release()
    assert slot_redis.exists(slots._keys(instance.pk)[1]) == 0  # not flagged slow


def test_only_later_rounds_renew_the_slot(slot_redis, instance):
    slot = slots.acquire(instance, "a")
    key = slots._keys(instance.pk)[0]
    taken = slot_redis.zscore(key, "a")
    time.sleep(0.05)
    slot.round(5)  # the first round started with acquire: no second write
    assert slot_redis.zscore(key, "a") == taken
    time.sleep(0.05)
    slot.round(5)
    assert slot_redis.zscore(key, "a") > taken
    slot.release()


def test_a_slow_round_limits_the_instance(slot_redis, instance):
    first = slots.acquire(instance, "a")
    first.round(5)
    time.sleep(1.1)
    first.release()  # took longer than PIPELINE_SLOW_DELIVERY_S: the instance is slow now
    holder = slots.acquire(instance, "b")
    assert holder is not None
    assert slots.acquire(instance, "c") is None  # one slot while slow
    holder.round(5)
    holder.release()  # a fast round with events: not slow any more
    assert slots.acquire(instance, "c") is not None
    assert slots.acquire(instance, "d") is not None


def test_a_round_under_way_that_is_already_slow_counts(slot_redis, instance):
    hung = slots.acquire(instance, "hung")
    hung.round(1)
    assert slots.acquire(instance, "early") is not None  # not known to be slow yet
    time.sleep(1.1)
    assert slots.acquire(instance, "late") is None  # "hung" has run past the threshold


def test_a_dead_holder_is_forgotten_after_its_lease(slot_redis, instance, monkeypatch):
    monkeypatch.setattr(slots, "lease_s", lambda instance: 1.5)
    dead = slots.acquire(instance, "dead")
    dead.round(1)
    slot_redis.set(slots._keys(instance.pk)[1], "1")  # slow: one slot, held by the dead task
    assert slots.acquire(instance, "other") is None
    time.sleep(1.6)
    assert slots.acquire(instance, "other") is not None


def test_the_same_task_gets_its_slot_back(slot_redis, instance):
    slot_redis.set(slots._keys(instance.pk)[1], "1")
    assert slots.acquire(instance, "again") is not None
    assert slots.acquire(instance, "again") is not None  # a redelivered task replaces itself


def test_one_waiter_per_period(slot_redis, instance):
    assert slots.wait_claim(instance.pk)
    assert not slots.wait_claim(instance.pk)
    time.sleep(1.7)  # the claim lives 80 % of PIPELINE_SLOT_WAIT_S
    assert slots.wait_claim(instance.pk)


def test_a_slotless_task_comes_back_without_taking_events(slot_redis, instance, monkeypatch):
    monkeypatch.setattr(store, "buffered", lambda: True)
    monkeypatch.setattr(queue, "deferred", lambda *args: False)
    ran, back = [], []
    monkeypatch.setattr(queue, "stage_run", lambda *args, **kwargs: ran.append(args))
    slot_redis.set(slots._keys(instance.pk)[1], "1")
    held = slots.acquire(instance, "holder")
    retry = {"items": None, "attempt": 0, "first_at": None, "not_before": None}
    for n in range(3):
        delivery.delivery_flush(task_id=f"t{n}", instance_id=instance.pk, retry=retry, come_back=back.append)
    assert ran == [] and back == [2.0]  # one of the buffer's tasks comes back, the rest end
    carrying = {**retry, "items": [{"messageId": "m"}]}
    delivery.delivery_flush(task_id="r", instance_id=instance.pk, retry=carrying, come_back=back.append)
    assert back == [2.0, 2.0]  # a task carrying events always comes back
    held.release()
    delivery.delivery_flush(task_id="t9", instance_id=instance.pk, retry=retry, come_back=back.append)
    assert len(ran) == 1


def test_a_redelivered_task_without_a_slot_gives_its_batch_back(slot_redis, instance, monkeypatch):
    """A task whose worker died mid-batch comes back (same id) to a slow instance: when it may
    not wait for a slot, its in-flight batch returns to the buffer instead of staying stranded."""
    monkeypatch.setattr(store, "buffered", lambda: True)
    monkeypatch.setattr(queue, "deferred", lambda *args: False)
    key = str(instance.pk)
    events = [{"messageId": f"m{i}"} for i in range(3)]
    store.buffer_push("dst", key, events, batch=10)
    assert store.buffer_drain("dst", key, "dead-task", limit=10) == events  # then the worker died
    slot_redis.set(slots._keys(instance.pk)[1], "1")
    held = slots.acquire(instance, "holder")
    assert slots.wait_claim(instance.pk)  # another slot-less task will come back for the buffer
    back = []
    retry = {"items": None, "attempt": 0, "first_at": None, "not_before": None}
    delivery.delivery_flush(task_id="dead-task", instance_id=instance.pk, retry=retry, come_back=back.append)
    assert back == []
    buf, _ = store._keys("dst", key)
    assert [json.loads(item) for item in slot_redis.lrange(buf, 0, -1)] == events
    assert slot_redis.llen(store._inflight("dst", key, "dead-task")) == 0
    held.release()


# --- Retry-After -------------------------------------------------------------------------------

RATE_LIMITED = """
async function onTrack(event, settings) {
  if (settings.mode === 'number') throw new RetryError('429', {retryAfter: 120});
  if (settings.mode === 'bare') throw new RetryError('429', 90);
  if (settings.mode === 'header') throw new RetryError('429', {retryAfter: '75'});
  if (settings.mode === 'date') throw new RetryError('429', {retryAfter: new Date(Date.now() + 300000).toUTCString()});
  if (settings.mode === 'error') throw new RetryError('wrapped', new Error('cause'));
  if (settings.mode === 'far') throw new RetryError('429', {retryAfter: 99999});
  throw new RetryError('plain');
}
"""


@pytest.fixture
def published(monkeypatch):
    calls = []
    monkeypatch.setattr(queue, "retry_later", lambda stage, key, kwargs, delay: calls.append(delay))
    return calls


def _deliver(workspace, tracking_source, mode, settings):
    settings.DELIVERY_RETRY_BASE_S, settings.DELIVERY_RETRY_CAP_S = 1.0, 2.0
    settings.DELIVERY_RETRY_WINDOW_S = 4 * 3600
    function = make_function(workspace, RATE_LIMITED)
    target = InstanceFactory(function=function, source=tracking_source, settings={"mode": mode})
    event = {"type": "track", "event": "E", "messageId": f"m-{mode}", "userId": "u"}
    return delivery.deliver(instance_id=target.pk, events=[event])


@pytest.mark.parametrize(
    ("mode", "low", "high"),
    [
        ("number", 120, 120),
        ("bare", 90, 90),
        ("header", 75, 75),
        ("date", 290, 301),
        ("error", 1, 2),  # Segment code passing an error as the second argument: no wait
        ("plain", 1, 2),
    ],
)
def test_retry_after_sets_the_wait(workspace, tracking_source, settings, published, mode, low, high):
    counts = _deliver(workspace, tracking_source, mode, settings)
    assert counts["retried"] == 1
    [delay] = published
    assert low <= delay <= high


def test_retry_after_past_the_window_ends_the_retries(workspace, tracking_source, settings, published):
    counts = _deliver(workspace, tracking_source, "far", settings)
    assert published == [] and counts["failed"] == 1 and counts["retried"] == 0
