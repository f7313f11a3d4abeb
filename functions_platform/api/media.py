"""Segment's versioned JSON media types, accepted in Accept and Content-Type as plain JSON.

Every body is parsed by the platform's one strict JSON reader (runtime.ingest.json_strict_loads):
the same nesting limit as the sandbox, no NaN/Infinity/out-of-range numbers, no lone
surrogates or NUL in strings. Anything it refuses is a 400.
"""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer

from runtime.ingest import JsonRefused, json_max_depth, json_strict_loads

VERSIONS = ("v1", "v1beta", "v1alpha")


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = stream.read() if stream is not None else b""
        try:
            return json_strict_loads(data, max_depth=json_max_depth())
        except UnicodeDecodeError:
            raise ParseError("JSON parse error - the body is not UTF-8.") from None
        except JsonRefused as exc:
            raise ParseError(f"JSON parse error - {exc}") from None


def _renderer(version: str):
    return type(
        f"Segment{version.title()}Renderer",
        (JSONRenderer,),
        {"media_type": f"application/vnd.segment.{version}+json", "format": f"segment-{version}"},
    )


def _parser(version: str):
    return type(
        f"Segment{version.title()}Parser",
        (StrictJSONParser,),
        {"media_type": f"application/vnd.segment.{version}+json"},
    )


RENDERERS = [JSONRenderer, *(_renderer(v) for v in VERSIONS)]
PARSERS = [StrictJSONParser, *(_parser(v) for v in VERSIONS)]
