"""The request inspector: masking, the HTTP endpoint, retention, and functions' fetches answered by
the sandbox host and recorded (through the pipeline and the editor's test run), the demo data."""

import base64
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse

from catalog.choices import ResourceType
from runtime.choices import InspectedSender
from runtime.inspector.masking import MASK, request_mask, secret_name
from runtime.inspector.services import host_rules, inspector_for
from runtime.models import FunctionInstance, InspectedRequest
from runtime.selectors import delivery_summary
from tests.factories import FunctionFactory, InstanceFactory, SourceFactory
from workspaces.choices import SourceKind

pytestmark = pytest.mark.django_db

POSTING = """
async function onTrack(event, settings) {
  const res = await fetch(settings.endpoint + '/collect?api_key=' + settings.apiKey + '&page=2', {
    method: 'POST',
    headers: {'Content-Type': 'application/json', Authorization: 'Bearer ' + settings.apiKey, 'X-Custom': 'v-' + settings.apiKey},
    body: JSON.stringify({event: event.event, token: 'tok-in-body', nested: {note: 'key ' + settings.apiKey}}),
  });
  return res.status;
}
"""
SECRET = "sk_live_inspector_5xq"


def basic(write_key):
    return "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()


# --- masking ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,secret",
    [
        ("Authorization", True),
        ("X-Api-Key", True),
        ("api_key", True),
        ("apiKey", True),
        ("APIKEY", True),
        ("accessToken", True),
        ("Stripe-Signature", True),
        ("Set-Cookie", True),
        ("password", True),
        ("writeKey", True),
        ("Content-Type", False),
        ("User-Agent", False),
        ("apiVersion", False),
        ("capital", False),
        ("event", False),
    ],
)
def test_secret_names(name, secret):
    assert secret_name(name) is secret


def test_request_mask_covers_headers_url_bodies_and_known_values():
    masked = request_mask(
        method="post",
        url="https://user:pw@api.test/v1/x?api_key=abc123&page=2&q=hello%20world",
        headers=[["Authorization", "Basic dXNlcjpwdw=="], ["X-Echo", f"has {SECRET}"], ["Accept", "*/*"]],
        body=json.dumps({"password": "p4ss", "list": [{"token": 7}], "note": f"x{SECRET}y", "flag": True}),
        base64=False,
        secrets=[SECRET, "ab"],  # too short to search for
    )
    assert masked["method"] == "POST"
    assert masked["url"] == f"https://api.test/v1/x?api_key={MASK}&page=2&q=hello+world"
    assert masked["headers"] == [
        ["Authorization", f"Basic {MASK}"],
        ["X-Echo", f"has {MASK}"],
        ["Accept", "*/*"],
    ]
    assert json.loads(masked["body"]) == {
        "password": MASK,
        "list": [{"token": MASK}],
        "note": f"x{MASK}y",
        "flag": True,
    }
    form = request_mask(
        method="POST",
        url="http://h/",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body="client_secret=s3&name=Jane+Doe",
        base64=False,
    )
    assert form["body"] == f"client_secret={MASK}&name=Jane+Doe"
    assert (
        request_mask(method="GET", url="http://h/", headers=[], body="plain text", base64=False)["body"]
        == "plain text"
    )
    # A JSON body cut at 64 KiB does not parse: credential-named pairs are masked in the text.
    cut = request_mask(
        method="POST",
        url="http://h/",
        headers=[["content-type", "application/json"]],
        body='{"event": "x", "apiKey": "k1", "n": {"token": 12}, "password": "unterminat',
        base64=False,
    )
    assert (
        cut["body"] == f'{{"event": "x", "apiKey": "{MASK}", "n": {{"token": "{MASK}"}}, "password": "{MASK}"'
    )


# --- the HTTP endpoint --------------------------------------------------------------------------


def test_endpoint_keeps_any_method_masked_and_answers(client, workspace):
    inspector = inspector_for(workspace=workspace)
    response = client.put(
        f"/inspect/{inspector.token}/orders/7?x=1",
        data=json.dumps({"id": 7, "secret": "s"}),
        content_type="application/json",
        HTTP_AUTHORIZATION="Bearer abc",
    )
    assert response.status_code == 200 and response.json() == {"ok": True}
    assert client.get(f"/inspect/{inspector.token}").status_code == 200
    latest, first = InspectedRequest.objects.filter(inspector=inspector)
    assert (latest.method, first.method) == ("GET", "PUT")
    assert first.sender == InspectedSender.HTTP and first.instance is None
    assert first.url.endswith(f"/inspect/{inspector.token}/orders/7?x=1")
    assert dict(first.headers)["Authorization"] == f"Bearer {MASK}"
    assert json.loads(first.body) == {"id": 7, "secret": MASK}
    assert "Content-Security-Policy" not in response  # a machine endpoint, like /hooks/


def test_endpoint_refuses_unknown_tokens_and_large_bodies(client, workspace):
    assert client.post("/inspect/not-a-token", data="{}", content_type="application/json").status_code == 404
    inspector = inspector_for(workspace=workspace)
    big = client.post(f"/inspect/{inspector.token}", data=b"x" * (512 * 1024 + 1), content_type="text/plain")
    assert big.status_code == 413
    binary = client.post(
        f"/inspect/{inspector.token}", data=b"\x00\xff\x10", content_type="application/octet-stream"
    )
    assert binary.status_code == 200
    row = InspectedRequest.objects.get(inspector=inspector)
    assert (row.body_base64, row.body, row.size) == (True, base64.b64encode(b"\x00\xff\x10").decode(), 3)


@override_settings(INSPECTOR_KEEP=3)
def test_retention_keeps_the_newest_per_workspace(client, workspace, other_workspace):
    mine, theirs = inspector_for(workspace=workspace), inspector_for(workspace=other_workspace)
    client.post(f"/inspect/{theirs.token}/keep", data="{}", content_type="application/json")
    for n in range(5):
        client.post(f"/inspect/{mine.token}/n{n}", data="{}", content_type="application/json")
    kept = [r.url.rsplit("/", 1)[1] for r in InspectedRequest.objects.filter(inspector=mine)]
    assert kept == ["n4", "n3", "n2"]
    assert InspectedRequest.objects.filter(inspector=theirs).count() == 1


# --- functions' fetches: answered by the host, recorded from the call ---------------------------


@pytest.fixture
def inspector_destination(workspace):
    inspector = inspector_for(workspace=workspace)
    source = SourceFactory(workspace=workspace, name="Web", kind=SourceKind.TRACKING_API)
    function = FunctionFactory(workspace=workspace, code=POSTING, resource_type=ResourceType.DESTINATION)
    instance = InstanceFactory(
        function=function,
        source=source,
        name="To the inspector",
        settings={"endpoint": inspector.url},
        encrypted_settings=json.dumps({"apiKey": SECRET}),
    )
    return inspector, source, instance


def test_a_delivery_to_the_inspector_is_answered_and_kept_without_network(client, inspector_destination):
    inspector, source, instance = inspector_destination
    assert host_rules()[0]["prefix"].endswith("/inspect/")
    sent = client.post(
        "/v1/track",
        data=json.dumps({"event": "Order Completed", "userId": "u1"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=basic(source.write_key),
    )
    assert sent.status_code == 200
    row = InspectedRequest.objects.get(inspector=inspector)
    assert row.sender == InspectedSender.FUNCTION and row.instance == instance
    assert row.method == "POST"
    assert row.url == f"{inspector.url}/collect?api_key={MASK}&page=2"
    headers = dict(row.headers)
    assert headers["authorization"] == f"Bearer {MASK}"
    assert headers["x-custom"] == f"v-{MASK}"  # an encrypted setting's value, wherever it is
    assert json.loads(row.body) == {
        "event": "Order Completed",
        "token": MASK,
        "nested": {"note": f"key {MASK}"},
    }
    assert SECRET not in json.dumps([row.url, row.headers, row.body])
    assert delivery_summary(instance=instance)["delivered"] == 1  # the 200 came from the host


def test_a_fetch_to_an_unknown_inspector_token_is_answered_but_kept_nowhere(
    client, workspace, inspector_destination
):
    inspector, source, instance = inspector_destination
    instance.settings = {"endpoint": inspector.url.replace(inspector.token, "no-such-token")}
    instance.save()
    client.post(
        "/v1/track",
        data=json.dumps({"event": "E", "userId": "u1"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=basic(source.write_key),
    )
    assert not InspectedRequest.objects.exists()


def test_editor_test_run_shows_the_masked_capture_and_keeps_it(client, owner, function, workspace):
    inspector = inspector_for(workspace=workspace)
    client.force_login(owner)
    response = client.post(
        reverse("admin:catalog_function_test"),
        data=json.dumps(
            {
                "function": function.pk,
                "code": POSTING,
                "payload": {"type": "track", "event": "Tested"},
                "settings": {"endpoint": inspector.url, "apiKey": SECRET},
            }
        ),
        content_type="application/json",
    )
    result = response.json()
    assert result["status"] == "success", result
    [capture] = result["captured"]
    assert capture["kept"] is True and capture["tag"] == "inspector"
    assert dict(capture["headers"])["authorization"] == f"Bearer {MASK}"
    assert SECRET not in response.content.decode()
    assert result["requests"][0]["answered"] == "inspector"
    row = InspectedRequest.objects.get(inspector=inspector)
    assert row.sender == InspectedSender.TEST and SECRET not in row.url + row.body + json.dumps(row.headers)


def test_demo_data_delivers_to_its_inspector(client):
    call_command("load_demo", base_url="http://127.0.0.1:8000", stdout=StringIO())
    forwarder = FunctionInstance.objects.get(name="Demo forwarder")
    inspector = forwarder.function.workspace.request_inspector
    assert forwarder.settings["endpoint"] == f"{inspector.url}/collect"
    hook = FunctionInstance.objects.get(name="Demo webhook source").source
    response = client.post(
        f"/hooks/{hook.webhook_token}",
        data=json.dumps({"event": "Order Completed", "userId": "u-1", "properties": {"total": 42}}),
        content_type="application/json",
    )
    assert response.status_code == 200
    row = InspectedRequest.objects.get(inspector=inspector)
    assert row.instance == forwarder and json.loads(row.body)["event"] == "Order Completed"
    assert dict(row.headers)["authorization"] == f"Basic {MASK}"
    # Run again on older demo data that pointed at example.com: moved to the inspector.
    forwarder.settings = {"endpoint": "https://example.com/collect"}
    forwarder.save()
    call_command("load_demo", base_url="http://127.0.0.1:8000", stdout=StringIO())
    forwarder.refresh_from_db()
    assert forwarder.settings["endpoint"] == f"{inspector.url}/collect"
    assert forwarder.secret_values() == {"apiKey": "demo-secret"}
