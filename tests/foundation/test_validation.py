import pytest
from django.core.exceptions import ValidationError

from catalog.validation import (
    MASK,
    instance_settings_validate,
    setting_name_from_label,
    settings_schema_validate,
)


@pytest.mark.parametrize(
    ("label", "name"),
    [
        ("API Key", "apiKey"),
        ("api key", "apiKey"),
        ("IAM Role ARN", "iamRoleArn"),
        ("IAM Role External ID", "iamRoleExternalId"),
        ("S3 Bucket Region", "s3BucketRegion"),
        ("  endpoint  ", "endpoint"),
        ("Sub-domain (EU)", "subDomainEu"),
    ],
)
def test_setting_name_from_label(label, name):
    assert setting_name_from_label(label) == name


def test_schema_fills_names_and_defaults():
    schema = settings_schema_validate([{"label": "API Key", "sensitive": True}])
    assert schema == [
        {
            "name": "apiKey",
            "label": "API Key",
            "description": "",
            "type": "STRING",
            "required": False,
            "sensitive": True,
        }
    ]


def test_schema_keeps_an_explicit_name():
    schema = settings_schema_validate([{"label": "Template ID", "name": "customString"}])
    assert schema[0]["name"] == "customString"


@pytest.mark.parametrize(
    ("definitions", "fragment"),
    [
        ([{"label": "API Key"}, {"label": "api key"}], "already used"),
        ([{"label": ""}], "label is required"),
        ([{"label": "X", "type": "NUMBER"}], "type must be one of"),
        ([{"label": "X", "required": "yes"}], "required must be true or false"),
        ([{"label": "X", "colour": "red"}], "unknown keys"),
        ([{"label": "X", "name": "bad name"}], "invalid name"),
        (["not an object"], "must be an object"),
    ],
)
def test_schema_errors(definitions, fragment):
    with pytest.raises(ValidationError) as exc:
        settings_schema_validate(definitions)
    assert fragment in " ".join(exc.value.message_dict["settings"])


SCHEMA = [
    {
        "name": "apiKey",
        "label": "API Key",
        "type": "STRING",
        "required": True,
        "sensitive": True,
        "description": "",
    },
    {
        "name": "region",
        "label": "Region",
        "type": "STRING",
        "required": False,
        "sensitive": False,
        "description": "",
    },
    {
        "name": "debug",
        "label": "Debug",
        "type": "BOOLEAN",
        "required": False,
        "sensitive": False,
        "description": "",
    },
    {
        "name": "events",
        "label": "Events",
        "type": "ARRAY",
        "required": False,
        "sensitive": False,
        "description": "",
    },
    {
        "name": "mapping",
        "label": "Mapping",
        "type": "TEXT_MAP",
        "required": False,
        "sensitive": False,
        "description": "",
    },
]


def test_valid_values_split_plain_and_secret():
    plain, secret = instance_settings_validate(
        schema=SCHEMA,
        values={"apiKey": "k", "region": "eu", "debug": False, "events": ["a"], "mapping": {"a": "b"}},
    )
    assert secret == {"apiKey": "k"}
    assert plain == {"region": "eu", "debug": False, "events": ["a"], "mapping": {"a": "b"}}


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({}, "apiKey", "This setting is required."),
        ({"apiKey": ""}, "apiKey", "This setting is required."),
        ({"apiKey": "k", "nope": 1}, "nope", "Unknown setting 'nope'."),
        ({"apiKey": 5}, "apiKey", "Must be a string."),
        ({"apiKey": "k", "debug": "true"}, "debug", "Must be true or false."),
        ({"apiKey": "k", "events": "a,b"}, "events", "Must be a list of strings."),
        ({"apiKey": "k", "events": [1]}, "events", "Must be a list of strings."),
        ({"apiKey": "k", "mapping": ["a"]}, "mapping", "Must be an object of string values."),
        ({"apiKey": "k", "mapping": {"a": 1}}, "mapping", "Must be an object of string values."),
    ],
)
def test_invalid_values(values, field, message):
    with pytest.raises(ValidationError) as exc:
        instance_settings_validate(schema=SCHEMA, values=values)
    assert exc.value.message_dict[field] == [message]


def test_values_must_be_an_object():
    with pytest.raises(ValidationError):
        instance_settings_validate(schema=SCHEMA, values=["apiKey"])


@pytest.mark.parametrize("sent", [None, MASK])
def test_secret_omitted_or_masked_keeps_the_stored_value(sent):
    values = {} if sent is None else {"apiKey": sent}
    _, secret = instance_settings_validate(
        schema=SCHEMA, values=values, previous_secrets={"apiKey": "stored"}
    )
    assert secret == {"apiKey": "stored"}
