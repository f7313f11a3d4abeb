"""The pipeline's Redis key layout: every script works on one Redis Cluster hash slot, the index
of buffers forgets only buffers with nothing left, and an upgrade adopts the untagged keys of
earlier releases without stranding an item (real Redis, a key prefix of its own)."""

import json
import time

import pytest
from redis.crc import key_slot

from runtime.pipeline import dedupe, store

pytestmark = pytest.mark.django_db


@pytest.fixture
def slots_seen(pipeline_redis, monkeypatch):
    """Every script call's keys, checked to share one hash slot."""
    monkeypatch.setattr(store, "buffered", lambda: True)
    real, pipelined, seen = store.script, store._pushed_and_indexed, []

    def check(keys):
        slots = {key_slot(k.encode()) for k in keys}
        seen.append(slots)
        assert len(slots) <= 1, f"one script over several hash slots: {keys}"

    def checked(source):
        script = real(source)

        def call(keys=(), args=(), client=None):
            check(keys)
            return script(keys=keys, args=args, client=client)

        call.sha = script.sha
        return call

    def checked_pipelined(sha, keys, args, member):  # pushes run EVALSHA in a pipeline
        check(keys)
        return pipelined(sha, keys, args, member)

    monkeypatch.setattr(store, "script", checked)
    monkeypatch.setattr(store, "_pushed_and_indexed", checked_pipelined)
    return seen


def test_every_script_of_a_buffers_life_stays_on_one_hash_slot(slots_seen):
    store.buffer_push("dst", "7", [{"messageId": f"m{i}"} for i in range(3)], batch=100)
    assert len(store.buffer_drain("dst", "7", "t1", limit=2)) == 2
    store.lease_renew("dst", "7", "t1")
    assert store.inflight_release("dst", "7", "t1", count=True) == (2, 0)
    assert len(store.buffer_drain("dst", "7", "t2", limit=10)) == 3
    assert store.buffer_done("dst", "7", "t2") == 0
    assert store.buffers_waiting() == []
    assert len(slots_seen) >= 7


def test_claims_and_dedupe_marks_of_an_instance_share_its_slot(slots_seen):
    ids = ["a", "b", "c"]
    assert dedupe.delivery_claim("ifnd_1", 1, ids, "t1") == (set(ids), set())
    assert dedupe.delivery_claim("ifnd_1", 1, ids, "t2") == (set(), set(ids))
    assert dedupe.claims_release("ifnd_1", ["c"], "t1") == 1
    dedupe.delivery_settle("ifnd_1", 1, delivered=["a"], released=["b"])
    assert dedupe.delivered_filter("ifnd_1", 1, ids) == {"a"}
    keys = [*dedupe.dedupe_keys("ifnd_1"), *dedupe.claim_keys("ifnd_1", ids)]
    assert len({key_slot(k.encode()) for k in keys}) == 1  # the settle's transaction too


def test_the_index_forgets_only_buffers_with_nothing_left(slots_seen, pipeline_redis):
    store.buffer_push("dst", "8", [{"messageId": "m0"}], batch=100)
    store.buffer_push("dst", "9", [{"messageId": "m1"}], batch=100)
    pipeline_redis.delete(*store._keys("dst", "8")[1:], *store._keys("dst", "9")[1:])
    assert sorted(store.buffers_waiting()) == [("dst", "8"), ("dst", "9")]
    store.buffer_drain("dst", "8", "t1", limit=10)  # in flight: its lease keeps it indexed
    store.buffer_drain("dst", "9", "t2", limit=10)
    store.buffer_done("dst", "9", "t2")
    pipeline_redis.delete(*store._keys("dst", "8")[1:], *store._keys("dst", "9")[1:])
    assert store.buffers_waiting() == []
    assert [m.decode() for m in pipeline_redis.smembers(store._active())] == ["dst:8"]


def test_an_upgrade_adopts_the_untagged_layout_of_earlier_releases(pipeline_redis, monkeypatch):
    monkeypatch.setattr(store, "buffered", lambda: True)
    p, r = store.key_prefix(), pipeline_redis
    old = [json.dumps({"messageId": f"old{i}"}) for i in range(2)]
    r.rpush(f"{p}:buf:dst:5", *old)
    r.rpush(f"{p}:inflight:dst:5:lost-task", json.dumps({"messageId": "flying"}))
    r.zadd(f"{p}:leases", {"dst:5:lost-task": 1})  # expired long ago
    r.rpush(f"{p}:dead:src:6", "hopeless")
    r.sadd(f"{p}:deadkeys", "src:6")
    hour = int(time.time() // 3600)
    r.sadd(f"{p}:dlv:ifnd_5:{hour}", "done-before")
    r.set(f"{p}:sched:dst:5", "1")
    store.buffer_push("dst", "5", [{"messageId": "new"}], batch=100)  # after the upgrade
    r.delete(store._keys("dst", "5")[1])  # its flush was lost: the sweep must find the buffer
    monkeypatch.setattr(store, "_adopted", {})

    assert store.buffers_waiting() == [("dst", "5")]
    assert store.leases_expired() == [("dst", "5", "lost-task")]
    assert store.dead_keys() == [("src", "6")]
    assert store.dead_take("src", "6") == ["hopeless"]
    ids = [json.loads(i)["messageId"] for i in r.lrange(store._keys("dst", "5")[0], 0, -1)]
    assert ids == ["old0", "old1", "new"]  # older items first
    assert store.inflight_release("dst", "5", "lost-task", count=True, only_expired=True) == (1, 0)
    assert dedupe.delivered_filter("ifnd_5", 5, ["done-before", "x"]) == {"done-before"}
    assert not [k for k in r.scan_iter(f"{p}:*") if b"{" not in k and not k.endswith(b":active")]
