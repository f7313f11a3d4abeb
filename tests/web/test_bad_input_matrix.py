"""Every JSON endpoint × every class of bad input: a 4xx, and nothing written or queued.

Endpoints: every API write (tests/permission_matrix.py API_ROWS), the admin's JSON views, the
Tracking API (/v1/*), a source webhook and the editor's test webhook. Classes: JSON nested far
past the limit (10,000 levels) and one level past it, NaN, Infinity, -Infinity, 1e400, a lone
UTF-16 surrogate in a value and in a key, NUL in a string, a 5,000-digit integer, invalid UTF-8.
Each bad value is put in a real field of a body the endpoint would otherwise accept.
"""

import base64
import json
from unittest import mock

import pytest
from django.urls import reverse

from catalog.starters import starter_code
from runtime.ingest import json_max_depth
from runtime.services import instance_create
from tests.factories import FunctionFactory
from tests.permission_matrix import SNAPSHOT_MODELS, changed_tables, snapshot
from tests.permission_matrix_api import API_ROWS
from workspaces.services import access_token_create

pytestmark = pytest.mark.django_db

BAD = "__BAD__"
# Beyond the permission matrix's tables: what ingest and the test webhook write.
EXTRA_MODELS = ["catalog.capturedrequest", "runtime.ingestdrop", "runtime.ingestdropcount"]


@pytest.fixture(autouse=True)
def every_table(monkeypatch):
    monkeypatch.setattr("tests.permission_matrix.SNAPSHOT_MODELS", [*SNAPSHOT_MODELS, *EXTRA_MODELS])


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


BAD_VALUES = {
    "deep_10000": nested(10_000),
    "deep_900": nested(900),  # parses in Python, but no page or sandbox could take it
    "deep_limit_plus_one": None,  # filled per run from json_max_depth()
    "nan": "NaN",
    "infinity": "Infinity",
    "minus_infinity": "-Infinity",
    "1e400": "1e400",
    "lone_surrogate": '"a\\ud800b"',
    "lone_low_surrogate": '"\\udc00"',
    "surrogate_key": '{"\\ud800": "x"}',
    "nul": '"a\\u0000b"',
    "huge_int": "1" * 5000,
    "invalid_utf8": b'"\xff\xfe"',
}


def bad_literal(kind: str) -> bytes:
    if kind == "deep_limit_plus_one":
        # The body's own object adds one level, the field's value the rest.
        return nested(json_max_depth()).encode()
    value = BAD_VALUES[kind]
    return value if isinstance(value, bytes) else value.encode()


def with_bad(body, kind: str) -> bytes:
    """`body` (JSON with the string BAD somewhere) with the bad literal in BAD's place."""
    return json.dumps(body).encode().replace(json.dumps(BAD).encode(), bad_literal(kind))


def first_string_to_bad(body: dict) -> dict:
    body = dict(body)
    for key, value in body.items():
        if isinstance(value, str):
            body[key] = BAD
            return body
    body["name"] = BAD
    return body


@pytest.fixture
def world(workspace, owner, function, source, instance):
    source_function = FunctionFactory(workspace=workspace, display_name="Hook", resource_type="SOURCE")
    hook = instance_create(function=source_function, name="Hook", settings={})
    _, secret = access_token_create(workspace=workspace, user=owner, name="bad input")
    return {"function": function, "source": source, "instance": instance, "hook": hook, "token": secret}


def api_targets(world):
    ids = {
        "{function}": world["function"].public_id,
        "{version}": world["function"].latest_version.public_id,
        "{source}": world["source"].public_id,
        "{instance}": world["instance"].public_id,
        "{template}": starter_code("DESTINATION"),
    }
    for row in API_ROWS:
        if row.method in ("POST", "PATCH"):
            path = row.path
            for name, value in ids.items():
                path = path.replace(name, value)
            body = {k: ids.get(v, v) if isinstance(v, str) else v for k, v in (row.body or {}).items()}
            yield row.name, row.method, path, first_string_to_bad(body)


ENDPOINTS = [
    *(f"api {row.name}" for row in API_ROWS if row.method in ("POST", "PATCH")),
    "admin test run",
    "admin deploy diff",
    *(f"v1 {kind}" for kind in ("track", "identify", "page", "screen", "group", "alias", "batch", "import")),
    "webhook",
    "test webhook",
]


def v1_body(kind: str) -> dict:
    event = {"type": "track", "event": "E", "userId": "u", "properties": {"p": BAD}}
    if kind in ("batch", "import"):
        return {"batch": [event]}
    return {**event, "type": kind, "groupId": "g", "previousId": "p"}


def request_for(endpoint: str, world, client, owner):
    """(callable that posts the body, body template) for one endpoint."""
    function, hook = world["function"], world["hook"]
    if endpoint.startswith("api "):
        name = endpoint[4:]
        _, method, path, body = next(t for t in api_targets(world) if t[0] == name)
        headers = {"HTTP_AUTHORIZATION": f"Bearer {world['token']}"}
        send = getattr(client, method.lower())
        return (lambda data: send(path, data=data, content_type="application/json", **headers)), body
    if endpoint.startswith("admin "):
        client.force_login(owner)
        if endpoint == "admin test run":
            url = reverse("admin:catalog_function_test")
            body = {"function": function.pk, "code": starter_code("DESTINATION"), "payload": {"x": BAD}}
        else:
            url = reverse("admin:catalog_function_deploy_diff", args=[function.pk])
            body = {"from": "1", "code": BAD}
        return (lambda data: client.post(url, data=data, content_type="application/json")), body
    if endpoint.startswith("v1 "):
        kind = endpoint[3:]
        auth = "Basic " + base64.b64encode(f"{world['source'].write_key}:".encode()).decode()
        return (
            lambda data: client.post(
                f"/v1/{kind}", data=data, content_type="application/json", HTTP_AUTHORIZATION=auth
            )
        ), v1_body(kind)
    token = hook.source.webhook_token if endpoint == "webhook" else function.preview_token
    path = f"/hooks/{token}" if endpoint == "webhook" else f"/hooks/test/{token}"
    return (lambda data: client.post(path, data=data, content_type="application/json")), {"a": BAD}


@pytest.fixture
def nothing_queued(monkeypatch):
    calls = []
    for target in ("runtime.pipeline.sources.enqueue", "runtime.pipeline.routing.enqueue"):
        monkeypatch.setattr(target, lambda *args, **kwargs: calls.append(args))
    with mock.patch("celery.app.task.Task.apply_async") as published:
        yield calls
    assert not published.called


@pytest.mark.parametrize("kind", list(BAD_VALUES))
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_bad_json_is_a_4xx_and_writes_nothing(
    endpoint, kind, world, client, owner, nothing_queued, django_capture_on_commit_callbacks
):
    send, body = request_for(endpoint, world, client, owner)
    data = with_bad(body, kind)
    assert bad_literal(kind) in data
    before = snapshot()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = send(data)
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    assert changed_tables(before, snapshot()) == []
    assert callbacks == [] and nothing_queued == []


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_the_same_body_with_a_good_value_is_not_a_400(endpoint, world, client, owner, monkeypatch):
    """The matrix above is meaningful: with a plain string in BAD's place no endpoint answers 400
    (some still refuse the call for their own reasons: 422 for a field they do not take)."""
    monkeypatch.setattr("runtime.pipeline.sources.enqueue", lambda *a, **k: None)
    monkeypatch.setattr("runtime.pipeline.routing.enqueue", lambda *a, **k: None)
    send, body = request_for(endpoint, world, client, owner)
    response = send(json.dumps(body).replace(json.dumps(BAD), json.dumps("fine")))
    assert response.status_code != 400, response.content[:300]
    assert response.status_code < 500
