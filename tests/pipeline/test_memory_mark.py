"""Ingest's memory mark on a real Redis with `maxmemory` and `noeviction` (a private
redis-server, stopped by pid): however fast pushes come, ingest stops at the mark while Redis
still has the room a worker needs to drain, never at Redis's own refusal."""

import pytest

from runtime.pipeline import dedupe, store
from runtime.pipeline.memory_mark import MemoryMark
from tests.integration.faults import PrivateRedis

EVENTS = [{"type": "track", "messageId": f"m{i}", "properties": {"pad": "x" * 300}} for i in range(100)]


@pytest.fixture
def small_redis(tmp_path, settings, monkeypatch):
    """A 4 MB Redis as the pipeline's, the mark at 60 %, this process's reading fresh."""
    private = PrivateRedis(tmp_path, "--maxmemory", "4mb", "--maxmemory-policy", "noeviction").start()
    settings.PIPELINE_REDIS_URL = private.url
    settings.PIPELINE_REDIS_MEMORY_HIGH = 0.6
    monkeypatch.setattr(store, "buffered", lambda: True)
    monkeypatch.setattr(store, "_memory", MemoryMark())
    yield private.client()
    private.kill()


def _ingest_until_refused(r) -> int:
    """Push 100-event batches as fast as one process can, as ingest does, until the mark."""
    pushes = 0
    while not store.memory_full():
        store.buffer_push("dst", "1", EVENTS, batch=100)  # Redis full: OutOfMemoryError
        pushes += 1
        assert pushes < 10_000, "the mark was never reached"
    return pushes


def test_a_fast_ingest_stops_at_the_mark_before_redis_refuses_writes(small_redis):
    pushes = _ingest_until_refused(small_redis)
    info = small_redis.info("memory")
    assert pushes > 10
    assert info["used_memory"] < 0.7 * info["maxmemory"], "the mark was overshot"
    # The room left is the drain's: a batch is taken and its messageIds are claimed.
    assert len(store.buffer_drain("dst", "1", "t1", limit=100)) == 100
    ids = [e["messageId"] for e in EVENTS]
    assert dedupe.delivery_claim("ifnd_1", 1, ids, "t1") == (set(ids), set())


def test_the_mark_is_read_again_once_this_process_pushed_its_share_of_the_room(small_redis, monkeypatch):
    assert not store.memory_full()
    assert 0 < store._memory.budget < small_redis.info("memory")["maxmemory"] / 16
    reads, real = [], store.node_infos
    monkeypatch.setattr(store, "node_infos", lambda section: reads.append(section) or real(section))
    while store._memory.budget >= 0:
        assert not store.memory_full()
        store.buffer_push("dst", "1", EVENTS, batch=100)
    assert not reads  # within its share (and its second) the reading held
    store.memory_full()
    assert reads == ["memory"]
