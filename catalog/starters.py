"""Starter code: what the editor opens a new function with, per type (the JS in starters_js/)."""

from pathlib import Path

from .choices import ResourceType

_DIR = Path(__file__).resolve().parent / "starters_js"
_FILES = {
    ResourceType.SOURCE: "source.js",
    ResourceType.DESTINATION: "destination.js",
    ResourceType.INSERT_DESTINATION: "insert.js",
    ResourceType.INSERT_SOURCE: "insert.js",
}


def starter_code(resource_type: str) -> str:
    """The starter code of a new function of `resource_type`."""
    return (_DIR / _FILES[ResourceType(resource_type)]).read_text()


# The settings a function created from the starter code gets (the code reads them).
STARTER_SETTINGS = {
    ResourceType.DESTINATION: [
        {
            "label": "Endpoint",
            "type": "STRING",
            "required": False,
            "description": "The URL events are posted to.",
        },
        {
            "label": "API Key",
            "type": "STRING",
            "required": False,
            "sensitive": True,
            "description": "Sent as the Basic auth user name.",
        },
    ],
}
