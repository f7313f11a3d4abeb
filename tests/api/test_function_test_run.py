"""One function_test_run serves the editor's Run, the API's preview and the test cases: each runs
with the function's own timeout (the sandbox's default for a function not created yet)."""

import json

import pytest
from django.urls import reverse

from catalog.services import function_save, function_test_run

SLOW = "async function onTrack() { await new Promise((resolve) => setTimeout(resolve, 1500)); return 'late' }"


@pytest.fixture
def short_timeout(function, owner):
    function_save(function=function, author=owner, timeout_ms=300)
    function.refresh_from_db()
    return function


def test_the_service_runs_with_the_timeout_given():
    result = function_test_run(
        code=SLOW, resource_type="DESTINATION", payload={"type": "track"}, settings={}, timeout_ms=300
    )
    assert result.status == "error" and result.error["type"] == "Timeout"


def test_the_editors_run_honours_the_functions_timeout(login, owner, short_timeout):
    body = {"code": SLOW, "payload": {"type": "track"}, "settings": {}, "function": short_timeout.pk}
    response = login(owner).post(
        reverse("admin:catalog_function_test"), json.dumps(body), content_type="application/json"
    )
    result = response.json()
    assert response.status_code == 200 and result["status"] == "error"
    assert result["error"]["type"] == "Timeout"


def test_the_api_preview_honours_the_functions_timeout(api, short_timeout):
    response = api.post(
        f"/api/functions/{short_timeout.public_id}/preview",
        {"payload": {"type": "track"}, "code": SLOW},
        format="json",
    )
    result = response.json()["data"]["result"]
    assert response.status_code == 200 and result["error"]["type"] == "Timeout"
