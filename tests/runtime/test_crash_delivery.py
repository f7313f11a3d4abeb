"""A host crash charged to a destination function ends its event in the dead letters at once,
through the real pipeline (eager, as in tests/pipeline) and the real sandbox host.

The function's call is killed with SIGABRT twice while it runs, as a native abort without a
crash record would (docs/sandbox.md, "Host crashes"): the sandbox replays it alone once, then
charges it `Crash` (attributed). The pipeline must not retry that as a platform fault.
"""

import base64
import json
import os
import signal
import threading

import pytest
from django.test import override_settings

from catalog.choices import ResourceType
from runtime.models import DeadLetter
from runtime.sandbox.django import sandbox
from tests.factories import FunctionFactory, InstanceFactory, SourceFactory
from workspaces.choices import SourceKind

from .test_containment_crashes import host_running

pytestmark = pytest.mark.django_db(transaction=True)

SLOW = "async function onTrack(){ await new Promise((r) => setTimeout(r, 1500)); return 'slow done' }"


def abort_twice(s, out):
    try:
        first = host_running(s, 1, timeout_s=20)
        os.kill(first, signal.SIGABRT)
        os.kill(host_running(s, 1, old=first, timeout_s=20), signal.SIGABRT)
        out.append("aborted")
    except AssertionError as e:
        out.append(str(e))


@override_settings(DELIVERY_RETRY_BASE_S=0.001, DELIVERY_RETRY_CAP_S=0.002, DELIVERY_RETRY_WINDOW_S=60)
def test_a_charged_crash_is_dead_lettered_and_not_run_again(client, workspace):
    source = SourceFactory(workspace=workspace, name="Web", kind=SourceKind.TRACKING_API)
    function = FunctionFactory(workspace=workspace, resource_type=ResourceType.DESTINATION, code=SLOW)
    crasher = InstanceFactory(function=function, source=source, name="aborts")
    s = sandbox()
    s.ping()
    killed = []
    killer = threading.Thread(target=abort_twice, args=(s, killed))
    killer.start()
    event = {"type": "track", "event": "e", "userId": "u", "messageId": "crash-1"}
    resp = client.post(
        "/v1/batch",
        data=json.dumps({"batch": [event]}),
        content_type="application/json",
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"{source.write_key}:".encode()).decode(),
    )
    killer.join(30)
    assert resp.status_code == 200, resp.content
    assert killed == ["aborted"]
    letter = DeadLetter.objects.get(instance=crasher, message_id="crash-1")
    assert letter.error_type == "Crash" and "twice" in letter.error_message
    # Not retried: a retry would have run on the third host, unharmed, and been delivered.
    assert s.pid is not None
    s.release_quarantine()
