import pytest

from runtime import preflight


@pytest.fixture(autouse=True)
def _fresh_preflight_cache():
    # Each test decides what the sandbox answers; a memo from another test must not leak in.
    preflight._PREFLIGHT_CACHE.clear()
    preflight._PREFLIGHT_BY_VERSION.clear()
    yield
    preflight._PREFLIGHT_CACHE.clear()
    preflight._PREFLIGHT_BY_VERSION.clear()
