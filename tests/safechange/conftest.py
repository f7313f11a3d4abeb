"""Safe-change fixtures: a destination whose versions post to a local HTTP sink, tagged by
version, so a test can tell which version delivered each event."""

import json
import uuid

import pytest
from django.utils import timezone

from catalog.services import function_save
from runtime.models import FunctionInstance

# Fixtures of other suites these tests use: API clients per persona, the browser, the live stack.
from tests.admin_ui.conftest import httpserver_listen_address  # noqa: F401
from tests.api.conftest import api_as, token_for  # noqa: F401
from tests.factories import FunctionFactory, InstanceFactory, SourceFactory
from tests.integration.conftest import redis_url, stack  # noqa: F401
from workspaces.choices import SourceKind

TAGGED = """
async function onTrack(event, settings) {
  %(guard)s
  await fetch(settings.url, {method: 'POST', headers: {'content-type': 'application/json'},
                             body: JSON.stringify({v: '%(tag)s', id: event.messageId})});
}
"""
# Throws on about one event in five, chosen by messageId (the same events on every run).
THROWS_20 = (
    "if (parseInt(event.messageId.slice(-4), 16) % 5 === 0) throw new Error('boom ' + event.messageId);"
)


def code(tag: str, guard: str = "") -> str:
    return TAGGED % {"tag": tag, "guard": guard}


def events(n: int) -> list[dict]:
    now = timezone.now().isoformat()
    return [
        {
            "type": "track",
            "event": "Signed Up",
            "userId": f"u{i}",
            "messageId": uuid.uuid4().hex,
            "receivedAt": now,
        }
        for i in range(n)
    ]


@pytest.fixture
def sink(httpserver):
    httpserver.expect_request("/sink", method="POST").respond_with_json({"ok": True})
    return httpserver


def sink_hits(httpserver) -> list[dict]:
    return [json.loads(req.get_data()) for req, _ in httpserver.log if req.path == "/sink"]


@pytest.fixture
def tracking_source(workspace):
    return SourceFactory(workspace=workspace, name="Web", kind=SourceKind.TRACKING_API)


@pytest.fixture
def dest(workspace, tracking_source, sink, owner):
    """(instance on v1, v2 that throws on 20 % of events, v3 that is healthy)."""
    function = FunctionFactory(workspace=workspace, code=code("v1"), display_name="Tagged")
    instance = InstanceFactory(
        function=function, source=tracking_source, name="tagged", settings={"url": sink.url_for("/sink")}
    )
    v1 = function.latest_version
    v2 = function_save(function=function, author=owner, code=code("v2", THROWS_20))
    v3 = function_save(function=function, author=owner, code=code("v3"))
    return FunctionInstance.objects.get(pk=instance.pk), v1, v2, v3


@pytest.fixture(autouse=True)
def _own_recorder_keys(settings):
    # The source debugger's recorder (what replays read) keeps traffic in Redis across test runs,
    # under source ids the next run reuses: these tests get keys of their own, emptied each time.
    from runtime.debugger import store

    settings.PIPELINE_KEY_PREFIX = "fp-test-safechange"
    store.backend().clear(store.prefix())
    yield
    store.backend().clear(store.prefix())
