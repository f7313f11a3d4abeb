"""The whole editing flow in a real browser: create, test, connect, deploy, restore, errors."""

import pytest
import requests
from werkzeug import Response

from catalog.models import Function
from runtime.models import ErrorLog, FunctionInstance

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CODE = """
async function onTrack(event, settings) {
  const response = await fetch(settings.endpoint, {
    method: 'POST',
    headers: {Authorization: `Basic ${btoa(settings.apiKey + ':')}`, 'Content-Type': 'application/json'},
    body: JSON.stringify(event)
  });
  console.log('collector answered', response.status);
  if (response.status >= 400) throw new ValidationError(`Rejected with ${response.status}`);
  return {status: response.status};
}
"""


def set_code(page, code):
    page.evaluate("code => document.querySelector('.django-ace-widget').editor.setValue(code, -1)", code)


def add_setting(page, label, *, required=False, encrypted=False, type_="STRING"):
    page.click("#setting_defs-group .add-row a")
    row = page.locator("#setting_defs-group tr.form-row.dynamic-setting_defs").last
    row.locator("input[name$='-label']").fill(label)
    row.locator("select[name$='-type']").select_option(type_)
    if required:
        row.locator("input[name$='-required']").check()
    if encrypted:
        row.locator("input[name$='-sensitive']").check()
    return row


def test_whole_flow(browser_page, owner, workspace, source, other_source, httpserver):
    page, login, shot = browser_page
    httpserver.expect_request("/collect").respond_with_json({"ok": True})
    httpserver.expect_request("/reject").respond_with_response(Response("no", status=400))
    endpoint = httpserver.url_for("/collect")

    login(owner)
    page.goto("/admin/catalog/function/")
    shot("01-catalog")
    page.click("#fn-new-function")
    page.click("a[data-type=DESTINATION]")
    page.wait_for_function(
        "() => document.querySelector('.django-ace-widget') && document.querySelector('.django-ace-widget').editor"
    )
    assert "async function onTrack" in page.evaluate(
        "document.querySelector('.django-ace-widget').editor.getValue()"
    )
    shot("02-template")
    set_code(page, CODE)

    # Settings tab: the name is generated live; the preview shows how code reads it.
    page.click(".fn-tab[data-tab=settings]")
    row = add_setting(page, "API Key", required=True, encrypted=True)
    assert row.locator("td.field-generated_name").inner_text().strip() == "apiKey"
    add_setting(page, "Endpoint URL")
    preview = page.locator("#fn-settings-preview")
    assert "settings.apiKey" in preview.inner_text() and "settings.endpointUrl" in preview.inner_text()
    assert preview.locator("input[type=password]").count() == 1
    shot("03-settings")
    page.click(".fn-tab[data-tab=code]")
    set_code(page, CODE.replace("settings.endpoint,", "settings.endpointUrl,"))

    # Test on a sample event: the trace shows the call to the local server.
    page.fill("#fn-test-setting-apiKey", "sk_test_1")
    page.fill("#fn-test-setting-endpointUrl", endpoint)
    page.select_option("#fn-sample-select", "track")
    page.click("#fn-run")
    page.wait_for_selector("#fn-trace tbody tr td.fn-trace-url")
    assert "SUCCESS" in page.inner_text("#fn-status")
    assert page.inner_text("#fn-trace .fn-trace-url") == endpoint
    assert page.inner_text("#fn-trace .fn-trace-status") == "200"
    assert "collector answered 200" in page.inner_text("#fn-logs")
    shot("04-test-run")

    # Configure & Create.
    page.click("#fn-next-configure")
    page.select_option("select[name=workspace]", str(workspace.pk))
    page.fill("input[name=display_name]", "Collector")
    page.fill("textarea[name=description]", "Posts events to the collector")
    page.fill("input[name=logo_url]", "https://example.com/logo.png")
    shot("05-configure")
    page.click("#fn-create")
    page.wait_for_selector("#fn-save-deploy")
    function = Function.objects.get(workspace=workspace, display_name="Collector")
    assert [d.name for d in function.setting_defs.all()] == ["apiKey", "endpointUrl"]
    shot("06-created")

    # Connect destination (through the UI), and a second instance the same way.
    for name, src, url in (
        ("To collector", source, endpoint),
        ("Rejecting", other_source, httpserver.url_for("/reject")),
    ):
        page.goto(f"/admin/catalog/function/{function.pk}/change/")
        page.click("a.fn-connect")
        page.wait_for_url("**/functioninstance/add/**")
        page.fill("input[name=name]", name)
        page.select_option("select[name=source]", str(src.pk))
        page.fill("input[name=setting__apiKey]", "sk_live_secret_9")
        page.fill("input[name=setting__endpointUrl]", url)
        page.click("input[name=_save]")
        page.wait_for_selector("#fn-instance-tabs")
    assert "sk_live_secret_9" not in page.content()
    shot("07-connected")
    first = FunctionInstance.objects.get(name="To collector")
    second = FunctionInstance.objects.get(name="Rejecting")
    v1 = function.latest_version

    # Save & Deploy a change to one of the two instances.
    page.goto(f"/admin/catalog/function/{function.pk}/change/")
    page.wait_for_function("() => document.querySelector('.django-ace-widget').editor")
    set_code(page, "// v2\n" + function.code)
    page.click("#fn-save-deploy")
    page.check(f"input[name=deploy_instances][value='{first.public_id}']")
    shot("08-deploy-picker")
    page.click("#fn-deploy-confirm")
    page.wait_for_selector("#fn-deploy-progress[data-done=true]")
    assert "SUCCEEDED" in page.inner_text("#fn-deploy-progress")
    shot("09-deploy-progress")
    first.refresh_from_db()
    second.refresh_from_db()
    function.refresh_from_db()
    assert first.deployed_version == function.latest_version != v1
    assert second.deployed_version == v1

    # Version history: diff, then restore v1 as a new LATEST version.
    page.click("#fn-history-link")
    page.wait_for_url("**/versions/")
    assert "// v2" in page.inner_text("#fn-diff")
    shot("10-history-split")
    page.click("#fn-mode-unified")
    page.wait_for_url("**mode=unified")
    assert "+// v2" in page.inner_text("#fn-diff")
    page.click(f"button.fn-restore[data-version='{v1.number}']")
    page.wait_for_selector(".messagelist")
    assert "Restored v1" in page.inner_text(".messagelist")
    shot("11-restored")
    function.refresh_from_db()
    assert function.latest_version.restored_from == v1 and function.code == v1.code

    # An event whose delivery fails shows in the instance's Errors tab.
    event = {"userId": "u-1", "event": "Signed Up", "messageId": "m-fail-1"}
    response = requests.post(
        f"{page.url.split('/admin')[0]}/v1/track", json=event, auth=(other_source.write_key, ""), timeout=30
    )
    assert response.status_code == 200, response.text
    assert ErrorLog.objects.filter(instance=second).exists()
    page.goto(f"/admin/runtime/functioninstance/{second.pk}/change/#errors")
    page.click("#fn-errors-tab")
    page.click("#fn-errors details summary")
    errors = page.inner_text("#fn-errors")
    assert "Message Rejected" in errors and "Rejected with 400" in errors
    assert "Signed Up" in errors and "collector answered 400" in errors  # the event and its logs
    assert "sk_live_secret_9" not in page.content()
    shot("12-errors")
    page.click("#fn-delivery-tab")
    assert page.locator("#fn-delivery-chart rect").count() >= 1
    shot("13-delivery")
