"""Browser tests: the source-function editor (test webhook, Connect Source), recent events of a
source in a destination's test pane, read-only pages, and the JS setting-name rule against the
Python one."""

import json
from urllib.parse import urlparse

import pytest
import requests
from django.core.cache import cache

from catalog.services import function_create
from catalog.validation import setting_name_from_label
from runtime.models import FunctionInstance
from runtime.services import instance_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SOURCE_CODE = """
async function onRequest(request, settings) {
  const body = request.json();
  console.log('signature', request.headers.get('X-Signature'));
  Segment.track({event: body.event, userId: body.user, properties: {plan: settings.plan}});
}
"""
SECRET = "sk_browser_never_shown_5"


@pytest.fixture
def source_function(workspace, owner):
    return function_create(
        workspace=workspace,
        resource_type="SOURCE",
        display_name="Billing webhooks",
        code=SOURCE_CODE,
        settings=[{"label": "Plan"}, {"label": "Signing Secret", "sensitive": True, "required": True}],
        created_by=owner,
    )


def test_source_function_test_webhook_fills_the_form_and_runs(
    browser_page, live_server, owner, source_function
):
    page, login, shot = browser_page
    login(owner)
    page.goto(f"/admin/catalog/function/{source_function.pk}/change/")
    webhook = page.inner_text("#fn-preview-webhook")
    assert webhook.endswith(f"/hooks/test/{source_function.preview_token}")
    assert page.is_visible("#fn-headers") and not page.is_visible("#fn-event-body")

    # Whatever sends the webhook reaches this server; the pane polls and fills the form.
    sent = requests.post(
        f"{live_server.url}/hooks/test/{source_function.preview_token}",
        json={"event": "Upgraded", "user": "u-9"},
        headers={"X-Signature": "abc"},
        timeout=10,
    )
    assert sent.status_code == 200
    page.wait_for_function(
        "() => document.getElementById('fn-capture-status').textContent.includes('received')"
    )
    assert '"Upgraded"' in page.input_value("#fn-source-body")
    headers = page.locator(".fn-header-name").evaluate_all("els => els.map(e => e.value)")
    assert "X-Signature" in headers
    page.fill("#fn-test-setting-plan", "gold")
    page.fill("#fn-test-setting-signingSecret", "whsec")
    page.click("#fn-run")
    page.wait_for_selector("#fn-emitted-box:not([hidden])")
    emitted = page.inner_text("#fn-emitted")
    assert "Upgraded" in emitted and "gold" in emitted and "signature abc" in page.inner_text("#fn-logs")
    shot("20-source-test-webhook")

    # Connect Source: settings form from the schema, then the webhook URL with a copy button.
    page.click("a.fn-connect")
    page.wait_for_url("**/functioninstance/add/**")
    assert page.locator("label", has_text="Signing Secret *").count() == 1
    page.fill("input[name=name]", "Billing")
    page.fill("input[name=setting__plan]", "gold")
    page.fill("input[name=setting__signingSecret]", SECRET)
    page.click("input[name=_save]")
    page.wait_for_selector("#fn-webhook-url")
    instance = FunctionInstance.objects.get(name="Billing")
    assert page.inner_text("#fn-webhook-url") == instance.source.webhook_url
    assert page.locator("button.fn-copy-btn[data-copy='#fn-webhook-url']").count() == 1
    assert SECRET not in page.content()
    assert page.input_value("input[name=setting__signingSecret]") == ""  # write-only
    shot("21-source-connected")


def test_recent_event_of_a_source_fills_the_test_pane(
    browser_page, live_server, owner, function, source, other_source
):
    cache.clear()  # the live server runs in this process: same local-memory cache
    for body in (
        {"event": "Signed Up", "userId": "u-1"},
        {"event": "Order Completed", "userId": "u-2", "properties": {"total": 9}},
    ):
        sent = requests.post(
            f"{live_server.url}/v1/track", json=body, auth=(source.write_key, ""), timeout=30
        )
        assert sent.status_code == 200, sent.text
    page, login, shot = browser_page
    login(owner)
    page.goto(f"/admin/catalog/function/{function.pk}/change/")
    assert page.input_value("#fn-sample-select") == "track"  # the templates stay
    page.select_option("#fn-recent-source", source.public_id)
    page.wait_for_selector("#fn-recent-event:not([hidden])")
    labels = page.locator("#fn-recent-event option").all_inner_texts()
    assert labels[1].startswith("track · Order Completed · ") and labels[2].startswith("track · Signed Up")
    page.select_option("#fn-recent-event", "0")
    event = json.loads(page.input_value("#fn-event-body"))
    assert event["event"] == "Order Completed" and event["properties"] == {"total": 9}
    assert event["receivedAt"] and "writeKey" not in event
    assert page.input_value("#fn-sample-select") == ""
    shot("25-recent-event")
    page.select_option("#fn-recent-source", other_source.public_id)
    page.wait_for_function(
        "() => document.getElementById('fn-recent-status').textContent.includes('No recent')"
    )
    assert page.is_hidden("#fn-recent-event")
    cache.clear()


def test_read_only_user_sees_pages_without_edit_controls(browser_page, read_only, source, workspace):
    function = function_create(
        workspace=workspace,
        resource_type="DESTINATION",
        display_name="Shown",
        settings=[{"label": "API Key", "sensitive": True}],
    )
    instance = instance_create(
        function=function, name="Shown instance", source=source, settings={"apiKey": SECRET}
    )
    page, login, shot = browser_page
    login(read_only)
    page.goto("/admin/catalog/function/")
    assert page.locator("#fn-new-function").count() == 0 and "Shown" in page.inner_text("#result_list")
    shot("30-read-only-catalog")
    page.goto(f"/admin/catalog/function/{function.pk}/change/")
    for selector in (
        "#fn-run",
        "#fn-save-deploy",
        "input[name=_save]",
        "textarea[name=code]",
        "a.fn-connect",
        "#fn-test-pane",
    ):
        assert page.locator(selector).count() == 0, selector
    page.wait_for_function("() => document.querySelector('.fn-code-readonly .django-ace-widget').editor")
    editor = "document.querySelector('.fn-code-readonly .django-ace-widget').editor"
    shot("31-read-only-function")
    page.evaluate(f"{editor}.focus()")
    page.keyboard.type("TYPED")
    code = page.evaluate(f"{editor}.getValue()")  # highlighted, but not editable
    assert "async function onTrack" in code and "TYPED" not in code
    page.click("#fn-history-link")
    page.wait_for_url("**/versions/")
    assert page.locator("button.fn-restore").count() == 0
    page.goto(f"/admin/runtime/functioninstance/{instance.pk}/change/")
    assert page.locator("input[name=_save]").count() == 0 and SECRET not in page.content()
    page.click("#fn-errors-tab")
    shot("32-read-only-instance")


LABELS = [
    "API Key",
    "api key",
    "IAM Role ARN",
    "IAM Role External ID",
    "S3 Bucket Region",
    "  x-y_z  ",
    "Template ID",
    "élan vital 2",
    "",
    "123 go",
    "URL",
    "a.b.c",
]


def test_js_setting_name_rule_matches_python(browser_page, owner):
    page, login, _ = browser_page
    login(owner)
    page.goto("/admin/catalog/function/add/?resource_type=DESTINATION")
    names = page.evaluate("labels => labels.map(window.fnSettingName)", LABELS)
    assert names == [setting_name_from_label(label) for label in LABELS]


def test_editor_lints_offline(browser_page, owner):
    page, login, shot = browser_page
    outside = []

    def record(request):
        parsed = urlparse(request.url)
        if parsed.scheme in ("http", "https") and parsed.hostname not in ("localhost", "127.0.0.1"):
            outside.append(request.url)

    page.on("request", record)
    login(owner)
    page.goto("/admin/catalog/function/add/?resource_type=DESTINATION")
    page.wait_for_function("() => document.querySelector('.django-ace-widget').editor")
    page.evaluate(
        "document.querySelector('.django-ace-widget').editor.setValue('async function onTrack(event) {\\n"
        "  return event.;\\n}', -1)"
    )
    page.wait_for_function(
        "() => document.querySelector('.django-ace-widget').editor.getSession().getAnnotations()"
        ".some(a => a.type === 'error')"
    )
    annotation = page.evaluate(
        "document.querySelector('.django-ace-widget').editor.getSession().getAnnotations()[0]"
    )
    assert annotation["row"] == 1 and "identifier" in annotation["text"]
    assert (
        page.evaluate("document.querySelector('.django-ace-widget .ace_editor, .ace_editor').offsetHeight")
        >= 500
    )
    shot("40-lint")
    assert outside == []
