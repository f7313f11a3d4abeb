"""The test cases panel's in-place expectation editor, in Chromium: a captured expectation is
loosened to the keys that matter, bad JSON and bad shapes are refused with the reason, and
Run all judges by what was saved."""

import pytest

from catalog.models import TestCase
from catalog.services import function_create
from catalog.testcases import testcase_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

INSERT = """async function onTrack(event, settings) {
  event.properties = {...event.properties, plan: settings.plan};
  return event;
}
"""
EDITOR = "document.querySelector('.django-ace-widget').editor"


@pytest.fixture
def case(workspace, owner):
    function = function_create(
        workspace=workspace,
        resource_type="INSERT_DESTINATION",
        display_name="Plan enricher",
        code=INSERT,
        settings=[{"label": "Plan", "required": True}],
        created_by=owner,
    )
    captured = {
        "status": "success",
        "output": {"type": "track", "event": "Paid", "properties": {"amount": 5, "plan": "pro"}},
    }
    return testcase_create(
        function=function,
        name="adds the plan",
        payload={"type": "track", "event": "Paid", "properties": {"amount": 5}},
        setting_values={"plan": "pro"},
        expectation=captured,
        user=owner,
    )


def edit(page, text):
    page.fill(".fn-case-expectation", text)
    page.click(".fn-case-expectation-save")


def run_all(page):
    page.click("#fn-cases-run")
    page.wait_for_selector("#fn-cases-run:has-text('Run all')")
    return page.inner_text("#fn-cases-results-table tbody")


def test_edit_an_expectation_in_place(browser_page, owner, case):
    page, login, _ = browser_page
    login(owner)
    page.goto(f"/admin/catalog/function/{case.function.pk}/change/")
    page.wait_for_selector("#fn-cases-table tr[data-case] .fn-case-edit")
    page.click(".fn-case-edit")
    area = page.wait_for_selector(".fn-case-expectation")
    assert '"amount": 5' in area.input_value()  # the saved one, pretty-printed

    edit(page, "{not json")
    page.wait_for_selector(".fn-case-editor .fn-case-message:has-text('not a JSON object')")
    edit(page, '{"status": "maybe"}')
    page.wait_for_selector(".fn-case-editor .fn-case-message:has-text('status is success or error')")
    assert TestCase.objects.get(pk=case.pk).expectation["output"]["properties"]["amount"] == 5

    # Only the plan matters: the amount may change.
    edit(page, '{"output": {"properties": {"plan": "pro"}}}')
    page.wait_for_selector(".fn-case-editor .fn-case-message:has-text('Saved the expectation')")
    assert TestCase.objects.get(pk=case.pk).expectation == {"output": {"properties": {"plan": "pro"}}}
    assert "output event" in page.inner_text("#fn-cases-table tr[data-case] td:nth-child(2)")

    page.evaluate(f"code => {EDITOR}.setValue(code, -1)", INSERT.replace("...event.properties, ", ""))
    assert "PASS" in run_all(page)
    page.evaluate(f"code => {EDITOR}.setValue(code, -1)", INSERT.replace("settings.plan", "'free'"))
    result = run_all(page)
    assert "FAIL" in result and "output.properties.plan is 'free', expected 'pro'" in result

    page.click(".fn-case-expectation-cancel")  # closes the editor
    assert page.query_selector(".fn-case-editor") is None


def test_read_only_users_have_no_editor(browser_page, read_only, case):
    page, login, _ = browser_page
    login(read_only)
    page.goto(f"/admin/catalog/function/{case.function.pk}/change/")
    page.wait_for_selector("#content-main")
    # Read-only users get the code, not the test pane: no case can be edited from here.
    assert page.query_selector("#fn-cases") is None and page.query_selector(".fn-case-edit") is None
