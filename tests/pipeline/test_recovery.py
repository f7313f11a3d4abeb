"""In-flight batches under faults, on a real Redis: leases, give-back, the sweep, dead letters,
and the atomic per-destination claim of messageIds (concurrent tasks deliver once)."""

import threading
import time

import pytest

from runtime.choices import ErrorCategory, PipelineStage
from runtime.models import DeadLetter
from runtime.pipeline import dedupe, queue, recovery, store
from runtime.sandbox import SandboxUnavailable
from runtime.selectors import delivery_summary

pytestmark = pytest.mark.django_db


@pytest.fixture
def buffered(pipeline_redis, settings, monkeypatch):
    """The store on the real Redis of REDIS_URL, under a key prefix of its own."""
    settings.PIPELINE_INFLIGHT_MAX_ATTEMPTS = 2
    monkeypatch.setattr(store, "buffered", lambda: True)
    scheduled = []
    monkeypatch.setattr(recovery, "flush_schedule", lambda stage, key, now: scheduled.append((stage, key)))
    monkeypatch.setattr(queue, "flush_schedule", lambda stage, key, now: scheduled.append((stage, key)))
    return scheduled


def push(key, n, stage="dst"):
    store.buffer_push(stage, str(key), [{"messageId": f"m{i}", "n": i} for i in range(n)], batch=100)


def buffer_ids(key, stage="dst"):
    raw = store.client().lrange(store._keys(stage, str(key))[0], 0, -1)
    return [__import__("json").loads(r)["messageId"] for r in raw]


def test_a_failing_batch_goes_back_to_the_front_of_its_buffer(buffered, instance):
    push(instance.pk, 3)
    calls = []

    def handler(items):
        calls.append(len(items))
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        queue.flush("dst", instance.pk, "task-1", handler, limit=2)
    assert calls == [2]
    assert buffer_ids(instance.pk) == ["m0", "m1", "m2"]  # order kept, nothing in flight
    assert store.leases_expired() == []
    assert buffered == [("dst", instance.pk)]  # a flush is on its way again


def test_infrastructure_errors_never_use_up_attempts(buffered, instance):
    push(instance.pk, 1)

    def handler(items):
        raise SandboxUnavailable("node cannot start")

    for _ in range(5):  # far past PIPELINE_INFLIGHT_MAX_ATTEMPTS
        with pytest.raises(SandboxUnavailable):
            queue.flush("dst", instance.pk, "task-1", handler, limit=10)
    assert buffer_ids(instance.pk) == ["m0"]
    assert store.dead_keys() == []


def test_a_lost_tasks_batch_is_recovered_by_the_sweep(buffered, settings, instance):
    settings.PIPELINE_INFLIGHT_LEASE_S = 0.2
    push(instance.pk, 4)
    assert len(store.buffer_drain("dst", str(instance.pk), "dead-task", limit=3)) == 3
    # The task died here: nothing renews its lease.
    assert recovery.pipeline_sweep()["recovered"] == 0  # lease still running
    time.sleep(0.4)
    assert recovery.pipeline_sweep()["recovered"] == 3
    assert buffer_ids(instance.pk) == ["m0", "m1", "m2", "m3"]
    assert ("dst", str(instance.pk)) in buffered


def test_the_sweep_releases_a_lost_tasks_claims(buffered, settings, instance):
    """The task that takes a recovered batch delivers it at once: it does not wait
    PIPELINE_CLAIM_TTL_S for the dead task's messageId claims to lapse."""
    settings.PIPELINE_INFLIGHT_LEASE_S = 0.2
    settings.PIPELINE_CLAIM_TTL_S = 120
    push(instance.pk, 3)
    drained = store.buffer_drain("dst", str(instance.pk), "dead-task", limit=2)
    ids = [e["messageId"] for e in drained]
    assert dedupe.delivery_claim(instance.public_id, instance.pk, ids, "dead-task")[0] == set(ids)
    # A claim another (live) task holds on a message of the batch is not the dead task's.
    store.client().set(dedupe.claim_keys(instance.public_id, [ids[1]])[0], "live", px=120_000)
    time.sleep(0.4)
    assert recovery.pipeline_sweep()["recovered"] == 2
    claimed, busy = dedupe.delivery_claim(instance.public_id, instance.pk, ids, "next-task")
    assert (claimed, busy) == ({ids[0]}, {ids[1]})


def test_a_live_tasks_lease_is_renewed_while_it_works(buffered, settings, instance):
    settings.PIPELINE_INFLIGHT_LEASE_S = 0.3
    push(instance.pk, 2)
    swept = []

    def slow(items):
        time.sleep(0.8)  # well past the lease: only the heartbeat keeps it
        swept.append(recovery.pipeline_sweep()["recovered"])

    queue.flush("dst", instance.pk, "busy-task", slow, limit=10)
    assert swept == [0]
    assert buffer_ids(instance.pk) == []


def test_a_batch_that_keeps_killing_its_worker_ends_in_the_dead_letters(buffered, instance):
    push(instance.pk, 2)
    key = str(instance.pk)
    # Drained, then "redelivered" to the same task id after each crash: one recovery each.
    assert len(store.buffer_drain("dst", key, "t", limit=10)) == 2
    assert len(store.buffer_drain("dst", key, "t", limit=10)) == 2  # recovery 1
    assert len(store.buffer_drain("dst", key, "t", limit=10)) == 2  # recovery 2
    assert store.buffer_drain("dst", key, "t", limit=10) == []  # recovery 3 > 2: dead
    assert recovery.pipeline_sweep()["dead"] == 2
    letters = DeadLetter.objects.filter(instance=instance)
    assert sorted(letters.values_list("message_id", flat=True)) == ["m0", "m1"]
    assert {(d.error_type, d.category, d.stage) for d in letters} == {
        ("WorkerLost", ErrorCategory.INTERNAL, PipelineStage.DESTINATION)
    }
    assert delivery_summary(instance=instance)["failed"] == 2
    assert store.dead_keys() == []


def test_completed_items_forget_their_recoveries(buffered, instance):
    push(instance.pk, 1)
    key = str(instance.pk)
    store.buffer_drain("dst", key, "t", limit=10)
    store.buffer_drain("dst", key, "t", limit=10)  # one recovery counted
    store.buffer_done("dst", key, "t")
    assert store.client().hlen(store._recovery_keys("dst", key)[0]) == 0


def test_claims_let_one_task_deliver_each_message(buffered):
    claimed_a, busy_a = dedupe.delivery_claim("ik", 1, ["m1", "m2"], "A")
    assert (claimed_a, busy_a) == ({"m1", "m2"}, set())
    claimed_b, busy_b = dedupe.delivery_claim("ik", 1, ["m1", "m2", "m3"], "B")
    assert (claimed_b, busy_b) == ({"m3"}, {"m1", "m2"})
    assert dedupe.delivery_claim("ik", 1, ["m1"], "A") == ({"m1"}, set())  # re-entrant (redelivery)
    dedupe.delivery_settle("ik", 1, delivered=["m1"], released=["m2"])
    assert dedupe.delivery_claim("ik", 1, ["m1", "m2"], "B") == ({"m2"}, set())  # m1 delivered


def test_claims_expire_when_their_holder_dies(buffered, settings):
    settings.PIPELINE_CLAIM_TTL_S = 0.2
    dedupe.delivery_claim("ik", 1, ["m1"], "dead")
    assert dedupe.delivery_claim("ik", 1, ["m1"], "B")[1] == {"m1"}
    time.sleep(0.3)
    assert dedupe.delivery_claim("ik", 1, ["m1"], "B")[0] == {"m1"}


def test_concurrent_claims_give_each_message_to_exactly_one_task(buffered):
    ids = [f"c{i}" for i in range(200)]
    won: dict[str, list] = {}
    start = threading.Barrier(8)

    def worker(token):
        start.wait()
        claimed, _ = dedupe.delivery_claim("ik", 1, ids, token)
        won[token] = sorted(claimed)

    threads = [threading.Thread(target=worker, args=(f"T{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [m for claimed in won.values() for m in claimed]
    assert sorted(every) == sorted(ids)  # each id once, none missing
