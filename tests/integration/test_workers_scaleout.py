"""Scale-out: two Celery workers (two "machines"), each with its own sandbox hosts, share one
pipeline; one is SIGKILLed mid-run and every accepted event is still delivered."""

from __future__ import annotations

import signal
import time

import pytest
import requests
from django.conf import settings
from django.db import connection

from catalog.choices import ResourceType
from tests.factories import FunctionFactory, InstanceFactory, SourceFactory, WorkspaceFactory
from tests.integration.conftest import FAST_POLICY
from tests.integration.stack import Stack, _killpg, database_url, sandbox_hosts
from workspaces.choices import SourceKind

pytestmark = pytest.mark.django_db(transaction=True)

FORWARD = """
async function onBatch(events, settings) {
  await new Promise(resolve => setTimeout(resolve, 100));
  const res = await fetch(settings.url, {method: 'POST', body: JSON.stringify(events)});
  if (res.status >= 500) throw new RetryError('sink ' + res.status);
  return events.map(() => ({status: 200}));
}
"""


@pytest.fixture
def two_workers(django_db_setup, redis_url, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    stack = Stack(
        database_url=database_url(connection.settings_dict),
        redis_url=redis_url,
        encryption_key=",".join(settings.FIELD_ENCRYPTION_KEY),
        extra_env=FAST_POLICY,
        log_dir=tmp_path,
    ).start()
    first = stack.worker
    stack.worker_start()
    workers = [first, stack.worker]
    yield stack, workers
    for worker in workers:
        _killpg(worker, signal.SIGKILL)
    stack.worker = None
    stack.stop()


def test_two_workers_lose_nothing_when_one_dies(two_workers, sink):
    stack, (doomed, survivor) = two_workers
    sink.answer = lambda body: [{"status": 200}] * len(body)
    source = SourceFactory(workspace=WorkspaceFactory(), kind=SourceKind.TRACKING_API)
    function = FunctionFactory(
        workspace=source.workspace, resource_type=ResourceType.DESTINATION, code=FORWARD, batch_max_count=10
    )
    InstanceFactory(function=function, source=source, settings={"url": sink.url})
    ids: list[str] = []

    def send(count: int) -> None:
        batch = [
            {"type": "track", "event": "e", "userId": "u", "messageId": f"two-{len(ids) + i}"}
            for i in range(count)
        ]
        resp = requests.post(
            f"{stack.base_url}/v1/batch", json={"batch": batch}, auth=(source.write_key, ""), timeout=15
        )
        assert resp.status_code == 200, resp.text
        ids.extend(e["messageId"] for e in batch)

    # Keep work coming until both workers have run functions (each in its own sandbox hosts).
    deadline = time.monotonic() + 120
    hosts: dict = {}
    while time.monotonic() < deadline:
        send(20)
        hosts = {w.pid: sandbox_hosts(w.pid) for w in (doomed, survivor)}
        if all(hosts.values()):
            break
        time.sleep(0.3)
    assert all(hosts.values()), f"each worker runs functions in its own sandbox hosts: {hosts}"
    assert not set(hosts[doomed.pid]) & set(hosts[survivor.pid])
    for _ in range(5):
        send(100)  # queued behind the doomed worker's prefetch and in-flight batches
    _killpg(doomed, signal.SIGKILL)  # one machine gone, mid-run
    # Up to PIPELINE_CLAIM_TTL_S (120 s) for a batch the dead worker had claimed.
    received = sink.wait_for_ids(ids, timeout=180)
    assert received == set(ids)
    assert survivor.poll() is None
