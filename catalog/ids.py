"""Function ids with Segment's per-type prefixes."""

from workspaces import ids

from .choices import ResourceType


def function_public_id(resource_type: str) -> str:
    if resource_type == ResourceType.SOURCE:
        return "sfnc_" + ids.base62(22)
    prefix = {
        ResourceType.DESTINATION: "dfn_",
        ResourceType.INSERT_DESTINATION: "ifnd_",
        ResourceType.INSERT_SOURCE: "ifns_",
    }[resource_type]
    return prefix + ids.hex24()
