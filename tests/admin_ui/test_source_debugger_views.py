"""The source debugger's admin views: who sees what (headers and webhook URLs for Source Admins
only), the live JSON's shape, and the source pages' counts and links."""

import json

import pytest
from django.urls import reverse

from catalog.choices import ResourceType
from runtime.debugger import recorder, store
from tests.factories import FunctionFactory, InstanceFactory

pytestmark = pytest.mark.django_db
CODE = "async function onRequest(request) { Segment.track({event: 'Hi', userId: 'u'}) }"


@pytest.fixture(autouse=True)
def _clean_store(settings):
    settings.PIPELINE_KEY_PREFIX = "fp-test-dbg-views"
    store.backend().clear(store.prefix())
    yield
    store.backend().clear(store.prefix())


@pytest.fixture
def hook(workspace):
    function = FunctionFactory(workspace=workspace, resource_type=ResourceType.SOURCE, code=CODE)
    return InstanceFactory(function=function, name="hooks")


def post_hook(client, hook):
    return client.post(
        f"/hooks/{hook.source.webhook_token}",
        data=json.dumps({"hello": "world"}),
        content_type="application/json",
        HTTP_X_SHOP="demo",
    )


def data_url(source, **query):
    url = reverse("admin:runtime_source_debugger_data", args=[source.pk])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def test_source_admin_sees_headers_and_url(client, personas, hook):
    assert post_hook(client, hook).status_code == 200
    client.force_login(personas["source_admin"])
    listing = client.get(data_url(hook.source)).json()
    assert listing["canManage"] is True
    [summary] = listing["requests"]
    assert summary["run"]["status"] == "success" and summary["eventCount"] == 1
    assert listing["counts"] == {"requests": 1, "events": 1, "errors": 0}
    full = client.get(data_url(hook.source, request=summary["id"])).json()["request"]
    assert hook.source.webhook_token in full["payload"]["url"]
    assert ["X-Shop", "demo"] in full["payload"]["headers"]


def test_readers_get_the_body_but_no_headers_or_url(client, personas, hook):
    post_hook(client, hook)
    client.force_login(personas["read_only"])
    listing = client.get(data_url(hook.source)).json()
    assert listing["canManage"] is False
    full = client.get(data_url(hook.source, request=listing["requests"][0]["id"])).json()["request"]
    assert full["payload"]["headers"] == [] and full["payload"]["headersHidden"] is True
    assert hook.source.webhook_token not in json.dumps(full)
    assert json.loads(full["payload"]["body"]) == {"hello": "world"}


def test_out_of_scope_is_404_and_gone_requests_say_so(client, personas, hook):
    post_hook(client, hook)
    client.force_login(personas["functions_admin"])  # no access to sources
    assert client.get(data_url(hook.source)).status_code == 404
    client.force_login(personas["owner"])
    assert client.get(data_url(hook.source, request="nope")).status_code == 404


def test_instance_page_traffic_tab_and_source_page_link(client, personas, hook, source):
    post_hook(client, hook)
    client.force_login(personas["owner"])
    page = client.get(reverse("admin:runtime_functioninstance_change", args=[hook.pk])).content.decode()
    assert 'id="fn-traffic-tab"' in page and 'id="fn-traffic-requests"><strong>1</strong>' in page
    assert reverse("admin:runtime_source_debugger", args=[hook.source.pk]) in page
    recorder.tracking_request_record(
        source_id=source.pk,
        request_id="r1",
        at="2026-01-01T00:00:00.000Z",
        call="track",
        payload={},
        messages=[],
    )
    page = client.get(reverse("admin:workspaces_source_change", args=[source.pk])).content.decode()
    assert reverse("admin:runtime_source_debugger", args=[source.pk]) in page
    assert "7 days: 1 requests, 0 events, 0 errors" in page
    debugger = client.get(reverse("admin:runtime_source_debugger", args=[source.pk]))
    assert debugger.status_code == 200 and b'id="fn-debugger-config"' in debugger.content


def test_editor_sources_lists_the_functions_own_first(client, personas, hook, source):
    client.force_login(personas["owner"])
    url = reverse("admin:runtime_source_debugger_sources", args=[hook.function.pk])
    sources = client.get(url).json()["sources"]
    assert sources[0]["id"] == hook.source.pk and sources[0]["own"] is True
    assert source.pk in [s["id"] for s in sources]
    client.force_login(personas["functions_admin"])  # reads the function, not the sources
    assert client.get(url).json()["sources"] == []
