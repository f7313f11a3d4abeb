"""Segment's versioned JSON media types, accepted in Accept and Content-Type as plain JSON."""

from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer

VERSIONS = ("v1", "v1beta", "v1alpha")


def _renderer(version: str):
    return type(
        f"Segment{version.title()}Renderer",
        (JSONRenderer,),
        {"media_type": f"application/vnd.segment.{version}+json", "format": f"segment-{version}"},
    )


def _parser(version: str):
    return type(
        f"Segment{version.title()}Parser",
        (JSONParser,),
        {"media_type": f"application/vnd.segment.{version}+json"},
    )


RENDERERS = [JSONRenderer, *(_renderer(v) for v in VERSIONS)]
PARSERS = [JSONParser, *(_parser(v) for v in VERSIONS)]
