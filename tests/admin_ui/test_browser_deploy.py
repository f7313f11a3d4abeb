"""Browser tests: deploys with context. The Save & Deploy dialog (what each instance runs, the diff
to this deploy), live progress with each failure's reason, "behind latest" in the lists, and
rolling an instance back, as a user does them."""

import pytest

from catalog.services import function_create, function_save
from runtime.models import Deployment, FunctionInstance
from runtime.services import deployment_apply, function_save_and_deploy, instance_create
from tests.browser import SCREENSHOTS
from tests.factories import SourceFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CODE = """async function onTrack(event, settings) {
  return {region: settings.region || 'default', event: event.event};
}
"""
NO_HORIZONTAL_SCROLL = "() => document.documentElement.scrollWidth <= window.innerWidth"


def set_code(page, code):
    page.evaluate("code => document.querySelector('.django-ace-widget').editor.setValue(code, -1)", code)


def fits(page):
    for width, height in ((1280, 800), (1920, 1080)):
        page.set_viewport_size({"width": width, "height": height})
        assert page.evaluate(NO_HORIZONTAL_SCROLL), f"horizontal scroll at {width}x{height}"


def viewport_shot(page, name, width=1440, height=900):
    """What the user sees on screen (a modal dialog is drawn over the viewport, not the page)."""
    page.set_viewport_size({"width": width, "height": height})
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


@pytest.fixture
def fleet(workspace, owner):
    """Three instances: two on v1, one on v2 (LATEST, which makes Region required)."""
    function = function_create(
        workspace=workspace,
        resource_type="DESTINATION",
        display_name="Orders API",
        code=CODE,
        settings=[{"label": "Region"}],
        created_by=owner,
    )
    make = lambda name, settings: instance_create(  # noqa: E731
        function=function, name=name, source=SourceFactory(workspace=workspace, name=f"{name} source"),
        settings=settings, created_by=owner,
    )  # fmt: skip
    eu, legacy, us = (
        make("EU orders", {"region": "eu"}),
        make("Legacy orders", {}),
        make("US orders", {"region": "us"}),
    )
    function_save_and_deploy(
        function=function,
        author=owner,
        instance_ids=[us.public_id],
        code=CODE.replace("'default'", "'unset'"),
        settings=[{"label": "Region", "required": True}],
    )
    function.refresh_from_db()
    return function, eu, legacy, us


def test_save_and_deploy_with_context_then_roll_back(browser_page, owner, fleet):
    function, eu, legacy, us = fleet
    page, login, shot = browser_page
    login(owner)
    page.goto(f"/admin/catalog/function/{function.pk}/change/")
    page.wait_for_function("() => document.querySelector('.django-ace-widget').editor")
    set_code(page, function.code + "// shipping v3\n")

    # The dialog: every instance with what it runs now and whether that is behind LATEST.
    page.click("#fn-save-deploy")
    dialog = page.locator("#fn-deploy-dialog")
    assert dialog.is_visible()
    assert "v3" in dialog.locator("p").first.inner_text()
    rows = {r.get_attribute("data-instance"): r for r in dialog.locator("tr.fn-deploy-target").all()}
    assert "v1" in rows[eu.public_id].inner_text() and "behind latest" in rows[eu.public_id].inner_text()
    assert "behind latest" in rows[legacy.public_id].inner_text()
    us_row = rows[us.public_id].inner_text()
    assert "v2" in us_row and "latest" in us_row and "behind" not in us_row
    assert "SUCCEEDED v2" in us_row
    assert page.inner_text("#fn-deploy-confirm") == "Save & Deploy to 3 instances"

    # The diff from what EU runs (v1) to this deploy: v2's change and the unsaved edit.
    rows[eu.public_id].locator(".fn-diff-toggle").click()
    diff = rows[eu.public_id].locator("xpath=following-sibling::tr[1]")
    diff.locator(".fn-diff-line.add").first.wait_for()
    added = diff.locator(".fn-diff-line.add").all_inner_texts()
    assert "+// shipping v3" in added and any("'unset'" in line for line in added)
    assert any("'default'" in line for line in diff.locator(".fn-diff-line.del").all_inner_texts())
    assert "From v1 to this deploy" in diff.locator(".fn-diff-summary").inner_text()
    saved = rows[eu.public_id].locator("a.fn-diff-saved")
    assert saved.inner_text() == "v1 → v2 (saved)"
    fits(page)
    viewport_shot(page, "42-deploy-dialog")

    # Choosing instances updates the button; all three it is.
    page.check(f"input[name=deploy_instances][value='{legacy.public_id}']")
    assert page.inner_text("#fn-deploy-confirm") == "Save & Deploy to 1 instance"
    page.check("#fn-deploy-all")
    page.click("#fn-deploy-confirm")

    # Progress, styled, with the failed instance's reason (v3 needs a region Legacy lacks).
    page.wait_for_selector("#fn-deploy-progress[data-done=true]")
    progress = page.locator("#fn-deploy-progress")
    assert progress.evaluate("e => e.classList.contains('fn-deploy-has-failures')")
    summary = page.inner_text("#fn-deploy-summary")
    assert summary.startswith("3 of 3 done") and "2 succeeded" in summary and "1 failed" in summary
    failed = progress.locator("tr.fn-deploy-failed")
    assert failed.count() == 1 and "Legacy orders" in failed.inner_text()
    assert "region" in failed.locator(".fn-deploy-error").inner_text().lower()
    assert page.evaluate("() => document.getElementById('fn-deploy-bar').value") == 3
    fits(page)
    shot("43-deploy-progress")

    # The catalog says one instance is behind; its badge lists exactly that one.
    page.goto("/admin/catalog/function/")
    badge = page.locator("a.fn-badge-behind")
    assert badge.inner_text() == "1 behind latest"
    badge.click()
    page.wait_for_selector("#result_list")
    listed = page.locator("#result_list tbody tr")
    assert listed.count() == 1 and "Legacy orders" in listed.inner_text()
    assert "behind latest (v3)" in listed.inner_text()
    fits(page)

    # Roll EU back to the version it ran before v3.
    page.goto(f"/admin/runtime/functioninstance/{eu.pk}/change/#deploys")
    assert "v3" in page.inner_text("#fn-running-version")
    page.click("#fn-rollback-start")
    page.click("#fn-rollback-confirm-button")
    page.wait_for_url("**#deploys")
    assert "rolling back to v1" in page.inner_text(".messagelist")
    assert page.inner_text("#fn-running-version").startswith("v1 ")
    assert page.inner_text("#fn-previous-version").startswith("v3 ")
    top = page.locator("#fn-deploys-table tbody tr").first
    assert "v1" in top.inner_text() and "SUCCEEDED" in top.inner_text() and "owner" in top.inner_text()
    assert FunctionInstance.objects.get(pk=eu.pk).deployed_version.number == 1
    fits(page)
    shot("44-instance-rolled-back")


def test_deploy_progress_is_live(browser_page, owner, fleet):
    function, eu, legacy, us = fleet
    version = function_save(function=function, author=owner, code=function.code + "// v3\n")
    # Rows left PENDING (as a real worker would find them); the page follows them as they settle.
    rows = Deployment.objects.bulk_create(
        [Deployment(instance=i, version=version, requested_by=owner) for i in (eu, us)]
    )
    page, login, shot = browser_page
    login(owner)
    page.goto(f"/admin/catalog/function/{function.pk}/change/?deployed={version.public_id}")
    page.wait_for_function(
        "() => document.getElementById('fn-deploy-summary').textContent.startsWith('0 of 2')"
    )
    assert page.locator("#fn-deploy-progress .fn-status-pending").count() == 2
    assert page.evaluate("() => document.getElementById('fn-deploy-progress').dataset.done") == "false"
    deployment_apply(deployment_id=rows[0].pk)
    page.wait_for_function(
        "() => document.getElementById('fn-deploy-summary').textContent.startsWith('1 of 2')"
    )
    deployment_apply(deployment_id=rows[1].pk)
    page.wait_for_selector("#fn-deploy-progress[data-done=true]")
    assert page.inner_text("#fn-deploy-title") == "Deployed v3"
