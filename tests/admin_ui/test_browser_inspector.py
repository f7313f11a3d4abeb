"""Browser test: the request inspector as a user meets it, from the editor's test pane to the
inspector's live page, at the two screen sizes the admin must fit."""

import pytest
import requests

from catalog.services import function_create
from runtime.inspector.masking import MASK
from runtime.inspector.services import inspector_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CODE = """
async function onTrack(event, settings) {
  const response = await fetch(settings.endpoint + '/orders', {
    method: 'POST',
    headers: {Authorization: 'Bearer ' + settings.apiKey, 'Content-Type': 'application/json'},
    body: JSON.stringify({order: event.properties.orderId, event: event.event})
  });
  return {status: response.status};
}
"""
SECRET = "sk_live_browser_inspector_9"
NO_HORIZONTAL_SCROLL = "() => document.documentElement.scrollWidth <= window.innerWidth"


def test_test_pane_capture_then_the_live_inspector_page(browser_page, live_server, owner, workspace):
    function = function_create(
        workspace=workspace,
        resource_type="DESTINATION",
        display_name="Orders to the inspector",
        code=CODE,
        settings=[{"label": "Endpoint", "required": True}, {"label": "API Key", "sensitive": True}],
        created_by=owner,
    )
    inspector = inspector_for(workspace=workspace)
    page, login, shot = browser_page
    login(owner)
    page.goto(f"/admin/catalog/function/{function.pk}/change/")

    # The pane offers the workspace's inspector URL; the user copies it into the endpoint setting.
    url = page.inner_text("#fn-test-inspector-url")
    assert url == inspector.url
    page.fill("#fn-test-setting-endpoint", url)
    page.fill("#fn-test-setting-apiKey", SECRET)
    page.select_option("#fn-sample-select", "track")
    page.click("#fn-run")
    page.wait_for_selector("#fn-captured-box:not([hidden])")
    assert "SUCCESS" in page.inner_text("#fn-status")
    capture = page.locator("#fn-captured details.fn-inspected").first
    assert capture.locator("summary").inner_text().startswith("POST")
    assert "/orders" in capture.locator(".fn-inspected-path").inner_text()
    headers = capture.locator(".fn-inspected-headers").inner_text()
    assert f"Bearer {MASK}" in headers and SECRET not in page.content()
    assert '"order": "o-1"' in capture.locator(".fn-inspected-body").inner_text()
    shot("40-inspector-test-pane")

    # The inspector page lists it, and shows a request sent meanwhile without a reload.
    page.click("#fn-open-inspector")
    page.wait_for_selector("#fn-inspector-list details.fn-inspected")
    first = page.locator("#fn-inspector-list details.fn-inspected").first
    assert "Test run" in first.locator("summary").inner_text()
    sent = requests.post(
        f"{live_server.url}/inspect/{inspector.token}/webhooks/stripe",
        json={"type": "charge.succeeded", "api_key": "abc"},
        headers={"Stripe-Signature": "t=1,v1=deadbeef"},
        timeout=10,
    )
    assert sent.status_code == 200
    page.wait_for_function(
        "() => document.querySelectorAll('#fn-inspector-list details.fn-inspected').length === 2"
    )
    newest = page.locator("#fn-inspector-list details.fn-inspected").first
    assert "/webhooks/stripe" in newest.locator("summary").inner_text()
    assert newest.evaluate("e => e.classList.contains('fn-fresh')")
    newest.locator("summary").click()
    assert f"Stripe-Signature\t{MASK}" in newest.locator(".fn-inspected-headers").inner_text()
    assert f'"api_key": "{MASK}"' in newest.locator(".fn-inspected-body").inner_text()
    for width, height in ((1280, 800), (1920, 1080)):
        page.set_viewport_size({"width": width, "height": height})
        assert page.evaluate(NO_HORIZONTAL_SCROLL), f"horizontal scroll at {width}x{height}"
    shot("41-inspector-page")

    # The changelist lists the workspace's inspector with its URL and count.
    page.goto("/admin/runtime/requestinspector/")
    row = page.locator("#result_list tbody tr").first
    assert inspector.url in row.inner_text() and "2" in row.locator("td.field-request_count").inner_text()
