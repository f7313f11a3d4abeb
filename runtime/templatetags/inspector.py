"""Template tags for pages that show a workspace's request inspector URL (the editor's test pane)."""

from django import template

from runtime.inspector.services import inspector_for
from workspaces import permissions

register = template.Library()


@register.simple_tag
def workspace_inspector(workspace):
    """The workspace's request inspector (made on first use), or None without a workspace."""
    # An unsaved function has no workspace yet (the template passes "" then).
    return inspector_for(workspace=workspace) if getattr(workspace, "pk", None) else None


@register.simple_tag
def inspector_readable(user, workspace) -> bool:
    """Whether `user` may open the workspace's inspector page (workspaces.permissions)."""
    return bool(getattr(workspace, "pk", None)) and permissions.can_view_inspector(user, workspace)
