"""The API personas' clients (tests/api/conftest.py) for the web-security tests."""

from tests.api.conftest import api, api_as, token_for  # noqa: F401
