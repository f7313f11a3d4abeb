from django.db import models


class ResourceType(models.TextChoices):
    """Segment's function types (`resourceType` in the Public API)."""

    SOURCE = "SOURCE", "Source function"
    DESTINATION = "DESTINATION", "Destination function"
    INSERT_DESTINATION = "INSERT_DESTINATION", "Destination insert function"
    INSERT_SOURCE = "INSERT_SOURCE", "Source insert function"


# The runtime's name for each type (runtime.sandbox KINDS, a request's `kind`).
SANDBOX_KIND = {
    ResourceType.SOURCE: "source",
    ResourceType.DESTINATION: "destination",
    ResourceType.INSERT_DESTINATION: "insert_destination",
    ResourceType.INSERT_SOURCE: "insert_source",
}

INSERT_TYPES = (ResourceType.INSERT_DESTINATION, ResourceType.INSERT_SOURCE)


class SettingType(models.TextChoices):
    STRING = "STRING", "String"
    BOOLEAN = "BOOLEAN", "Boolean"
    ARRAY = "ARRAY", "Array"
    TEXT_MAP = "TEXT_MAP", "Map"
