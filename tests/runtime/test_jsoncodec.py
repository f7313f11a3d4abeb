"""The hot paths' JSON helper gives what the standard library gives, in orjson's corners too."""

import json

import pytest

from runtime.sandbox import jsoncodec

VALUES = [
    {"type": "track", "event": "Café ☕", "properties": {"t0": 1.5, "n": -0.0, "big": 1e308}},
    [1, 2**63 - 1, -(2**63)],
    {"id": 2**70, "nested": [{"deeper": 123456789012345678901234567890}]},
    {"emoji": "\U0001f600", "nul": "a\x00b", "escapes": 'quote " backslash \\ tab \t'},
    {1: "an int key, which json writes as a string"},
    [],
]


@pytest.mark.parametrize("value", VALUES)
def test_dumps_reads_back_as_json_would_write_it(value):
    expected = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    assert json.loads(jsoncodec.dumps(value)) == json.loads(expected)
    assert jsoncodec.loads(jsoncodec.dumps_bytes(value)) == json.loads(expected)


def test_a_lone_surrogate_is_refused_or_escaped_as_asked():
    with pytest.raises(UnicodeEncodeError):
        jsoncodec.dumps_bytes({"x": "\ud800"})
    escaped = jsoncodec.dumps_bytes({"x": "\ud800"}, escape_surrogates=True)
    assert escaped == b'{"x":"\\ud800"}'
    assert jsoncodec.loads(escaped) == {"x": "\ud800"}


def test_what_json_refuses_stays_refused():
    with pytest.raises(TypeError):
        jsoncodec.dumps_bytes({"when": object()})
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(RecursionError):
        jsoncodec.dumps_bytes(deep)


@pytest.mark.parametrize(
    "text",
    [
        b"[123456789012345678901234567890]",
        b"[100000000000000000000]",
        b'{"id":"12345678901234567890"}',
        b"[1e400]",
        b'["\\udc00"]',
        b'{"a":"\\u0000","b":[1.25,-3,true,null]}',
    ],
)
def test_loads_parses_as_json_does(text):
    assert jsoncodec.loads(text) == json.loads(text)
    assert type(jsoncodec.loads(text)) is type(json.loads(text))
    assert jsoncodec.loads(text.decode()) == json.loads(text)


def test_an_integer_past_64_bits_keeps_every_digit():
    value = jsoncodec.loads(b'{"n":123456789012345678901234567890}')["n"]
    assert value == 123456789012345678901234567890 and isinstance(value, int)


@pytest.mark.parametrize("text", [b"{", b'{"a":1}x', b"\xff"])
def test_invalid_json_raises_value_error(text):
    with pytest.raises(ValueError):
        jsoncodec.loads(text)


def test_default_turns_other_values_into_what_json_default_makes_of_them():
    import datetime
    import decimal
    import uuid

    value = {
        "at": datetime.datetime(2026, 12, 2, 5, 0, tzinfo=datetime.UTC),
        "day": datetime.date(2026, 12, 2),
        "amount": decimal.Decimal("1.10"),
        "id": uuid.UUID(int=1),
    }
    expected = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    assert jsoncodec.dumps(value, default=str) == expected
    surrogate = {"at": datetime.date(2026, 12, 2), "odd": "\ud800"}
    assert (
        jsoncodec.dumps_bytes(surrogate, default=str, escape_surrogates=True)
        == json.dumps(surrogate, separators=(",", ":"), default=str).encode()
    )
