"""Browser test: the source debugger as a user meets it. Webhook requests and /v1/track calls
sent over HTTP appear live with their run, events and per-destination outcomes; one request is
opened in the editor's test pane and re-run against edited, unsaved code. At 1280x800 and
1920x1080, without horizontal scrolling.

scripts/docs_screenshots.py copies its screenshot into docs/images/.
"""

import base64

import pytest
import requests

from catalog.choices import ResourceType
from runtime.debugger import store
from runtime.inspector.masking import MASK
from tests.browser import assert_fits
from tests.factories import FunctionFactory, InstanceFactory, SourceFactory
from workspaces.choices import SourceKind

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SOURCE_CODE = """
async function onRequest(request, settings) {
  const body = request.json();
  console.log('order ' + body.order);
  if (body.fail) throw new ValidationError('order ' + body.order + ' is not valid');
  Segment.track({event: 'Order Placed', userId: body.user, properties: {order: body.order}});
}
"""
EDITED = SOURCE_CODE.replace("'Order Placed'", "'Order Placed (edited)'")
SINK = """
async function onTrack(event, settings) {
  const r = await fetch(settings.url, {method: 'POST', body: JSON.stringify(event)});
  return r.status;
}
"""
BREAKS = "async function onTrack(event) { throw new Error('CRM said no to ' + event.event) }"
SECRET_HEADER = "Bearer whsec_browser_debugger_1"


@pytest.fixture
def traffic(workspace, settings, httpserver):
    settings.PIPELINE_KEY_PREFIX = "fp-test-dbg-browser"
    store.backend().clear(store.prefix())
    httpserver.expect_request("/sink").respond_with_json({"ok": True})
    hook_fn = FunctionFactory(
        workspace=workspace, resource_type=ResourceType.SOURCE, display_name="Shop hooks", code=SOURCE_CODE
    )
    hook = InstanceFactory(function=hook_fn, name="Shop webhooks")
    sink_fn = FunctionFactory(workspace=workspace, display_name="Warehouse", code=SINK)
    breaks_fn = FunctionFactory(workspace=workspace, display_name="CRM", code=BREAKS)
    tracking = SourceFactory(workspace=workspace, name="Website", kind=SourceKind.TRACKING_API)
    for source in (hook.source, tracking):
        InstanceFactory(
            function=sink_fn, source=source, name="warehouse", settings={"url": httpserver.url_for("/sink")}
        )
        InstanceFactory(function=breaks_fn, source=source, name="crm")
    yield hook, tracking
    store.backend().clear(store.prefix())


def rows(page):
    return page.locator("#fn-dbg-list .fn-dbg-row")


def test_debugger_live_outcomes_then_rerun_in_the_editor(browser_page, live_server, owner, traffic):
    hook, tracking = traffic
    page, login, shot = browser_page
    login(owner)
    page.goto(f"/admin/runtime/functioninstance/{hook.pk}/change/")
    page.click("#fn-traffic-tab")
    page.click("#fn-open-debugger")
    page.wait_for_selector(".fn-dbg-empty")
    assert page.inner_text("#fn-traffic-requests strong") == "0"

    # Two webhook requests arrive while the page is open: they appear without a reload.
    url = f"{live_server.url}/hooks/{hook.source.webhook_token}"
    for body in ({"order": "A-1", "user": "u1"}, {"order": "B-2", "user": "u2", "fail": True}):
        sent = requests.post(
            url, json=body, headers={"Authorization": SECRET_HEADER, "X-Shop": "demo"}, timeout=30
        )
        assert sent.status_code == 200
    page.wait_for_function("() => document.querySelectorAll('#fn-dbg-list .fn-dbg-row').length === 2")
    page.wait_for_function("() => document.querySelector('#fn-traffic-requests strong').textContent === '2'")
    assert page.inner_text("#fn-traffic-errors strong") == "1"  # the run that threw
    newest, oldest = rows(page).nth(0), rows(page).nth(1)
    assert "error" in newest.locator(".fn-dbg-state").inner_text()
    assert "1 delivered" in oldest.inner_text() and "1 failed" in oldest.inner_text()

    # The failed run: its error and logs. The good one: headers masked, body, events, outcomes.
    newest.locator(".fn-dbg-row-head").click()
    newest.locator(".fn-dbg-run-error").wait_for()
    assert "ValidationError: order B-2 is not valid" in newest.inner_text()
    oldest.locator(".fn-dbg-row-head").click()
    detail = oldest.locator(".fn-dbg-detail")
    detail.wait_for()
    headers = detail.locator(".fn-dbg-headers").inner_text()
    assert f"Authorization\tBearer {MASK}" in headers and "X-Shop\tdemo" in headers
    assert "whsec_browser_debugger_1" not in page.content()
    assert '"order": "A-1"' in detail.locator(".fn-dbg-body").inner_text()
    event = detail.locator(".fn-dbg-event")
    assert "track · Order Placed" in event.locator(".fn-dbg-event-head").inner_text()
    outcomes = event.locator(".fn-dbg-outcome-table").inner_text()
    assert "warehouse\tdelivered" in outcomes
    assert "crm\tfailed" in outcomes and "Error: CRM said no to Order Placed" in outcomes
    assert_fits(page, "source debugger")
    page.reload()  # the chart is drawn on the server: now with the two requests
    assert page.locator("#fn-traffic-chart rect").count() >= 1
    rows(page).nth(1).locator(".fn-dbg-row-head").click()
    rows(page).nth(1).locator(".fn-dbg-event").wait_for()
    page.set_viewport_size({"width": 1440, "height": 900})
    shot("60-source-debugger")  # docs/images/source-debugger.png (scripts/docs_screenshots.py)

    # A Tracking API source: a /v1/track call and its outcomes, on the source's debugger.
    page.goto(f"/admin/workspaces/source/{tracking.pk}/change/")
    page.click("#fn-source-debugger-link")
    auth = base64.b64encode(f"{tracking.write_key}:".encode()).decode()
    track = {"event": "Signed Up", "userId": "u9", "properties": {"plan": "pro"}}
    sent = requests.post(
        f"{live_server.url}/v1/track", json=track, headers={"Authorization": f"Basic {auth}"}, timeout=30
    )
    assert sent.status_code == 200
    rows(page).first.wait_for()
    assert "track" in rows(page).first.locator(".fn-dbg-call").inner_text()
    rows(page).first.locator(".fn-dbg-row-head").click()
    outcomes = page.locator(".fn-dbg-outcome-table").first
    outcomes.wait_for()
    assert "warehouse\tdelivered" in outcomes.inner_text() and "crm\tfailed" in outcomes.inner_text()
    assert f"Authorization\tBasic {MASK}" in page.locator(".fn-dbg-headers").inner_text()
    assert tracking.write_key not in page.content()
    assert_fits(page, "tracking source debugger")

    # Back to the webhook source: one click opens a request in the editor's test pane.
    page.goto(f"/admin/runtime/functioninstance/debugger/{hook.source.pk}/")
    oldest = rows(page).nth(1)
    oldest.locator(".fn-dbg-row-head").click()
    oldest.locator(".fn-dbg-open-editor").click()
    page.wait_for_url("**/admin/catalog/function/**")
    page.wait_for_function("() => (document.querySelector('.django-ace-widget') || {}).editor")
    page.wait_for_function("() => document.querySelector('#fn-source-body').value.includes('A-1')")
    headers = page.evaluate(
        "() => Array.from(document.querySelectorAll('#fn-headers tbody tr')).map("
        "r => [r.querySelector('.fn-header-name').value, r.querySelector('.fn-header-value').value])"
    )
    assert ["X-Shop", "demo"] in headers

    # Edited, unsaved code; the pane's debugger re-runs the request against it.
    page.evaluate("code => document.querySelector('.django-ace-widget').editor.setValue(code, -1)", EDITED)
    pane = page.locator("#fn-debugger-pane")
    request_row = pane.locator(".fn-dbg-row").nth(1)
    request_row.locator(".fn-dbg-row-head").click()
    request_row.locator(".fn-dbg-rerun").click()
    page.wait_for_selector("#fn-output:not([hidden])")
    page.wait_for_function("() => document.querySelector('#fn-status').textContent.includes('SUCCESS')")
    assert "Order Placed (edited)" in page.inner_text("#fn-emitted")
    page.wait_for_function(
        "() => document.querySelector('#fn-debugger-note').textContent.includes('success')"
    )
    assert "order A-1" in page.inner_text("#fn-logs")
    hook.function.refresh_from_db()
    assert "(edited)" not in hook.function.latest_version.code  # nothing was saved
    assert_fits(page, "editor with the source debugger")
    shot("61-source-debugger-editor")
