"""Segment's preinstalled libraries on the real stack: an event through the Tracking API, the
Celery worker and the Node sandbox, to a destination function that calls Stripe and AWS
with their SDKs, unmodified, against a local server standing in for both vendors."""

from __future__ import annotations

import time

import pytest
import requests

from catalog.choices import ResourceType
from tests.factories import FunctionFactory, InstanceFactory, SourceFactory, WorkspaceFactory
from tests.runtime.vendor import start_vendor
from workspaces.choices import SourceKind

pytestmark = pytest.mark.django_db(transaction=True)

CODE = """
async function onTrack(event, settings) {
  const client = stripe(settings.stripeKey, { host: '127.0.0.1', port: settings.port, protocol: 'http' });
  await client.customers.create({ email: event.properties.email, metadata: { order: event.properties.order } });
  const kinesis = new AWS.Kinesis({ endpoint: settings.awsEndpoint, region: 'us-east-1',
    accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey });
  await kinesis.putRecord({ StreamName: 'orders', PartitionKey: event.userId, Data: JSON.stringify(event.properties) }).promise();
}
"""


@pytest.fixture
def vendor():
    v = start_vendor()
    yield v
    v.close()


def test_sdk_calls_from_a_delivered_event(stack, vendor):
    workspace = WorkspaceFactory(slug="modules-live")
    source = SourceFactory(workspace=workspace, kind=SourceKind.TRACKING_API)
    function = FunctionFactory(workspace=workspace, resource_type=ResourceType.DESTINATION, code=CODE)
    settings = {
        "stripeKey": "sk_live_pipeline",
        "port": vendor.port,
        "awsEndpoint": vendor.url,
        "accessKeyId": "AKIDPIPE",
        "secretAccessKey": "secret",
    }
    InstanceFactory(function=function, source=source, settings=settings)
    event = {
        "type": "track",
        "event": "Order Completed",
        "userId": "u9",
        "messageId": "m-modules-1",
        "properties": {"email": "buyer@example.com", "order": "o-1"},
    }
    resp = requests.post(
        f"{stack.base_url}/v1/batch", json={"batch": [event]}, auth=(source.write_key, ""), timeout=10
    )
    assert resp.status_code == 200, resp.text
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(vendor.seen) < 2:
        time.sleep(0.05)
    stripe_req, aws_req = vendor.seen[:2]
    assert (
        stripe_req.path == "/v1/customers"
        and stripe_req.headers["authorization"] == "Bearer sk_live_pipeline"
    )
    assert stripe_req.body == b"email=buyer%40example.com&metadata[order]=o-1"
    assert aws_req.headers["x-amz-target"] == "Kinesis_20131202.PutRecord"
    assert aws_req.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDPIPE/")
