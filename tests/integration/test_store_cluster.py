"""The pipeline's store on a real Redis Cluster (three masters, private): with
PIPELINE_REDIS_CLUSTER the store talks to it through redis-py's RedisCluster, and every step of
a buffer's life, the sweep's reads, and a delivery's claims work with buffers and destinations
whose keys live on different nodes (a script spanning slots would fail with CROSSSLOT)."""

from __future__ import annotations

import time
import uuid

import pytest
from redis.cluster import RedisCluster

from runtime.pipeline import dedupe, store
from runtime.pipeline.memory_mark import MemoryMark
from tests.integration.redis_cluster import PrivateCluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    running = PrivateCluster(tmp_path_factory.mktemp("cluster")).start()
    yield running
    running.stop()


@pytest.fixture
def on_cluster(cluster, settings, monkeypatch):
    settings.PIPELINE_REDIS_URL = cluster.url
    settings.PIPELINE_REDIS_CLUSTER = True
    settings.PIPELINE_KEY_PREFIX = f"c{uuid.uuid4().hex[:8]}"
    settings.PIPELINE_FLUSH_WAIT_S = 0.01
    settings.PIPELINE_INFLIGHT_LEASE_S = 0.3
    settings.PIPELINE_INFLIGHT_MAX_ATTEMPTS = 1
    monkeypatch.setattr(store, "buffered", lambda: True)
    monkeypatch.setattr(store, "_memory", MemoryMark())
    return cluster


def _port_of(key: str) -> int:
    return store.client().get_node_from_key(key).port


def _on_three_nodes(stage: str, keys_of) -> list[str]:
    """Three buffer (or instance) keys whose Redis keys are held by three different nodes."""
    chosen: dict[int, str] = {}
    for n in range(1, 200):
        chosen.setdefault(_port_of(keys_of(str(n))), str(n))
        if len(chosen) == 3:
            return list(chosen.values())
    raise AssertionError(f"no three {stage} keys on three nodes")


def _events(prefix: str, n: int) -> list[dict]:
    return [{"messageId": f"{prefix}-{i}"} for i in range(n)]


def test_the_store_uses_a_cluster_client(on_cluster):
    assert isinstance(store.client(), RedisCluster)
    assert store.clustered()


def test_a_buffers_life_and_the_sweep_on_three_nodes(on_cluster):
    a, b, c = _on_three_nodes("dst", lambda k: store._keys("dst", k)[0])
    assert len({_port_of(store._keys("dst", k)[0]) for k in (a, b, c)}) == 3
    for k in (a, b, c):
        assert store.buffer_push("dst", k, _events(k, 3), batch=100) == 1
    time.sleep(0.1)  # the flush flags (5 × PIPELINE_FLUSH_WAIT_S) lapse: as if the flushes were lost
    assert sorted(store.buffers_waiting()) == sorted([("dst", a), ("dst", b), ("dst", c)])

    # a: drained and done.
    assert [e["messageId"] for e in store.buffer_drain("dst", a, "t1", limit=2)] == [f"{a}-0", f"{a}-1"]
    store.lease_renew("dst", a, "t1")
    assert store.buffer_done("dst", a, "t1") == 1
    # b: drained, given back (no attempt used), taken again by another task.
    assert len(store.buffer_drain("dst", b, "t2", limit=10)) == 3
    assert store.inflight_release("dst", b, "t2", count=False) == (3, 0)
    assert len(store.buffer_drain("dst", b, "t3", limit=10)) == 3
    # c: its task dies; the lease runs out and the sweep gives the batch back.
    assert len(store.buffer_drain("dst", c, "t4", limit=10)) == 3
    waiting, taken = store.buffer_depths()
    assert (waiting.get("dst"), taken.get("dst")) == (1, 6)
    time.sleep(0.4)
    expired = store.leases_expired()
    assert ("dst", c, "t4") in expired and ("dst", b, "t3") in expired
    assert store.inflight_release("dst", c, "t4", count=True, only_expired=True) == (3, 0)
    # ... and once more: over PIPELINE_INFLIGHT_MAX_ATTEMPTS, the items go to c's dead list.
    assert len(store.buffer_drain("dst", c, "t5", limit=10)) == 3
    assert store.inflight_release("dst", c, "t5", count=True) == (0, 3)
    assert store.dead_keys() == [("dst", c)]
    assert store.dead_take("dst", c) == [f'{{"messageId":"{c}-{i}"}}' for i in range(3)]
    store.dead_forget("dst", c, 3)
    assert store.dead_keys() == []

    store.buffer_done("dst", b, "t3")
    assert len(store.buffer_drain("dst", a, "t6", limit=10)) == 1
    store.buffer_done("dst", a, "t6")
    assert store.buffers_waiting() == []
    assert store.client().smembers(store._active()) == set()  # nothing left: the index forgets
    assert store.buffer_depths() == ({}, {})


def test_claims_dedupe_and_settle_for_destinations_on_three_nodes(on_cluster):
    instances = _on_three_nodes("instance", lambda k: dedupe.dedupe_keys(f"ifnd_{k}")[-1])
    for n, k in enumerate(instances):
        instance = f"ifnd_{k}"
        ids = [f"m{n}-{i}" for i in range(4)]
        assert dedupe.delivery_claim(instance, n, ids, "t1") == (set(ids), set())
        assert dedupe.delivery_claim(instance, n, ids, "t2") == (set(), set(ids))
        assert dedupe.claims_release(instance, ids[3:], "t1") == 1
        dedupe.delivery_settle(instance, n, delivered=ids[:2], released=ids[2:3])
        assert dedupe.delivered_filter(instance, n, ids) == set(ids[:2])
        assert dedupe.delivery_claim(instance, n, ids, "t3") == (set(ids[2:]), set())
        dedupe.delivered_mark(instance, n, ids[2:])
        assert dedupe.delivered_filter(instance, n, ids) == set(ids)


def test_ingest_refuses_when_any_primary_is_nearly_full(on_cluster, settings):
    assert not store.memory_full()
    node = on_cluster.node(on_cluster.ports[1])
    used = int(node.info("memory")["used_memory"])
    node.config_set("maxmemory", str(int(used * 1.05)))
    try:
        store._memory.until = 0.0
        assert store.memory_full()
    finally:
        node.config_set("maxmemory", "0")
