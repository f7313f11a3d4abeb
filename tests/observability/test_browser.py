"""In Chromium: the Event delivery tab's range picker and charts, and replaying dead letters
from the admin list (strict CSP: the page's own static files only; a violation fails)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from runtime.models import DeadLetter, DeliveryStat
from runtime.pipeline.dead_letters import dead_letter_create
from tests.browser import assert_fits
from tests.factories import InstanceFactory
from tests.pipeline.conftest import SINK_DESTINATION, make_function

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_delivery_ranges_and_charts(browser_page, owner, workspace, source):
    page, login, shot = browser_page
    instance = InstanceFactory(
        function=make_function(workspace, SINK_DESTINATION, display_name="Charted"), source=source
    )
    now = timezone.now()
    for hours in range(0, 24 * 7, 2):
        DeliveryStat.objects.create(
            instance=instance, bucket=now - timedelta(hours=hours, minutes=1), delivered=10 + hours % 7,
            failed=hours % 3, latency={"25": 8, "250": 2, "2500": hours % 2},
        )  # fmt: skip
    login(owner)
    page.goto(f"/admin/runtime/functioninstance/{instance.pk}/change/#delivery")
    page.wait_for_selector("#fn-delivery-chart")
    assert page.is_visible("#fn-range-picker")
    assert "last 24 hours" in page.inner_text("#fn-delivery h2")
    assert page.locator("#fn-range-picker a.active").inner_text() == "24 hours"
    shot("obs-01-delivery-24h")
    page.click("#fn-range-picker a[data-range='7d']")
    page.wait_for_url("**range=7d**")
    page.wait_for_selector("#fn-delivery-chart")
    assert page.is_visible("#fn-delivery")  # the link keeps the tab open
    assert "last 7 days" in page.inner_text("#fn-delivery h2")
    widths = page.eval_on_selector_all(
        "#fn-delivery-chart rect", "els => els.map(e => e.getBoundingClientRect().width)"
    )
    assert widths and min(widths) >= 10  # a week reads as 28 bars, not 168 slivers
    assert (
        len(
            set(
                page.eval_on_selector_all(
                    "#fn-delivery-chart rect", "els => els.map(e => e.getAttribute('x'))"
                )
            )
        )
        <= 28
    )
    for name in ("p50", "p95", "p99"):
        assert page.locator(f"#fn-latency-chart polyline.fn-line-{name}").count() == 1
    assert page.locator("#fn-rate-chart circle").count() >= 20
    assert "%" in page.inner_text("#fn-metric-error-rate")
    assert page.inner_text("#fn-metric-p50").startswith("≤ 25 ms")
    shot("obs-02-delivery-7d")
    page.click("#fn-range-picker a[data-range='1h']")
    page.wait_for_url("**range=1h**")
    assert "one bar per 5 minutes" in page.inner_text("#fn-delivery")
    assert_fits(page, "delivery tab")


def test_replay_dead_letters_from_the_admin(browser_page, owner, workspace, source, httpserver):
    page, login, shot = browser_page
    httpserver.expect_request("/sink").respond_with_json({"ok": True})
    function = make_function(workspace, SINK_DESTINATION, display_name="Replayable")
    instance = InstanceFactory(
        function=function, source=source, name="replay me", settings={"url": httpserver.url_for("/sink")}
    )
    events = [{"type": "track", "event": f"e{i}", "userId": "u", "messageId": f"br-{i}"} for i in range(3)]
    dead_letter_create(
        instance=instance, items=events[:2], error={"type": "TypeError", "message": "v1 broke"}
    )
    dead_letter_create(
        instance=instance,
        items=events[2:],
        error={"type": "RetryError", "message": "later"},
        category="retry",
    )
    login(owner)
    page.goto("/admin/runtime/deadletter/")
    assert page.locator("#result_list tbody tr").count() == 3
    page.click("#changelist-filter a:has-text('Bad Request')")
    page.wait_for_url("**category__exact=bad_request**")
    assert page.locator("#result_list tbody tr").count() == 2
    shot("obs-03-dead-letters")
    page.check("#action-toggle")
    page.select_option("select[name=action]", "replay")
    page.click("button[name=index]")
    page.wait_for_selector(".messagelist")
    message = page.inner_text(".messagelist")
    assert "replaying 2 dead letters" in message and "2 delivered" in message, message
    assert sorted(DeadLetter.objects.values_list("message_id", flat=True)) == ["br-2"]
    sent = sorted(req.get_json()["messageId"] for req, _ in httpserver.log if req.path == "/sink")
    assert sent == ["br-0", "br-1"]
    page.goto("/admin/runtime/deadletterreplay/")
    assert "2 / 2" in page.inner_text("#result_list")
    shot("obs-04-replays")
