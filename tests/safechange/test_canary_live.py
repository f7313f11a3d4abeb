"""The canary's automatic rollback on the real stack: gunicorn, a 2-process Celery worker,
Redis buffers, PostgreSQL and the Node sandbox. A version that throws on 20 % of events is
rolled back with nobody acting, and every event sent reaches the sink exactly once."""

from __future__ import annotations

import time
import uuid
from collections import Counter

import pytest
import requests

from catalog.services import function_save
from runtime.canary import services as canary_services
from runtime.canary.choices import CanaryStatus
from runtime.canary.models import Canary
from runtime.models import FunctionInstance
from tests.factories import FunctionFactory, InstanceFactory, SourceFactory, UserFactory, WorkspaceFactory
from tests.integration.conftest import Sink
from workspaces.choices import AuditAction, SourceKind
from workspaces.models import AuditEvent

from .conftest import THROWS_20

pytestmark = pytest.mark.django_db(transaction=True)

FORWARD = """
async function onTrack(event, settings) {
  %s
  const res = await fetch(settings.url, {method: 'POST', headers: {'content-type': 'application/json'},
                                         body: JSON.stringify({v: '%s', messageId: event.messageId})});
  if (res.status >= 500) throw new RetryError('sink answered ' + res.status);
}
"""


@pytest.fixture
def live_sink(httpserver):
    return Sink(httpserver)


def post_batch(live, source, events):
    resp = requests.post(
        f"{live.base_url}/v1/batch", json={"batch": events}, auth=(source.write_key, ""), timeout=10
    )
    assert resp.status_code == 200, resp.text


def test_a_canary_throwing_on_a_fifth_of_events_is_rolled_back_live(stack, live_sink):
    workspace = WorkspaceFactory(slug="canary-live")
    source = SourceFactory(workspace=workspace, kind=SourceKind.TRACKING_API)
    function = FunctionFactory(workspace=workspace, code=FORWARD % ("", "v1"))
    instance = InstanceFactory(function=function, source=source, settings={"url": live_sink.url})
    author = UserFactory(username="canary-author")
    v1 = function.latest_version
    v2 = function_save(function=function, author=author, code=FORWARD % (THROWS_20, "v2"))
    canary = canary_services.canary_start(
        instance=instance, version=v2, percent=50, max_events=100_000, requested_by=author
    )
    sent = []
    for _ in range(8):
        batch = [
            {"type": "track", "event": "Paid", "userId": "u", "messageId": uuid.uuid4().hex}
            for _ in range(75)
        ]
        sent += [e["messageId"] for e in batch]
        post_batch(stack, source, batch)
        time.sleep(0.3)
    received = live_sink.wait_for(len(sent), timeout=120, settle=2.0)
    canary.refresh_from_db()
    assert canary.status == CanaryStatus.ROLLED_BACK, canary.figures
    assert canary.decided_by is None and canary.figures["new"]["errorRate"] > 5
    # No event lost, none delivered twice, across the switch.
    counts = Counter(e["messageId"] for e in received)
    assert set(counts) == set(sent) and max(counts.values()) == 1
    versions = Counter(e["v"] for e in received)
    assert versions["v2"] > 0 and versions["v1"] > versions["v2"]
    assert FunctionInstance.objects.get(pk=instance.pk).deployed_version == v1
    assert not Canary.objects.filter(instance=instance, status=CanaryStatus.ACTIVE).exists()
    assert AuditEvent.objects.filter(action=AuditAction.CANARY_ROLLED_BACK, actor=None).count() == 1
