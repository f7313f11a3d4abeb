import pytest

from runtime import services


@pytest.fixture(autouse=True)
def _fresh_preflight_cache():
    # Each test decides what the sandbox answers; a memo from another test must not leak in.
    services._PREFLIGHT_CACHE.clear()
    services._PREFLIGHT_BY_VERSION.clear()
    yield
    services._PREFLIGHT_CACHE.clear()
    services._PREFLIGHT_BY_VERSION.clear()
