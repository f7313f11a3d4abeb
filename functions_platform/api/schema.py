"""OpenAPI helpers: Segment's envelopes, error responses, pagination parameters, bearer auth."""

from __future__ import annotations

import re

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from .exceptions import camel
from .pagination import MAX_COUNT


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "functions_platform.api.authentication.BearerTokenAuthentication"
    name = "token"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "A workspace access token."}


class StrictSerializer(serializers.Serializer):
    """Input serializer that rejects keys it does not declare (422 naming the field)."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({key: ["Unknown field."] for key in unknown})
        return super().to_internal_value(data)


class ErrorItemSerializer(serializers.Serializer):
    type = serializers.CharField()
    message = serializers.CharField()
    field = serializers.CharField(required=False)
    status = serializers.IntegerField(required=False)
    data = serializers.DictField(required=False)


class ErrorsSerializer(serializers.Serializer):
    errors = ErrorItemSerializer(many=True)


class PaginationSerializer(serializers.Serializer):
    current = serializers.CharField()
    next = serializers.CharField(allow_null=True, required=False)
    previous = serializers.CharField(allow_null=True, required=False)
    totalEntries = serializers.IntegerField()


class StatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["SUCCESS"])


ERROR_CODES = (400, 401, 403, 404, 422, 429)


def envelope(name: str, **fields) -> type[serializers.Serializer]:
    """A serializer for `{"data": {<fields>}}`, registered as `<name>` in the schema."""
    inner = type(f"{name}Data", (serializers.Serializer,), dict(fields))
    return type(f"{name}Envelope", (serializers.Serializer,), {"data": inner()})


def page_envelope(name: str, key: str, item) -> type[serializers.Serializer]:
    return envelope(name, **{key: item(many=True), "pagination": PaginationSerializer()})


def responses(ok, status: int = 200, extra=()) -> dict:
    """An operation's documented responses: its success plus the errors every endpoint may give."""
    out = {status: ok}
    for code in (*ERROR_CODES, *extra):
        out[code] = ErrorsSerializer
    return out


PAGINATION_PARAMETERS = [
    OpenApiParameter(
        "pagination.count", OpenApiTypes.INT, description=f"Page size, 1 to {MAX_COUNT} (default 200)."
    ),
    OpenApiParameter(
        "pagination.cursor", OpenApiTypes.STR, description="Opaque cursor from a previous page."
    ),
]


def camelize_path_parameters(result, generator, request, public):
    """drf-spectacular postprocessing hook: `{function_id}` -> `{functionId}`, as Segment names them.

    URL kwargs stay snake_case in Python; only the published schema changes (the server matches
    paths by position, so clients built from either spelling call the same URLs).
    """
    paths = {}
    for path, item in result.get("paths", {}).items():
        for operation in item.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if parameter.get("in") == "path":
                    parameter["name"] = camel(parameter["name"])
        paths[re.sub(r"\{(\w+)\}", lambda m: "{" + camel(m.group(1)) + "}", path)] = item
    result["paths"] = paths
    return result


# Base64 of the decimal offset (1 to 18 ASCII digits) that encode_cursor writes: each group of
# three digits is four characters from a small set, a tail of one or two digits ends in "=="/"=".
_DIGITS3 = "(?:M[DTjz]|N[DTjz]|O[DT])[AEIMQUYcgk][w-z0-5]"
_TAIL = "(?:M[DTjz]|N[DTjz]|O[DT])[AEIMQUYcgk]=|(?:M[AQgw]|N[AQgw]|O[AQ])=="
CURSOR_PATTERN = f"^(?:{_DIGITS3}){{0,5}}(?:{_DIGITS3}|{_TAIL})$"
# PostgreSQL text holds no NUL; the input guard answers 400 to it (functions_platform.middleware).
NO_NUL_PATTERN = "^[^\\u0000]*$"


def declare_input_constraints(result, generator, request, public):
    """drf-spectacular postprocessing hook: state in the schema what the API enforces.

    Input serializers refuse keys they do not declare (additionalProperties: false), strings
    may not hold NUL, ids and query values are not empty, pagination is bounded and a cursor is
    what we wrote. DRF's `format` query override is left out: clients send Accept instead.
    """
    for item in result.get("paths", {}).values():
        for operation in item.values():
            if isinstance(operation, dict) and "parameters" in operation:
                operation["parameters"] = [
                    _parameter(p) for p in operation["parameters"] if p.get("name") != "format"
                ]
    for name, schema in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request"):
            _input_schema(schema)
    return result


def _parameter(parameter: dict) -> dict:
    schema = parameter.setdefault("schema", {})
    if parameter["name"] == "pagination.count":
        schema.update(minimum=1, maximum=MAX_COUNT)
    elif parameter["name"] == "pagination.cursor":
        schema["pattern"] = CURSOR_PATTERN
    elif schema.get("type") == "string" and "enum" not in schema:
        schema.setdefault("minLength", 1)
        schema.setdefault("pattern", NO_NUL_PATTERN)
    return parameter


def _input_schema(schema) -> None:
    if isinstance(schema, list):
        for item in schema:
            _input_schema(item)
        return
    if not isinstance(schema, dict):
        return
    if schema.get("type") == "object" and "properties" in schema:
        schema.setdefault("additionalProperties", False)
    if schema.get("type") == "string" and not {"enum", "pattern", "format"} & set(schema):
        schema["pattern"] = NO_NUL_PATTERN
    for value in schema.values():
        if isinstance(value, (dict, list)):
            _input_schema(value)
