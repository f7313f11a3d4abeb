"""Fixtures for the admin editor tests. The browser itself (`chromium`, `browser_page`) is
session-wide, in tests/browser.py."""

import pytest


@pytest.fixture(scope="session")
def httpserver_listen_address():
    # The sandbox's egress allow-list in settings_test names 127.0.0.1, not "localhost".
    return ("127.0.0.1", 0)
