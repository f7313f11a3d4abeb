"""Request ids and JSON logs: ids kept or made at the edge, carried into the work, on every line."""

import json
import logging

import pytest
from django.conf import settings

from functions_platform.log_filters import RequestIdFilter
from functions_platform.request_ids import bound, task_finished, task_started

pytestmark = pytest.mark.django_db


def json_line(record: logging.LogRecord) -> dict:
    spec = dict(settings.LOGGING["formatters"]["json"])
    factory = spec.pop("()")
    module, name = factory.rsplit(".", 1)
    formatter = getattr(__import__(module, fromlist=[name]), name)(**spec)
    RequestIdFilter().filter(record)
    return json.loads(formatter.format(record))


def test_json_lines_carry_level_logger_time_and_the_current_request_id():
    logger = logging.getLogger("runtime.pipeline.trace")
    with bound("req-12345678"):
        record = logger.makeRecord(logger.name, logging.INFO, __file__, 1, "delivery: %d in", (3,), None,
                                   extra={"stage": "delivery", "message_ids": ["a", "b"]})  # fmt: skip
        line = json_line(record)  # the handler formats while the request runs
    assert line["message"] == "delivery: 3 in"
    assert (line["level"], line["logger"], line["request_id"]) == (
        "INFO",
        "runtime.pipeline.trace",
        "req-12345678",
    )
    assert line["stage"] == "delivery" and line["message_ids"] == ["a", "b"]
    assert line["time"]
    outside = json_line(logger.makeRecord(logger.name, logging.WARNING, __file__, 1, "x", (), None))
    assert outside["request_id"] == "-"


def test_response_carries_a_request_id_and_keeps_a_sound_one(client):
    made = client.get("/healthz")["X-Request-ID"]
    assert len(made) == 32 and made != client.get("/healthz")["X-Request-ID"]
    assert client.get("/healthz", HTTP_X_REQUEST_ID="edge-proxy-42")["X-Request-ID"] == "edge-proxy-42"
    for hostile in (
        "short",
        "x" * 65,
        "bad id with spaces",
        "new\nline-injection",
        "<script>alert(1)</script>",
    ):
        answered = client.get("/healthz", HTTP_X_REQUEST_ID=hostile)["X-Request-ID"]
        assert answered != hostile and len(answered) == 32


def test_tasks_take_their_id_unless_inside_a_request():
    from functions_platform.request_ids import current

    task_started("task-aaaaaaaa")
    assert current() == "task-aaaaaaaa"
    task_finished("task-aaaaaaaa")
    assert current() == ""
    with bound("req-bbbbbbbb"):  # an eager task inside a request keeps the request's id
        task_started("task-cccccccc")
        assert current() == "req-bbbbbbbb"
        task_finished("task-cccccccc")
        assert current() == "req-bbbbbbbb"


def test_embedded_webhook_trace_names_the_request_at_every_stage(
    client, source_function_instance, sink, caplog
):
    body = {"items": [{"name": "a", "user": "u"}, {"name": "b", "user": "u"}]}
    url = f"/hooks/{source_function_instance.source.webhook_token}"
    with caplog.at_level(logging.INFO, logger="runtime.pipeline.trace"):
        response = client.post(url, data=json.dumps(body), content_type="application/json",
                               HTTP_X_REQUEST_ID="hook-req-0001")  # fmt: skip
    assert response.status_code == 200 and response["X-Request-ID"] == "hook-req-0001"
    stages = {}
    for record in caplog.records:
        if record.name == "runtime.pipeline.trace":
            stages.setdefault(record.stage, []).append(record)
    assert {"ingest", "source", "route", "delivery"} <= set(stages)
    assert all("hook-req-0001" in r.request_ids for rs in stages.values() for r in rs)
    [source] = stages["source"]
    emitted = set(source.message_ids)
    assert len(emitted) == 2
    assert {m for r in stages["delivery"] for m in r.message_ids} == emitted


def test_task_arguments_never_reach_the_log():
    logger = logging.getLogger("celery.app.trace")
    data = {"id": "t1", "name": "runtime.delivery_flush", "args": "[1]", "kwargs": "{'items': [{'writeKey': 'wk'}]}",
            "return_value": "None", "runtime": 0.1}  # fmt: skip
    line = json_line(logger.makeRecord(logger.name, logging.INFO, __file__, 1, "Task %(name)s succeeded", (), None,
                                       extra={"data": data}))  # fmt: skip
    assert line["data"] == {"id": "t1", "name": "runtime.delivery_flush", "runtime": 0.1}
    assert "writeKey" not in json.dumps(line)
