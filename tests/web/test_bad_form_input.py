"""The admin's add and change forms with bad values in every field: never a 500, and a form
that is refused (shown again with its errors) changes nothing.

The forms are the permission matrix's FORM_CASES, filled as the owner's browser fills them;
then every text, number and choice field gets the same bad value at once.
"""

import pytest

from tests.permission_matrix import FORM_CASES, changed_tables, form_fields, snapshot
from tests.test_permission_matrix import client_for, fill_placeholders, form_url, world  # noqa: F401

pytestmark = pytest.mark.django_db

# Per class one value (the JSON classes cannot reach a form: the browser sends UTF-8, and
# Django replaces what does not decode).
BAD_VALUES = {
    "non_ascii_digits": "²",
    "thirty_digits": "1" * 30,
    "negative": "-1",
    "nul": "a\x00b",
}
KEEP = {"csrfmiddlewaretoken", "_save", "_continue", "_deploy", "deploy_target"}


@pytest.mark.parametrize("kind", list(BAD_VALUES))
@pytest.mark.parametrize("case", FORM_CASES, ids=[case.name for case in FORM_CASES])
def test_bad_values_in_every_field(client, world, case, kind, django_capture_on_commit_callbacks):  # noqa: F811
    url = form_url(case, world)
    client = client_for(client, world, "owner")
    data = {**form_fields(client.get(url).content.decode())}
    data.update({k: fill_placeholders(v, world) for k, v in case.data.items()})
    bad = BAD_VALUES[kind]
    data = {k: (v if k in KEEP or k.startswith("_") else bad) for k, v in data.items()}
    before = snapshot()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(url, data)
    assert response.status_code < 500, response.content[:500]
    if response.status_code != 302:  # refused: the form again, or a 4xx
        assert changed_tables(before, snapshot()) == []
        assert callbacks == []
