"""The API side of the editable-fields round trip (tests/catalog/test_editable_fields.py)."""

from django.urls import reverse

from catalog.models import FUNCTION_EDITABLE_FIELDS, Function
from catalog.selectors import version_diff
from tests.catalog.test_editable_fields import CRLF_CODE, LF_CODE, NEW_VALUES, admin_post


def api_values():
    return {FUNCTION_EDITABLE_FIELDS[name]: value for name, (value, _) in NEW_VALUES.items()}


def test_api_update_round_trips_every_editable_field(api, function):
    response = api.patch(f"/api/functions/{function.public_id}", api_values(), format="json")
    assert response.status_code == 200, response.content
    answered = response.json()["data"]["function"]
    read = api.get(f"/api/functions/{function.public_id}").json()["data"]["function"]
    function.refresh_from_db()
    for name, (_, stored) in NEW_VALUES.items():
        api_name = FUNCTION_EDITABLE_FIELDS[name]
        assert answered[api_name] == read[api_name] == stored == getattr(function, name), name


def test_api_create_keeps_every_editable_field(api):
    response = api.post("/api/functions", {**api_values(), "resourceType": "DESTINATION"}, format="json")
    assert response.status_code == 200, response.content
    function = Function.objects.get(public_id=response.json()["data"]["function"]["id"])
    for name, (_, stored) in NEW_VALUES.items():
        assert getattr(function, name) == stored, name


def test_api_refuses_a_timeout_out_of_range(api, function):
    response = api.patch(f"/api/functions/{function.public_id}", {"timeoutMs": 10}, format="json")
    assert response.status_code == 422
    function.refresh_from_db()
    assert function.timeout_ms == 5000 and function.versions.count() == 1


def test_one_line_changed_through_the_api_diffs_as_one_line(login, api, owner, function):
    login(owner).post(
        reverse("admin:catalog_function_change", args=[function.pk]), admin_post(function, code=CRLF_CODE)
    )
    changed = LF_CODE.replace("return event.event;", "return event.userId;")
    api.patch(f"/api/functions/{function.public_id}", {"code": changed}, format="json")
    new, old = function.versions.order_by("-number")[:2]
    changes = [line for line in version_diff(old=old, new=new).code.splitlines() if line[:1] in "+-"]
    assert changes == [
        f"--- v{old.number}",
        f"+++ v{new.number}",
        "-  return event.event;",
        "+  return event.userId;",
    ]
