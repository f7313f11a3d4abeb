"""The starting code of a new function, per type (the editor's default templates)."""

from pathlib import Path

from .choices import ResourceType

_DIR = Path(__file__).resolve().parent / "templates_js"
_FILES = {
    ResourceType.SOURCE: "source.js",
    ResourceType.DESTINATION: "destination.js",
    ResourceType.INSERT_DESTINATION: "insert.js",
    ResourceType.INSERT_SOURCE: "insert.js",
}


def template_code(resource_type: str) -> str:
    return (_DIR / _FILES[ResourceType(resource_type)]).read_text()
