"""Pipeline fixtures: a tracking source, a webhook source function and destinations whose code
posts what they receive to a local HTTP sink (pytest-httpserver), all run eagerly on SQLite."""

import json
import os
import uuid

import pytest
import redis
from django.test import override_settings

from catalog.choices import ResourceType
from tests.factories import FunctionFactory, InstanceFactory, SourceFactory
from workspaces.choices import SourceKind

SINK_DESTINATION = """
async function onTrack(event, settings) { return post(event, settings) }
async function onIdentify(event, settings) { return post(event, settings) }
async function post(event, settings) {
  const res = await fetch(settings.url, {method: 'POST', headers: {'content-type': 'application/json'},
                                         body: JSON.stringify(event)});
  if (res.status >= 500) throw new RetryError('sink said ' + res.status);
  return res.status;
}
"""

SOURCE_CODE = """
async function onRequest(request, settings) {
  const body = request.json();
  for (const item of body.items || []) {
    Segment.track({event: item.name, userId: item.user, properties: {via: request.headers.get('x-via')}});
  }
  if (body.retry) throw new RetryError('later');
  if (body.boom) throw new TypeError('boom');
}
"""


@pytest.fixture
def pipeline_redis(settings):
    """A client of the real Redis of REDIS_URL, the pipeline's keys under a prefix of their own
    (plain and hash-tagged), removed afterwards. Missing Redis fails under REQUIRE_SERVICES=1."""
    url = os.environ.get("REDIS_URL")
    if not url:
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail("REDIS_URL is not set")
        pytest.skip("REDIS_URL is not set")
    settings.PIPELINE_REDIS_URL = url
    settings.PIPELINE_KEY_PREFIX = prefix = f"t{uuid.uuid4().hex[:10]}"
    client = redis.Redis.from_url(url)
    yield client
    for pattern in (f"{prefix}:*", f"{{{prefix}:*"):
        keys = list(client.scan_iter(pattern))
        if keys:
            client.delete(*keys)


@pytest.fixture(autouse=True)
def _fast_retries():
    # Eager tasks ignore countdowns; tiny delays keep the retry policy's arithmetic real.
    with override_settings(
        DELIVERY_RETRY_BASE_S=0.001,
        DELIVERY_RETRY_CAP_S=0.002,
        DELIVERY_RETRY_WINDOW_S=60,
        SOURCE_RETRY_FIRST_MIN_S=0.001,
        SOURCE_RETRY_FIRST_MAX_S=0.002,
        SOURCE_RETRY_CAP_S=0.002,
    ):
        yield


@pytest.fixture
def tracking_source(workspace):
    return SourceFactory(workspace=workspace, name="Web", kind=SourceKind.TRACKING_API)


def make_function(workspace, code, kind=ResourceType.DESTINATION, **fields):
    return FunctionFactory(workspace=workspace, resource_type=kind, code=code, **fields)


@pytest.fixture
def sink(httpserver):
    httpserver.expect_request("/sink", method="POST").respond_with_json({"ok": True})
    return httpserver


def sink_events(httpserver) -> list[dict]:
    return [json.loads(req.get_data()) for req, _ in httpserver.log if req.path == "/sink"]


@pytest.fixture
def destination(workspace, tracking_source, sink):
    function = make_function(workspace, SINK_DESTINATION, display_name="Sink Forwarder")
    return InstanceFactory(
        function=function, source=tracking_source, name="to sink", settings={"url": sink.url_for("/sink")}
    )


@pytest.fixture
def source_function_instance(workspace, sink):
    function = make_function(workspace, SOURCE_CODE, kind=ResourceType.SOURCE, display_name="Hook In")
    instance = InstanceFactory(function=function, name="hook in")
    dest_fn = make_function(workspace, SINK_DESTINATION, display_name="Hook Out")
    InstanceFactory(
        function=dest_fn, source=instance.source, name="hook out", settings={"url": sink.url_for("/sink")}
    )
    return instance
