"""Saved test cases in a real browser: save the test pane's input as a case, Run all with a
pass/fail table and an input-vs-output diff, and Save & Deploy refusing on a failure (with the
Workspace Owner's audited override)."""

import shutil

import pytest

from catalog.models import TestCase
from catalog.services import function_create
from runtime.models import FunctionInstance
from runtime.services import instance_create
from tests.browser import SCREENSHOTS, assert_fits
from workspaces.models import AuditEvent

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

INSERT = """async function onTrack(event, settings) {
  event.properties = {...event.properties, plan: settings.plan};
  return event;
}
"""
DEST = """async function onTrack(event, settings) {
  return {plan: settings.plan, event: event.event};
}
"""
EDITOR = "document.querySelector('.django-ace-widget').editor"
DOCS_IMAGES = SCREENSHOTS.parents[1] / "docs" / "images"


@pytest.fixture
def insert(workspace, owner, source):
    function = function_create(
        workspace=workspace,
        resource_type="INSERT_DESTINATION",
        display_name="Plan enricher",
        code=INSERT,
        settings=[{"label": "Plan", "required": True}],
        created_by=owner,
    )
    return function


def open_editor(page, function):
    page.goto(f"/admin/catalog/function/{function.pk}/change/")
    page.wait_for_function(f"() => {EDITOR} && document.getElementById('fn-cases-status')")


def set_code(page, code):
    page.evaluate(f"code => {EDITOR}.setValue(code, -1)", code)


def save_case(page, name, expect):
    page.click("#fn-case-new summary") if not page.is_visible("#fn-case-name") else None
    page.fill("#fn-case-name", name)
    page.select_option("#fn-case-expect", expect)
    page.click("#fn-case-save")
    page.wait_for_selector(f"#fn-case-message:has-text('Saved “{name}”')")


def test_save_cases_and_run_all(browser_page, owner, insert):
    page, login, shot = browser_page
    login(owner)
    open_editor(page, insert)
    page.wait_for_selector("#fn-cases-status:has-text('No test cases yet')")

    # Run once, then keep that input and what it gave as a case.
    page.fill("#fn-test-setting-plan", "pro")
    page.fill("#fn-event-body", '{"type": "track", "event": "Paid", "properties": {"amount": 5}}')
    page.click("#fn-run")
    page.wait_for_selector("#fn-status:has-text('SUCCESS')")
    save_case(page, "adds the plan", "last")
    page.fill("#fn-event-body", '{"type": "identify", "userId": "u1"}')
    save_case(page, "identify is unsupported", "error")
    page.wait_for_selector("#fn-cases-table tbody tr >> nth=1")
    stored = TestCase.objects.get(name="adds the plan")
    assert stored.expectation["output"]["properties"] == {"amount": 5, "plan": "pro"}
    assert stored.setting_values == {"plan": "pro"}

    # A code change that breaks the first case: Run all shows which, why, and the diff.
    set_code(page, INSERT.replace("plan: settings.plan", "plan: 'free'"))
    page.click("#fn-cases-run")
    page.wait_for_selector("#fn-cases-summary:has-text('1 passed, 1 failed')")
    rows = page.locator("#fn-cases-results-table tbody tr")
    first = rows.filter(has_text="adds the plan")
    assert "FAIL" in first.inner_text()
    assert "output.properties.plan is 'free', expected 'pro'" in first.inner_text()
    assert "PASS" in rows.filter(has_text="identify is unsupported").inner_text()
    first.locator("summary").click()
    diff = first.locator(".fn-case-diff")
    assert '+     "plan": "free"' in diff.inner_text()
    assert diff.locator(".fn-diff-add").count() >= 1
    assert_fits(page, "the editor with test results")
    page.set_viewport_size({"width": 1440, "height": 900})
    page.locator("#fn-cases").scroll_into_view_if_needed()
    shot("editor-test-cases")
    DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
    page.locator("#fn-test-pane").screenshot(path=str(DOCS_IMAGES / "test-cases.png"))

    # Load puts a case's input back into the pane.
    page.fill("#fn-event-body", "{}")
    page.locator("#fn-cases-table tr", has_text="adds the plan").locator(".fn-case-load").click()
    assert '"amount": 5' in page.input_value("#fn-event-body")

    # Delete, after confirming.
    page.once("dialog", lambda d: d.accept())
    page.locator("#fn-cases-table tr", has_text="identify is unsupported").locator(".fn-case-delete").click()
    page.wait_for_function("() => document.querySelectorAll('#fn-cases-table tbody tr').length === 1")
    assert list(TestCase.objects.values_list("name", flat=True)) == ["adds the plan"]


@pytest.fixture
def destination(workspace, owner):
    return function_create(
        workspace=workspace,
        resource_type="DESTINATION",
        display_name="Plan forwarder",
        code=DEST,
        settings=[{"label": "Plan", "required": True}],
        created_by=owner,
    )


def test_save_and_deploy_refuses_on_a_failing_case(browser_page, owner, functions_admin, destination, source):
    page, login, shot = browser_page
    insert = destination  # the function under test
    instance = instance_create(
        function=insert, name="Forward website", source=source, settings={"plan": "pro"}, created_by=owner
    )
    login(owner)
    open_editor(page, insert)
    page.fill("#fn-test-setting-plan", "pro")
    page.fill("#fn-event-body", '{"type": "track", "event": "Paid"}')
    page.click("#fn-run")
    page.wait_for_selector("#fn-status:has-text('SUCCESS')")
    save_case(page, "keeps the plan", "last")
    versions = insert.versions.count()

    broken = DEST.replace("return {", "throw new Error('broken on purpose'); return {")
    set_code(page, broken)
    page.wait_for_selector("#fn-cases-table tbody tr")
    page.click("#fn-save-deploy")
    assert "The saved test cases (1) run first" in page.inner_text("#fn-deploy-tests")
    page.click("#fn-deploy-confirm")
    page.wait_for_selector(".errornote")
    message = page.inner_text(".errorlist.nonfield")
    assert "Not deployed: 1 of 1 test cases failed" in message
    assert "“keeps the plan”: expected success, got Error: broken on purpose" in message
    assert "Workspace Owners may deploy anyway" in message
    page.wait_for_function(f"() => {EDITOR}")
    assert "broken on purpose" in page.evaluate(f"() => {EDITOR}.getValue()")  # nothing lost
    assert insert.versions.count() == versions
    shot("editor-deploy-refused")

    # The owner deploys anyway: the override is recorded.
    page.click("#fn-save-deploy")
    page.check("#fn-deploy-override")
    page.click("#fn-deploy-confirm")
    page.wait_for_selector("#fn-deploy-progress:not([hidden])")
    assert insert.versions.count() == versions + 1
    audit = AuditEvent.objects.filter(data__has_key="testCasesFailed").get()
    assert audit.data["testCasesFailed"][0]["name"] == "keeps the plan"
    assert audit.actor == owner
    instance.refresh_from_db()

    # A Functions Admin is not offered the override.
    page.context.clear_cookies()
    login(functions_admin)
    open_editor(page, insert)
    page.click("#fn-save-deploy")
    assert page.locator("#fn-deploy-override").count() == 0
    assert FunctionInstance.objects.count() == 1


def test_editor_screenshot_for_the_docs(browser_page, owner, insert):
    page, login, shot = browser_page
    login(owner)
    page.set_viewport_size({"width": 1440, "height": 900})
    open_editor(page, insert)
    page.fill("#fn-test-setting-plan", "pro")
    page.click("#fn-run")
    page.wait_for_selector("#fn-status:has-text('SUCCESS')")
    DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOCS_IMAGES / "editor.png"))
    assert (DOCS_IMAGES / "editor.png").stat().st_size > 10_000
    shutil.copy(DOCS_IMAGES / "editor.png", SCREENSHOTS / "editor-docs.png")
