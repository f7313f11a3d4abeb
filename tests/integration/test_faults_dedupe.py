"""Dedupe under concurrency on the real stack: the same messageIds sent by many clients at once,
and repeated inside one request, reach each destination exactly once."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
import requests

from tests.factories import SourceFactory, WorkspaceFactory
from tests.integration.test_pipeline_live import destination
from workspaces.choices import SourceKind

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.faults]


@pytest.fixture
def workspace():
    return WorkspaceFactory(slug="dedupe")


@pytest.fixture
def tracking(workspace):
    return SourceFactory(workspace=workspace, kind=SourceKind.TRACKING_API)


def test_concurrent_requests_with_the_same_message_ids_deliver_once(stack, workspace, tracking, sink):
    first = destination(workspace, tracking, sink, batch_max_count=20)
    second = destination(workspace, tracking, sink, batch_max_count=7)
    second.settings = {"url": sink.url + "?second"}
    second.save()
    ids = [f"dup-{i}" for i in range(150)]
    # Each request repeats every messageId twice, in its own order: 8 senders at the same moment.
    start = threading.Barrier(8)
    answers = []

    def sender(n):
        order = ids[n * 17 :] + ids[: n * 17]
        batch = [{"type": "track", "event": "e", "userId": "u", "messageId": m} for m in order + order[::-1]]
        start.wait()
        resp = requests.post(
            f"{stack.base_url}/v1/batch", json={"batch": batch}, auth=(tracking.write_key, ""), timeout=30
        )
        answers.append(resp.status_code)

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [200] * 8
    # Wait for both destinations, then a while longer for any copy that should not come.
    sink.wait_for(2 * len(ids), timeout=60, settle=4.0)
    per_destination = {b"": Counter(), b"second": Counter()}
    with sink.lock:
        requests_seen = list(sink.server.log)
    for request, _ in requests_seen:
        per_destination[request.query_string].update([request.get_json()["messageId"]])
    for counts in per_destination.values():
        assert set(counts) == set(ids)
        assert max(counts.values()) == 1, counts.most_common(3)
    assert first.pk != second.pk
