"""Dead-letter replay on the real stack: gunicorn, a Celery worker (2 processes), PostgreSQL,
Redis. Events fail for good in the worker, a fixed version is deployed, and a replay
requested over the API runs as a Celery task: every event arrives once, with its messageId."""

from __future__ import annotations

import time

import pytest
import requests
from django.conf import settings
from django.db import connection

from catalog.choices import ResourceType
from catalog.models import FunctionVersion
from runtime.models import DeadLetter
from runtime.services import deployment_apply, deployment_request
from tests.factories import FunctionFactory, InstanceFactory, SourceFactory
from tests.integration.conftest import FAST_POLICY, Sink, _unavailable, redis_url  # noqa: F401
from tests.integration.stack import Stack, database_url
from workspaces.choices import SourceKind
from workspaces.services import access_token_create, membership_ensure

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]

BROKEN = "async function onTrack(event) { throw new TypeError('v1 is broken') }"
FORWARD = """
async function onTrack(event, settings) {
  const res = await fetch(settings.url, {method: 'POST', body: JSON.stringify(event)});
  if (res.status >= 500) throw new RetryError('sink answered ' + res.status);
}
"""


@pytest.fixture(scope="module")
def live(django_db_setup, django_db_blocker, redis_url, tmp_path_factory):  # noqa: F811
    if connection.vendor != "postgresql":
        _unavailable("integration tests need PostgreSQL (set DATABASE_URL)")
    running = Stack(
        database_url=database_url(connection.settings_dict),
        redis_url=redis_url,
        encryption_key=",".join(settings.FIELD_ENCRYPTION_KEY),
        extra_env=FAST_POLICY,
        log_dir=tmp_path_factory.mktemp("stack"),
    ).start()
    yield running
    running.stop()


@pytest.fixture
def sink(httpserver):
    return Sink(httpserver)


def wait_until(check, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    return check()


def test_dead_letters_replayed_by_the_worker_arrive_once(live, sink, workspace, owner):
    source = SourceFactory(workspace=workspace, kind=SourceKind.TRACKING_API)
    function = FunctionFactory(workspace=workspace, resource_type=ResourceType.DESTINATION, code=BROKEN)
    instance = InstanceFactory(function=function, source=source, settings={"url": sink.url})
    batch = [{"type": "track", "event": "e", "userId": "u", "messageId": f"live-dl-{i}"} for i in range(30)]
    response = requests.post(
        f"{live.base_url}/v1/batch", json={"batch": batch}, auth=(source.write_key, ""), timeout=30
    )
    assert response.status_code == 200
    assert wait_until(lambda: DeadLetter.objects.filter(instance=instance).count() == 30)
    assert sink.events() == []

    fixed = FunctionVersion.objects.create(
        function=function, number=function.versions.count() + 1, code=FORWARD
    )
    (deployment,) = deployment_request(
        function=function, version=fixed, instances=[instance], requested_by=owner
    )
    deployment_apply(deployment_id=deployment.pk)
    time.sleep(1.5)  # the workers' instance cache (PIPELINE_LOOKUP_CACHE_S)
    membership_ensure(workspace=workspace, user=owner)
    _, secret = access_token_create(workspace=workspace, user=owner, name="replay")
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {secret}"
    base = f"{live.base_url}/api/function-instances/{instance.public_id}/dead-letters"
    accepted = api.post(f"{base}/replay", json={"category": "bad_request"}, timeout=30)
    assert accepted.status_code == 202, accepted.text
    replay_id = accepted.json()["data"]["replay"]["id"]

    def finished():
        replay = api.get(f"{base}/replays/{replay_id}", timeout=10).json()["data"]["replay"]
        return replay if replay["status"] in ("SUCCEEDED", "FAILED") else None

    replay = wait_until(finished, timeout=90)
    assert replay and replay["status"] == "SUCCEEDED", replay
    assert (replay["total"], replay["processed"], replay["delivered"], replay["failed"]) == (30, 30, 30, 0)
    events = sink.wait_for(30, settle=1.0)
    assert sorted(e["messageId"] for e in events) == sorted(m["messageId"] for m in batch)  # once each
    assert api.get(base, timeout=10).json()["data"]["deadLetters"] == []
