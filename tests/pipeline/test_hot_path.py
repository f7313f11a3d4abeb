"""The per-request and per-batch work of the buffered pipeline (issue 15's throughput fixes):
ingest lookups served from the process cache, one lease heartbeat thread per process."""

import threading
import uuid

import pytest

from runtime.pipeline import lookups, queue, store
from runtime.pipeline.sources import tracking_source, webhook_instance_id
from tests.factories import SourceFactory
from workspaces.choices import SourceKind

pytestmark = pytest.mark.django_db


@pytest.fixture
def cached_lookups(settings, monkeypatch):
    """Buffered mode's lookup cache, long enough that nothing expires during a test."""
    settings.PIPELINE_LOOKUP_CACHE_S = 60
    monkeypatch.setattr(store, "buffered", lambda: True)
    lookups._cache.clear()
    yield
    lookups._cache.clear()


def test_a_write_key_costs_one_query_per_cache_window(cached_lookups, workspace, django_assert_num_queries):
    source = SourceFactory(workspace=workspace, kind=SourceKind.TRACKING_API)
    with django_assert_num_queries(1):
        for _ in range(5):
            found = tracking_source(source.write_key)
    assert (found.pk, found.write_key, found.enabled) == (source.pk, source.write_key, True)


def test_an_unknown_write_key_is_not_remembered(cached_lookups, workspace, django_assert_num_queries):
    key = uuid.uuid4().hex
    with django_assert_num_queries(2):
        assert tracking_source(key) is None
        assert tracking_source(key) is None
    source = SourceFactory(workspace=workspace, kind=SourceKind.TRACKING_API, write_key=key)
    assert tracking_source(key).pk == source.pk  # a new source is found at once


def test_a_webhook_token_costs_one_query_per_cache_window(
    cached_lookups, source_function_instance, django_assert_num_queries
):
    token = source_function_instance.source.webhook_token
    with django_assert_num_queries(1):
        assert {webhook_instance_id(token) for _ in range(5)} == {source_function_instance.pk}
    with django_assert_num_queries(2):  # a guessed token is looked up every time
        assert webhook_instance_id("nope") is None
        assert webhook_instance_id("nope") is None


@pytest.fixture
def redis_store(pipeline_redis, monkeypatch):
    monkeypatch.setattr(store, "buffered", lambda: True)
    monkeypatch.setattr(queue, "flush_schedule", lambda stage, key, now: None)


def test_batches_share_one_heartbeat_thread(redis_store, instance):
    for round_ in range(5):
        store.buffer_push("dst", str(instance.pk), [{"messageId": f"m{round_}"}], batch=100)
        queue.flush("dst", instance.pk, f"task-{round_}", lambda items: None, limit=10)
    beating = [t for t in threading.enumerate() if t.name == "inflight-lease"]
    assert len(beating) == 1
    assert store._heartbeat.held == {}  # finished batches hold no lease


def test_a_backlog_of_whole_batches_publishes_no_more_tasks(redis_store, instance):
    batch = [{"messageId": f"m{n}"} for n in range(10)]
    decisions = [store.buffer_push("dst", str(instance.pk), batch, batch=10) for _ in range(5)]
    # Two whole batches get their tasks at once; past them one delayed flush, then nothing.
    assert decisions == [2, 2, 1, 0, 0]


def test_pushes_while_a_backlog_is_drained_publish_nothing_more(redis_store, instance):
    key = str(instance.pk)
    push = lambda n: store.buffer_push("dst", key, [{"messageId": f"m{n}"}], batch=100)  # noqa: E731
    assert [push(n) for n in range(3)] == [1, 0, 0]  # one delayed flush for the window
    assert len(store.buffer_drain("dst", key, "task-1", limit=2)) == 2
    # One item is left for this task's next round: a push now publishes no other flush.
    assert push(3) == 0
    assert store.buffer_done("dst", key, "task-1") == 2  # the backlog its next round takes
    assert len(store.buffer_drain("dst", key, "task-1", limit=10)) == 2
    store.buffer_done("dst", key, "task-1")
    # The buffer is empty now: the next push opens a new window and publishes its flush.
    assert push(4) == 1


def test_a_push_after_redis_forgot_its_scripts_still_lands(redis_store, instance):
    key = str(instance.pk)
    assert store.buffer_push("dst", key, [{"messageId": "m0"}], batch=100) == 1
    store.client().script_flush()  # what a restarted Redis without the scripts looks like
    assert store.buffer_push("dst", key, [{"messageId": "m1"}], batch=100) == 0
    drained = store.buffer_drain("dst", key, "task-1", limit=10)
    assert [item["messageId"] for item in drained] == ["m0", "m1"]
    assert ("dst", key) in store._buffers()
