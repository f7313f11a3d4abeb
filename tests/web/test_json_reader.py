"""The platform's one strict JSON reader (runtime.ingest.json_strict_loads) and its limit."""

import json

import pytest

from runtime.ingest import (
    JsonRefused,
    emitted_events_prepare,
    json_max_depth,
    json_strict_loads,
)
from runtime.sandbox import SandboxLimits


def nested(levels: int, leaf="1") -> str:
    return "[" * levels + leaf + "]" * levels


def test_the_limit_is_the_sandboxs(settings):
    assert json_max_depth() == SandboxLimits().max_depth
    settings.FUNCTIONS_SANDBOX_LIMITS = {"max_depth": 7}
    assert json_max_depth() == 7


@pytest.mark.parametrize("levels", [1, 50, 100])
def test_up_to_the_limit_is_read(levels):
    value = json_strict_loads(nested(levels), max_depth=100)
    for _ in range(levels):
        value = value[0]
    assert value == 1


@pytest.mark.parametrize("levels", [101, 900, 10_000, 200_000])
def test_past_the_limit_is_refused(levels):
    with pytest.raises(JsonRefused, match="deeper than 100"):
        json_strict_loads(nested(levels), max_depth=100)


def test_objects_count_like_arrays():
    text = '{"a": ' * 101 + "1" + "}" * 101
    with pytest.raises(JsonRefused):
        json_strict_loads(text, max_depth=100)
    assert json_strict_loads('{"a": ' * 100 + "1" + "}" * 100, max_depth=100)


@pytest.mark.parametrize(
    "text",
    [
        "NaN",
        '{"a": Infinity}',
        "[-Infinity]",
        '{"a": 1e400}',
        '{"a": -1e400}',
        '"\\ud800"',
        '{"\\udfff": 1}',
        '["ok", "\\ud83d"]',
        '"a\\u0000"',
        "1" * 5000,
        "{nope",
    ],
)
def test_refused(text):
    with pytest.raises(JsonRefused):
        json_strict_loads(text, max_depth=100)


def test_invalid_utf8_is_refused():
    with pytest.raises(UnicodeDecodeError):
        json_strict_loads(b'"\xff"', max_depth=100)


@pytest.mark.parametrize(
    "text",
    ['"\\ud83d\\ude00"', '"caf\\u00e9"', "1e308", "-0.0", '"\\\\ud800"', "123456789012345678901234567890"],
)
def test_accepted(text):
    assert json_strict_loads(text, max_depth=100) == json.loads(text)


def test_emitted_events_follow_the_same_rules():
    deep = json.loads(
        '{"type": "track", "event": "e", "userId": "u", "properties": {"p": ' + nested(900) + "}}"
    )
    surrogate = {"type": "track", "event": "\ud800", "userId": "u"}
    fine = {"type": "track", "event": "e", "userId": "u"}
    valid, rejected = emitted_events_prepare([deep, surrogate, fine], write_key="k", run_id="r")
    assert [event["event"] for event in valid] == ["e"]
    assert [r["code"] for r in rejected] == ["bad_request", "bad_request"]
