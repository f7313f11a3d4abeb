"""IDE-grade editing in a real browser: the resizable split, Cmd/Ctrl+S and Cmd/Ctrl+Enter, the
dirty marker and leave-page guard, dark mode, completion, lint, and stack frames of the user's
own code that move the cursor."""

import pytest

from catalog.models import Function
from catalog.services import function_create
from tests.browser import assert_fits

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CODE = """async function onTrack(event, settings) {
  const total = price(event.properties);
  return {total, key: settings.apiKye};
}

function price(properties) {
  if (!properties.currency) throw new ValidationError('no currency');
  return properties.revenue.toFixed(2) + properties.currencyy.length;
}

async function onRequest(request) {
  return 'never called for a destination';
}
"""
EDITOR = "document.querySelector('.django-ace-widget').editor"


@pytest.fixture
def destination(workspace, owner):
    return function_create(
        workspace=workspace,
        resource_type="DESTINATION",
        display_name="IDE function",
        code=CODE,
        settings=[{"label": "Endpoint URL"}],
        created_by=owner,
    )


def open_editor(page, function):
    page.goto(f"/admin/catalog/function/{function.pk}/change/")
    page.wait_for_function(f"() => {EDITOR} && document.getElementById('fn-splitter')")


def focus_editor(page):
    page.locator(".django-ace-widget .ace_scroller").click(position={"x": 60, "y": 10})


def cursor(page):
    return page.evaluate(f"() => {EDITOR}.getCursorPosition()")


def test_split_save_run_and_leave_guard(browser_page, owner, destination):
    page, login, shot = browser_page
    login(owner)
    open_editor(page, destination)
    assert_fits(page, "the editor")
    page.set_viewport_size({"width": 1920, "height": 1080})

    # The split spans the content; dragging the handle gives the code more room, and the
    # choice is kept for the next page.
    before = page.evaluate("() => document.getElementById('fn-main').getBoundingClientRect().width")
    handle = page.locator("#fn-splitter").bounding_box()
    page.mouse.move(handle["x"] + 4, handle["y"] + 40)
    page.mouse.down()
    page.mouse.move(handle["x"] + 204, handle["y"] + 40, steps=5)
    page.mouse.up()
    after = page.evaluate("() => document.getElementById('fn-main').getBoundingClientRect().width")
    assert after > before + 150
    pane = page.evaluate("() => document.getElementById('fn-test-pane').getBoundingClientRect().width")
    assert pane > 250

    # Typing marks the page dirty.
    assert page.is_hidden("#fn-dirty")
    focus_editor(page)
    page.keyboard.press("Control+End")
    page.keyboard.type("\n// edited in the browser")
    page.wait_for_selector("#fn-dirty:visible")
    assert page.title().startswith("● ")
    row = cursor(page)["row"]

    # Ctrl+Enter runs the test from the editor.
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#fn-status:has-text('ERROR')")

    # Ctrl+S saves and comes back to the editor, cursor where it was, nothing dirty.
    with page.expect_navigation():
        page.keyboard.press("Control+s")
    page.wait_for_function(f"() => {EDITOR} && document.getElementById('fn-splitter')")
    assert "// edited in the browser" in Function.objects.get(pk=destination.pk).code
    assert page.is_visible(".messagelist .success")
    assert page.is_hidden("#fn-dirty")
    assert cursor(page)["row"] == row
    assert page.evaluate(f"() => {EDITOR}.isFocused()")
    width = page.evaluate("() => document.getElementById('fn-main').getBoundingClientRect().width")
    assert abs(width - after) < 30  # the split came back as dragged
    shot("editor-ide")

    # Leaving with unsaved changes asks first; staying keeps the text.
    page.keyboard.type("// not saved yet")
    dialogs = []

    def stay(dialog):
        dialogs.append(dialog.type)
        dialog.dismiss()

    page.once("dialog", stay)
    page.click("#fn-history-link", no_wait_after=True)
    page.wait_for_timeout(500)
    assert dialogs == ["beforeunload"]
    assert "/change/" in page.url
    assert "// not saved yet" in page.evaluate(f"() => {EDITOR}.getValue()")


def test_dark_mode_follows_the_admin(browser_page, owner, destination):
    page, login, shot = browser_page
    page.emulate_media(color_scheme="dark")
    login(owner)
    open_editor(page, destination)
    assert page.evaluate("() => document.documentElement.dataset.theme") == "auto"
    page.wait_for_selector(".django-ace-widget .ace_editor.ace-tomorrow-night")
    shot("editor-dark")
    # The admin's theme button: auto (dark here) -> light.
    page.click("button.theme-toggle")
    page.wait_for_selector(".django-ace-widget .ace_editor.ace-chrome")
    assert page.evaluate("() => document.documentElement.dataset.theme") == "light"


def test_completion_offers_settings_event_fields_and_globals(browser_page, owner, destination):
    page, login, shot = browser_page
    login(owner)
    open_editor(page, destination)
    page.select_option("#fn-sample-select", "track")
    focus_editor(page)
    page.keyboard.press("Control+End")

    def complete(text, expected):
        page.keyboard.type("\n" + text)
        page.keyboard.press("Control+Space")
        popup = page.locator(".ace_autocomplete")
        popup.wait_for(state="visible")
        page.wait_for_function(
            "(w) => document.querySelector('.ace_autocomplete').innerText.includes(w)", arg=expected
        )
        page.keyboard.press("Escape")

    complete("settings.", "endpointUrl")
    complete("event.properties.", "revenue")
    complete("event.context.", "library")
    complete("strip", "stripe")
    complete("jsonweb", "jsonwebtoken")


def test_lint_warns_and_stack_frames_move_the_cursor(browser_page, owner, destination):
    page, login, shot = browser_page
    login(owner)
    open_editor(page, destination)
    page.wait_for_selector("#fn-lint .fn-lint-item")
    warnings = page.locator("#fn-lint .fn-lint-item").all_inner_texts()
    assert any("Line 3: settings.apiKye is not declared" in w and "endpointUrl" in w for w in warnings)
    assert any(w.startswith("Line 11: onRequest is never called") for w in warnings)
    assert page.locator(".ace_gutter-cell.ace_warning").count() >= 2
    page.locator("#fn-lint .fn-lint-item", has_text="onRequest").click()
    assert cursor(page)["row"] == 10

    # Declaring the setting clears its warning.
    page.click(".fn-tab[data-tab=settings]")
    page.click("#setting_defs-group .add-row a")
    page.locator("#setting_defs-group tr.form-row.dynamic-setting_defs").last.locator(
        "input[name$='-label']"
    ).fill("API Kye")
    page.wait_for_function("() => !document.getElementById('fn-lint').innerText.includes('settings.apiKye')")
    page.click(".fn-tab[data-tab=code]")

    # A TypeError two calls deep: only the user's frames, each a link to its line.
    page.fill(
        "#fn-event-body",
        '{"type": "track", "event": "Paid", "properties": {"currency": "EUR", "revenue": 3}}',
    )
    page.click("#fn-run")
    page.wait_for_selector("#fn-error-stack .fn-frame")
    frames = page.locator("#fn-error-stack .fn-frame").all_inner_texts()
    assert frames[0] == "at price function.js:8:63"
    assert frames[1].startswith("at onTrack function.js:2:")
    assert all("function.js" in f for f in frames)
    assert "shim" not in page.inner_text("#fn-error-stack")
    page.locator("#fn-error-stack .fn-frame").first.click()
    assert cursor(page) == {"row": 7, "column": 62}
    shot("editor-stack")
