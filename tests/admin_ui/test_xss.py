"""Stored XSS: markup in every free-text field of every model, then every admin page, as a
superuser and as a read-only user, in a real browser. No page may run it (no dialog), and no
element of it may exist in the DOM (which would show an escaping hole even where the
Content-Security-Policy stops the script)."""

import json

import pytest
from django.contrib import admin
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType

from catalog.models import Function
from catalog.services import capture_store, function_create, function_save
from runtime.models import Deployment, ErrorLog, IngestDrop
from runtime.pipeline.samples import samples_record
from runtime.services import instance_create
from tests.factories import UserFactory
from workspaces.models import AuditEvent
from workspaces.services import access_token_create, role_grant, source_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Element, attribute and URL contexts; each injected element carries data-xss so that the
# check finds it whether or not the browser (or the CSP) ran it.
MARKUP = (
    "<script data-xss>alert(1)</script><img src=x onerror=alert(1) data-xss>"
    "\"><svg onload=alert(1) data-xss></svg>'><img src=x onerror=alert(2) data-xss>"
    "</textarea></pre></title><iframe data-xss src=javascript:alert(3)></iframe>"
)
# For fields of 100 characters or less (names, labels).
SHORT = '<img src=x onerror=alert(1) data-xss>"><svg onload=alert(1) data-xss>'
JS_URL = "javascript:alert(4)"
CODE = f"// {MARKUP}\nasync function onTrack(event, settings) {{\n  console.log({json.dumps(MARKUP)});\n  throw new Error({json.dumps(MARKUP)});\n}}\n"
SOURCE_CODE = f"// {MARKUP}\nasync function onRequest(request, settings) {{\n  Segment.track({{event: 'E', userId: 'u'}});\n}}\n"
INJECTED = "[data-xss], [onerror], [onload], a[href^='javascript:' i], img[src^='javascript:' i], iframe"


@pytest.fixture
def poisoned(workspace, owner, read_only):
    workspace.name = SHORT
    workspace.save()
    group = Group.objects.create(name=SHORT)
    owner.first_name, owner.last_name = SHORT, SHORT
    owner.save()
    marked = UserFactory(username=f"<svg onload=alert(5) data-xss>{'x' * 10}")
    role_grant(workspace=workspace, role="functions-read-only", user=marked)
    role_grant(workspace=workspace, role="source-read-only", group=group)

    settings = [
        {"label": f"Key {SHORT}", "description": MARKUP},
        {"label": "Flag", "type": "BOOLEAN", "description": MARKUP},
        {"label": "List", "type": "ARRAY", "description": MARKUP},
        {"label": "Map", "type": "TEXT_MAP", "description": MARKUP},
        {"label": "Secret", "sensitive": True, "description": MARKUP},
    ]
    destination = function_create(
        workspace=workspace, resource_type="DESTINATION", display_name=f"Dest {SHORT}",
        description=MARKUP, code=CODE, settings=settings, created_by=owner,
    )  # fmt: skip
    function_save(function=destination, author=marked, code=CODE + f"// v2 {MARKUP}\n", settings=settings[:2])
    Function.objects.filter(pk=destination.pk).update(logo_url=JS_URL)  # past the validator

    source = source_create(workspace=workspace, name=SHORT, actor=owner)
    key = next(i["name"] for i in destination.latest_version.settings_schema if i["label"].startswith("Key"))
    instance = instance_create(
        function=destination, name=SHORT, source=source, created_by=owner,
        settings={key: MARKUP, "list": [MARKUP], "map": {MARKUP: MARKUP}, "secret": MARKUP},
    )  # fmt: skip
    hook_function = function_create(
        workspace=workspace, resource_type="SOURCE", display_name=f"Hook {SHORT}",
        code=SOURCE_CODE, created_by=owner,
    )  # fmt: skip
    hook = instance_create(function=hook_function, name=f"Hook {SHORT}", created_by=owner)
    enricher = function_create(
        workspace=workspace, resource_type="INSERT_DESTINATION", display_name=f"Insert {SHORT}",
        created_by=owner,
    )  # fmt: skip
    instance_create(function=enricher, name=f"Insert {SHORT}", destination=instance, created_by=owner)

    Deployment.objects.create(
        instance=instance, version=destination.latest_version, status="FAILED", error=MARKUP
    )
    ErrorLog.objects.create(
        instance=instance, category="internal", error_type=SHORT, message=MARKUP, stack=MARKUP,
        input={MARKUP: MARKUP, "url": JS_URL}, logs=[{"level": MARKUP, "message": MARKUP}],
        requests=[{"method": MARKUP, "url": JS_URL, "status": None, "error": MARKUP, "duration_ms": 1}],
    )  # fmt: skip
    IngestDrop.objects.create(source=source, code="bad_request", message=MARKUP, event={MARKUP: MARKUP})
    AuditEvent.objects.create(
        workspace=workspace, action="updated", object_type=SHORT[:40], object_id=SHORT[:64],
        object_repr=MARKUP, version_id=SHORT[:32], data={MARKUP: MARKUP},
    )  # fmt: skip
    token, _ = access_token_create(workspace=workspace, user=owner, name=SHORT)
    capture_store(
        function=hook_function,
        method="POST",
        headers={"X-Mark": MARKUP},
        query={MARKUP: [MARKUP]},
        body=MARKUP,
    )
    samples_record(
        source.pk, [{"type": "track", "event": MARKUP, "userId": MARKUP, "properties": {MARKUP: MARKUP}}]
    )
    LogEntry.objects.create(
        user=owner, content_type=ContentType.objects.get_for_model(Function), object_id=str(destination.pk),
        object_repr=SHORT, action_flag=CHANGE, change_message=MARKUP,
    )  # fmt: skip
    return {"destination": destination, "instance": instance, "hook": hook, "source": source, "token": token}


def every_admin_page(world) -> list[str]:
    """The changelist of every registered admin and the change, history and delete pages of
    (up to three of) its objects, the add pages, the custom pages, the index and app pages."""
    urls = ["/admin/", "/admin/workspaces/", "/admin/catalog/", "/admin/runtime/", "/admin/auth/"]
    for model, model_admin in admin.site._registry.items():
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        urls += [base, f"{base}?q=%3Cscript%3E", f"{base}add/"]
        for pk in model_admin.get_queryset(_superuser_request()).values_list("pk", flat=True)[:3]:
            urls += [f"{base}{pk}/change/", f"{base}{pk}/history/", f"{base}{pk}/delete/"]
    destination = world["destination"]
    versions = list(destination.versions.order_by("number"))
    functions = Function.objects.all()
    urls += [f"/admin/runtime/functioninstance/add/?function={f.pk}" for f in functions]
    urls += [f"/admin/catalog/function/add/?resource_type={t}" for t in ("DESTINATION", "SOURCE")]
    urls += [
        "/admin/catalog/function/new/",
        f"/admin/catalog/function/{destination.pk}/versions/",
        f"/admin/catalog/function/{destination.pk}/versions/?old={versions[0].public_id}&new={versions[1].public_id}&mode=unified",
        f"/admin/catalog/function/{destination.pk}/change/?deployed={destination.latest_version.public_id}",
        f"/admin/workspaces/workspace/{destination.workspace_id}/members/",
        f"/admin/runtime/functioninstance/{world['instance'].pk}/change/#errors",
        f"/admin/runtime/functioninstance/{world['instance'].pk}/change/#delivery",
    ]
    return urls


def _superuser_request():
    class Request:
        user = UserFactory(username="root", is_superuser=True)

    return Request()


def visit_all(page, urls) -> list[str]:
    problems = []
    for url in urls:
        response = page.goto(url)
        page.wait_for_load_state("load")
        if response is not None and response.status >= 500:
            problems.append(f"{url}: HTTP {response.status}")
        found = page.evaluate(
            f"Array.from(document.querySelectorAll({json.dumps(INJECTED)})).map(e => e.outerHTML.slice(0, 80))"
        )
        problems += [f"{url}: injected {html}" for html in found]
    return problems


def test_no_admin_page_runs_or_renders_stored_markup(browser_page, poisoned, read_only):
    page, login, shot = browser_page
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(f"{page.url}: {dialog.message}"), dialog.dismiss()))
    root = UserFactory(username="root", is_superuser=True)
    login(root)
    problems = visit_all(page, every_admin_page(poisoned))

    # Pages whose JS fills in user data: the test pane's recent events, a test run's output and
    # the source function's captured request.
    page.goto(f"/admin/catalog/function/{poisoned['destination'].pk}/change/")
    page.select_option("#fn-recent-source", poisoned["source"].public_id)
    page.wait_for_selector("#fn-recent-event:not([hidden])")
    page.select_option("#fn-recent-event", "0")
    page.click("#fn-run")
    page.wait_for_selector("#fn-output:not([hidden])")
    page.wait_for_function(
        "() => document.getElementById('fn-error-message').textContent.includes('<script')"
    )
    problems += visit_all(page, [])  # the current page, after the JS ran
    found = page.evaluate(f"document.querySelectorAll({json.dumps(INJECTED)}).length")
    problems += [f"editor after a run: {found} injected elements"] if found else []
    page.goto(f"/admin/catalog/function/{poisoned['hook'].function.pk}/change/")
    page.wait_for_function(
        "() => document.getElementById('fn-capture-status').textContent.includes('received')"
    )
    found = page.evaluate(f"document.querySelectorAll({json.dumps(INJECTED)}).length")
    problems += [f"source editor after a capture: {found} injected elements"] if found else []
    shot("50-xss-editor")

    # A read-only user gets other renderings: the read-only code view, masked settings in <pre>.
    page.context.clear_cookies()
    login(read_only)
    readable = [
        f"/admin/catalog/function/{poisoned['destination'].pk}/change/",
        f"/admin/runtime/functioninstance/{poisoned['instance'].pk}/change/",
        f"/admin/runtime/functioninstance/{poisoned['hook'].pk}/change/",
        f"/admin/workspaces/source/{poisoned['source'].pk}/change/",
        "/admin/catalog/function/",
        "/admin/runtime/errorlog/",
    ]
    problems += visit_all(page, readable)
    assert dialogs == []
    assert problems == []


def policy_of(response) -> dict:
    directives = [part.strip().split() for part in response["Content-Security-Policy"].split(";")]
    return {d[0]: d[1:] for d in directives if d}


def test_every_page_sends_the_security_headers(client, owner, poisoned):
    client.force_login(owner)
    pages = ["/admin/", f"/admin/catalog/function/{poisoned['destination'].pk}/change/", "/admin/login/"]
    for url in [*pages, "/api/docs"]:
        response = client.get(url)
        policy = policy_of(response)
        assert policy["script-src"] == ["'self'"], url  # no inline script, no eval, anywhere
        assert policy["object-src"] == policy["frame-ancestors"] == policy["base-uri"] == ["'none'"]
        assert response["X-Content-Type-Options"] == "nosniff"
        if url != "/api/docs":  # Swagger UI's React styles are the one exception
            assert policy["style-src"] == ["'self'"], url


def test_api_docs_work_under_the_policy(browser_page):
    page, _, _ = browser_page
    page.goto("/api/docs")
    page.wait_for_selector(".swagger-ui .opblock", timeout=20000)
    assert page.locator(".swagger-ui .opblock").count() > 10
