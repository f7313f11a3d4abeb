"""What the API shows each persona inside the answers it may read: lists hold only what the
persona may see, credentials only for those who manage them. Every endpoint x persona status
(and that refused writes change nothing) is tests/permission_matrix.API_ROWS."""

import pytest


@pytest.fixture
def ids(function, second_function, source, foreign_function):
    return {
        "function": function.public_id,
        "second_function": second_function.public_id,
        "source": source.public_id,
        "foreign_function": foreign_function.public_id,
    }


def test_lists_show_only_what_the_persona_may_see(personas, api_as, ids):
    def function_ids(persona):
        return {f["id"] for f in api_as(personas[persona]).get("/api/functions").json()["data"]["functions"]}

    assert function_ids("owner") == {ids["function"], ids["second_function"]}
    assert function_ids("functions_admin_list") == {ids["function"]}
    assert function_ids("source_admin") == set()
    assert function_ids("outsider") == {ids["foreign_function"]}


def test_write_key_only_for_source_managers(personas, api_as, ids, source):
    def shown(persona):
        return api_as(personas[persona]).get(f"/api/sources/{ids['source']}").json()["data"]["source"]

    assert shown("source_admin")["writeKey"] == source.write_key
    assert shown("owner")["writeKey"] == source.write_key
    assert shown("read_only")["writeKey"] is None
