"""The test pane keeps typed setting values (setting changes, page loads) and checks required
settings before a run; encrypted values never reach browser storage."""

import pytest

from catalog.services import function_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CODE = """
async function onTrack(event, settings) {
  const response = await fetch(settings.endpointUrl, {method: 'POST', body: JSON.stringify(event)});
  console.log('posted with', settings.region || 'no region');
  return {status: response.status};
}
"""
SECRET = "sk_test_pane_secret_77"


@pytest.fixture
def destination(workspace, owner):
    return function_create(
        workspace=workspace,
        resource_type="DESTINATION",
        display_name="Pane function",
        code=CODE,
        settings=[
            {"label": "Endpoint URL", "required": True},
            {"label": "API Key", "sensitive": True},
        ],
        created_by=owner,
    )


def open_editor(page, function):
    page.goto(f"/admin/catalog/function/{function.pk}/change/")
    page.wait_for_function("() => document.querySelector('.django-ace-widget').editor")


def test_required_setting_is_checked_before_the_run(browser_page, owner, destination):
    page, login, shot = browser_page
    login(owner)
    open_editor(page, destination)
    page.click("#fn-run")
    page.wait_for_selector("#fn-error-message:has-text('Endpoint URL is required')")
    assert "ERROR" in page.inner_text("#fn-status")
    assert "Only absolute URLs" not in page.inner_text("#fn-output")
    assert page.inner_text("#fn-trace tbody") == "No requests were made."
    # The empty field is marked and focused, ready for the value.
    assert page.evaluate("() => document.activeElement.id") == "fn-test-setting-endpointUrl"
    assert "fn-invalid" in page.get_attribute("#fn-test-setting-endpointUrl", "class")
    shot("editor-required-setting")


def test_values_survive_a_setting_change_and_a_page_load(browser_page, owner, destination):
    page, login, shot = browser_page
    login(owner)
    open_editor(page, destination)
    page.fill("#fn-test-setting-endpointUrl", "https://collector.test/in")
    page.fill("#fn-test-setting-apiKey", SECRET)

    # A new setting is typed in the Settings tab; the very next click goes to the test pane
    # (the label's blur fires `change` on the way) and must land there, not be swallowed.
    page.click(".fn-tab[data-tab=settings]")
    page.click("#setting_defs-group .add-row a")
    page.locator("#setting_defs-group tr.form-row.dynamic-setting_defs").last.locator(
        "input[name$='-label']"
    ).fill("Region")
    page.click("#fn-test-setting-region")
    page.keyboard.type("eu-west-1")
    assert page.input_value("#fn-test-setting-region") == "eu-west-1"
    assert page.input_value("#fn-test-setting-endpointUrl") == "https://collector.test/in"
    assert page.input_value("#fn-test-setting-apiKey") == SECRET

    # The event being edited and the typed values come back after a reload; the encrypted
    # one does not, and it is nowhere in browser storage.
    page.click(".fn-tab[data-tab=code]")
    page.fill("#fn-event-body", '{"type": "track", "event": "Kept across loads"}')
    stored = page.evaluate("() => JSON.stringify(Object.assign({}, sessionStorage, localStorage))")
    assert "collector.test" in stored and SECRET not in stored
    page.on("dialog", lambda dialog: dialog.accept())  # the unsaved-settings guard, if any
    page.reload()
    page.wait_for_function("() => document.querySelector('.django-ace-widget').editor")
    assert page.input_value("#fn-test-setting-endpointUrl") == "https://collector.test/in"
    assert page.input_value("#fn-test-setting-apiKey") == ""
    assert "Kept across loads" in page.input_value("#fn-event-body")
    # Region was never saved as a setting, so it has no field now.
    assert page.locator("#fn-test-setting-region").count() == 0
    shot("editor-test-pane-kept")


def test_required_check_passes_once_filled(browser_page, owner, destination, httpserver):
    page, login, shot = browser_page
    httpserver.expect_request("/in").respond_with_json({"ok": True})
    login(owner)
    open_editor(page, destination)
    page.click("#fn-run")
    page.wait_for_selector("#fn-error-message:has-text('Endpoint URL is required')")
    page.keyboard.type(httpserver.url_for("/in"))  # the focused field
    page.click("#fn-run")
    page.wait_for_selector("#fn-status:has-text('SUCCESS')")
    assert "posted with no region" in page.inner_text("#fn-logs")
    assert "fn-invalid" not in (page.get_attribute("#fn-test-setting-endpointUrl", "class") or "")
