"""The real browser every admin page test drives: Debian's chromium under Playwright.

Registered for the whole suite from tests/conftest.py. Playwright's sync API keeps its event
loop running in this thread for as long as it is open, so a second `sync_playwright()` in the
same session fails: there is one session-wide `chromium` fixture, never one per directory.

Browser tests skip when chromium is missing, except under REQUIRE_SERVICES=1 (CI), where a
missing browser is a failure.
"""

import os
import shutil
from pathlib import Path

import pytest

# Django's ORM refuses to run beside a running event loop unless told it may.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "screenshots"
CSP_RECORDER = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error("Content Security Policy violation: " + e.violatedDirective + " " + e.blockedURI);
});
"""
VIEWPORTS = [{"width": 1280, "height": 800}, {"width": 1920, "height": 1080}]


def chromium_path() -> str | None:
    path = os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium"
    return path if os.path.exists(path) else shutil.which("chromium")


@pytest.fixture(scope="session")
def chromium():
    path = chromium_path()
    if path is None:
        message = "chromium is not installed (set CHROMIUM_PATH or apt-get install chromium)"
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def browser_page(chromium, live_server):
    """A fresh browser context on the live server; yields (page, login(user), shot(name))."""
    context = chromium.new_context(base_url=live_server.url, viewport={"width": 1500, "height": 1000})
    # Every page is checked against the Content-Security-Policy: a violation means inline script
    # or style, or a source the policy does not allow (docs/access-control.md).
    context.add_init_script(CSP_RECORDER)
    page = context.new_page()
    page.set_default_timeout(15000)
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None)

    def login(user, password="pw-for-tests-1"):
        page.goto("/admin/login/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", password)
        page.click("input[type=submit]")
        page.wait_for_selector("#user-tools")

    def shot(name):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    yield page, login, shot
    context.close()
    assert not errors, f"JavaScript errors or CSP violations on the page: {errors}"


def assert_fits(page, label=""):
    """The page needs no horizontal scrolling at 1280x800 and at 1920x1080."""
    for size in VIEWPORTS:
        page.set_viewport_size(size)
        page.wait_for_timeout(100)  # layout (and the editor's resize) after the change
        widths = page.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert widths[0] <= widths[1], f"{label} scrolls horizontally at {size}: {widths}"
