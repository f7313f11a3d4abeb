"""Browser tests (Chromium, the strict CSP): the editor's dry-run replay panel and the instance
page's Canary tab, as a user works them."""

import json

import pytest

from catalog.services import function_save
from runtime.canary import services as canary_services
from runtime.canary.choices import CanaryStatus
from runtime.canary.models import Canary
from runtime.models import FunctionInstance
from runtime.pipeline.delivery import deliver
from runtime.pipeline.samples import samples_record
from tests.factories import FunctionFactory, InstanceFactory

from .conftest import code, events

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FORWARD = """async function onTrack(event, settings) {
  await fetch('https://api.example.com/track', {method: 'POST', body: JSON.stringify({name: event.event})});
}
"""


def set_code(page, text):
    page.evaluate("code => document.querySelector('.django-ace-widget').editor.setValue(code, -1)", text)


def test_replay_panel_shows_the_summary_and_a_diff(browser_page, workspace, tracking_source, owner):
    page, login, shot = browser_page
    function = FunctionFactory(workspace=workspace, code=FORWARD, display_name="Forwarder")
    InstanceFactory(function=function, source=tracking_source, name="forward")
    batch = events(6)
    batch[0]["event"] = "Refund"
    samples_record(tracking_source.pk, batch)
    login(owner)
    page.goto(f"/admin/catalog/function/{function.pk}/change/")
    set_code(page, FORWARD.replace("name: event.event", "name: event.event === 'Refund' ? 'R' : event.event"))
    page.fill("#fn-replay-count", "50")
    page.click("#fn-replay-start")
    summary = page.locator("#fn-replay-summary")
    summary.wait_for(state="visible")
    assert summary.text_content() == "5 identical, 1 differ, 0 now fail"
    rows = page.locator("#fn-replay-results tr.fn-replay-row")
    assert rows.count() == 1 and "Refund" in rows.first.text_content()
    page.click(".fn-replay-diff-toggle")
    diff = page.locator(".fn-replay-diff-row pre").first
    assert (
        '\\"name\\":\\"R\\"' in diff.text_content()
        and "requests" in page.locator(".fn-replay-diff-row h4").first.text_content()
    )
    page.uncheck("#fn-replay-only-different")
    assert page.locator("#fn-replay-results tr.fn-replay-row").count() == 6
    shot("replay-panel")


def test_replay_panel_reports_bad_scripted_responses(browser_page, workspace, tracking_source, owner):
    page, login, _ = browser_page
    function = FunctionFactory(workspace=workspace, code=FORWARD)
    InstanceFactory(function=function, source=tracking_source)
    login(owner)
    page.goto(f"/admin/catalog/function/{function.pk}/change/")
    page.click("#fn-replay details summary")
    page.fill("#fn-replay-answers", json.dumps([{"status": 500}]))
    page.click("#fn-replay-start")
    error = page.locator("#fn-replay-error")
    error.wait_for(state="visible")
    assert "urlPattern" in error.text_content()


def test_canary_tab_side_by_side_then_promote(browser_page, workspace, tracking_source, owner, httpserver):
    page, login, shot = browser_page
    httpserver.expect_request("/sink").respond_with_json({"ok": True})
    function = FunctionFactory(workspace=workspace, code=code("v1"), display_name="Tagged")
    instance = InstanceFactory(
        function=function,
        source=tracking_source,
        name="tagged",
        settings={"url": httpserver.url_for("/sink")},
    )
    v2 = function_save(function=function, author=owner, code=code("v2"))
    canary = canary_services.canary_start(
        instance=instance, version=v2, percent=40, max_events=10_000, requested_by=owner
    )
    deliver(instance_id=instance.pk, events=events(40))
    login(owner)
    page.goto(f"/admin/runtime/functioninstance/{instance.pk}/change/#canary")
    panel = page.locator("#fn-canary-panel")
    panel.wait_for(state="visible")
    figures = canary_services.canary_figures(canary_id=canary.pk)
    assert page.locator('#fn-canary-arms [data-arm="new"][data-figure="events"]').text_content() == str(
        figures["new"]["events"]
    )
    assert page.locator('#fn-canary-arms [data-arm="base"][data-figure="events"]').text_content() == str(
        figures["base"]["events"]
    )
    assert page.locator('#fn-canary-arms [data-arm="new"][data-figure="errorRate"]').text_content() == "0 %"
    shot("canary-tab")
    page.click("#fn-canary-promote")
    page.wait_for_selector("#fn-canary-status")
    assert page.locator("#fn-canary-status").text_content() == CanaryStatus.PROMOTED
    assert FunctionInstance.objects.get(pk=instance.pk).deployed_version == v2


def test_canary_tab_starts_and_aborts(browser_page, workspace, tracking_source, owner):
    page, login, _ = browser_page
    function = FunctionFactory(workspace=workspace, code=code("v1"))
    instance = InstanceFactory(
        function=function, source=tracking_source, settings={"url": "https://example.com"}
    )
    function_save(function=function, author=owner, code=code("v2"))
    login(owner)
    page.goto(f"/admin/runtime/functioninstance/{instance.pk}/change/#canary")
    page.fill("#fn-canary-percent", "25")
    page.click("#fn-canary-start-button")
    page.wait_for_selector("#fn-canary-abort")
    canary = Canary.objects.get(instance=instance)
    assert (canary.percent, canary.status) == (25, CanaryStatus.ACTIVE)
    page.click("#fn-canary-abort")
    page.wait_for_selector("#fn-canary-status")
    assert page.locator("#fn-canary-status").text_content() == CanaryStatus.ABORTED


def test_save_and_deploy_as_a_canary(browser_page, workspace, tracking_source, owner):
    page, login, _ = browser_page
    function = FunctionFactory(workspace=workspace, code=code("v1"), display_name="Canaried")
    instance = InstanceFactory(
        function=function, source=tracking_source, settings={"url": "https://example.com"}
    )
    login(owner)
    page.goto(f"/admin/catalog/function/{function.pk}/change/")
    page.wait_for_function("() => document.querySelector('.django-ace-widget').editor")
    set_code(page, code("v2"))
    page.click("#fn-save-deploy")
    page.check("#fn-deploy-mode-canary")
    page.fill("#fn-deploy-dialog [name=canary-percent]", "20")
    page.select_option("#fn-deploy-dialog [name=canary-duration]", "900")
    page.click("#fn-deploy-confirm")
    page.wait_for_selector(".messagelist")
    assert "canary on 1 instance" in page.inner_text(".messagelist")
    canary = Canary.objects.get(instance=instance)
    assert (canary.percent, canary.status, canary.version.number) == (20, CanaryStatus.ACTIVE, 2)
    assert FunctionInstance.objects.get(pk=instance.pk).deployed_version.number == 1
