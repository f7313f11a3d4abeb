"""The editor's Run with Segment's preinstalled libraries: the code runs unmodified and the
request trace shows the SDK's calls (test settings allow 127.0.0.1)."""

import json

import pytest
from django.urls import reverse

from tests.runtime.vendor import start_vendor

CODE = """
async function onTrack(event, settings) {
  const client = twilio(settings.accountSid, settings.authToken);
  client.api.baseUrl = settings.baseUrl;
  const message = await client.messages.create({ to: '+15555550100', from: '+15555550101', body: event.event });
  console.log('sent', message.sid);
  return message.status;
}
"""


@pytest.fixture
def vendor():
    v = start_vendor()
    yield v
    v.close()


def test_editor_run_calls_twilio(login, owner, function, vendor):
    body = {
        "code": CODE,
        "resourceType": "DESTINATION",
        "payload": {"type": "track", "event": "Order Shipped"},
        "settings": {"accountSid": "AC" + "1" * 32, "authToken": "tok", "baseUrl": vendor.url},
        "function": function.pk,
    }
    url = reverse("admin:catalog_function_test")
    response = login(owner).post(url, json.dumps(body), content_type="application/json")
    result = response.json()
    assert response.status_code == 200 and result["status"] == "success", result
    assert result["returned"] == "queued" and result["logs"][0]["message"] == "sent SM1"
    assert [(r["method"], r["status"]) for r in result["requests"]] == [("POST", 201)]
    assert vendor.seen[0].body == b"To=%2B15555550100&From=%2B15555550101&Body=Order%20Shipped"
