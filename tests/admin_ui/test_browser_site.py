"""Browser: no dead ends. The landing page and "View site", styled 403/404 pages, /api/ and
/api/docs/, the favicon, the members page, and read-only users' pages (no delete action,
settings as a table)."""

import pytest

from catalog.services import function_create
from runtime.services import instance_create
from tests.browser import assert_fits

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SECRET = "sk_browser_masked_31"


def test_landing_error_pages_api_root_and_favicon(browser_page, owner, read_only, workspace):
    page, login, shot = browser_page
    page.goto("/")
    assert "Segment-compatible Functions" in page.inner_text("h1")
    assert_fits(page, "landing page")
    shot("30-landing")
    page.click("#site-open-admin")
    page.wait_for_url("**/admin/login/**")

    login(owner)
    icon = page.get_attribute("link[rel=icon]", "href")
    assert page.request.get(icon).ok and page.request.get("/favicon.ico").ok
    page.click("#user-tools a[href='/']")  # "View site"
    page.wait_for_url(lambda url: url.endswith("/"))
    assert "Continue to the admin" in page.inner_text("#site-open-admin")

    page.goto("/admin/catalog/function/987654/change/")
    assert page.inner_text("#site-error .site-status") == "404"
    assert "outside what you may see" in page.inner_text("#site-error")
    assert_fits(page, "404 page")
    shot("31-not-found")

    page.goto("/api/docs/")
    page.wait_for_selector(".swagger-ui")
    assert page.url.endswith("/api/docs")
    page.goto("/api/")  # a browser asking for the API root lands on its reference
    assert page.url.endswith("/api/docs")
    assert (
        "/api/docs"
        in page.request.get("/api/", headers={"Accept": "application/json"}).json()["data"]["docs"]
    )

    page.context.clear_cookies()
    login(read_only)
    page.goto("/admin/catalog/function/new/")
    assert page.inner_text("#site-error .site-status") == "403"
    assert "You may not do this" in page.inner_text("#site-error h1")
    shot("32-forbidden")


def test_members_page_is_styled_least_privilege_first_with_revoke(browser_page, owner, read_only, workspace):
    page, login, shot = browser_page
    login(owner)
    page.goto(f"/admin/workspaces/workspace/{workspace.pk}/members/")
    assert page.locator("select[name=role-role]").input_value() == "functions-read-only"
    assert page.locator("#fn-grants .fn-revoke-grant").count() >= 2  # owner's and read-only's grants
    assert page.locator("#fn-members tr[data-member=readonly] .fn-remove-member").is_visible()
    assert_fits(page, "members page")
    shot("33-members")
    row = page.locator("#fn-grants tbody tr", has_text="readonly").filter(has_text="functions-read-only")
    row.locator(".fn-revoke-grant").click()
    page.wait_for_selector(".messagelist")
    assert (
        page.locator("#fn-grants tbody tr", has_text="readonly")
        .filter(has_text="functions-read-only")
        .count()
        == 0
    )


def test_read_only_user_sees_no_delete_and_a_settings_table(browser_page, read_only, workspace, source):
    page, login, shot = browser_page
    function = function_create(
        workspace=workspace,
        resource_type="DESTINATION",
        display_name="Masked",
        settings=[
            {"label": "API Key", "sensitive": True},
            {"label": "Region"},
            {"label": "Tags", "type": "ARRAY"},
        ],
    )
    instance = instance_create(
        function=function,
        name="Masked instance",
        source=source,
        settings={"apiKey": SECRET, "region": "eu", "tags": ["a", "b"]},
    )
    login(read_only)
    for url in ("/admin/catalog/function/", "/admin/runtime/functioninstance/", "/admin/workspaces/source/"):
        page.goto(url)
        options = page.locator("select[name=action] option").evaluate_all("els => els.map(e => e.value)")
        assert "delete_selected" not in options, url
    page.goto(f"/admin/runtime/functioninstance/{instance.pk}/change/")
    table = page.locator("#fn-settings-table")
    assert table.locator("tr[data-setting=apiKey] td").inner_text().startswith("••••••••")
    assert table.locator("tr[data-setting=region] td").inner_text() == "eu"
    assert table.locator("tr[data-setting=tags] td").inner_text() == "a\nb"
    assert SECRET not in page.content() and "\\u2022" not in page.content()
    assert page.locator("a.deletelink").count() == 0
    assert_fits(page, "read-only instance page")
    shot("34-read-only-settings")
