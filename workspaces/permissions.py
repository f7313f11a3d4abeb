"""The one authorization module: may user U do V on X?

Roles (Segment's) are stored as django-guardian object permissions:

- Workspace Owner: `workspaces.workspace_owner` on the Workspace. Everything in it.
- Functions Admin / Read-only on all current and future functions: `workspaces.functions_admin`
  / `workspaces.functions_read` on the Workspace; on a list of functions: `catalog.change_function`
  / `catalog.view_function` on each Function row.
- Source Admin / Read-only: `workspaces.sources_admin` / `workspaces.sources_read` on the
  Workspace, or `workspaces.change_source` / `workspaces.view_source` on Source rows.

Grants may be made to users or to groups; guardian combines them, so the most permissive wins.
Membership is access: a grant counts only while its user is a member of the workspace (a group
grant reaches the group's users who are members), so removing a membership ends every access
at once. Superusers may do everything. Everything else in the platform (admin, API, commands) asks this
module; callers answer 404 when `*_visible` excludes an object and 403 when it is visible but the
`can_*` verb is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q, QuerySet
from guardian.models import GroupObjectPermission, UserObjectPermission
from guardian.shortcuts import get_groups_with_perms, get_objects_for_user, get_users_with_perms

from .choices import ROLE_OBJECT_PERM, ROLE_WORKSPACE_PERM, Role

OWNER = ROLE_WORKSPACE_PERM[Role.OWNER]
FUNCTIONS_ADMIN = ROLE_WORKSPACE_PERM[Role.FUNCTIONS_ADMIN]
FUNCTIONS_READ = ROLE_WORKSPACE_PERM[Role.FUNCTIONS_READ_ONLY]
SOURCES_ADMIN = ROLE_WORKSPACE_PERM[Role.SOURCE_ADMIN]


@dataclass(frozen=True)
class Scope:
    """What a pair of roles (Admin, Read-only) covers: rows of `model`, granted workspace-wide or
    on a list of rows. Admin implies Read-only."""

    model: str
    admin_role: str
    read_role: str

    def workspace_perms(self, *, admin: bool) -> list[str]:
        roles = [self.admin_role] if admin else [self.admin_role, self.read_role]
        return [ROLE_WORKSPACE_PERM[role] for role in roles]

    def object_perms(self, *, admin: bool) -> list[str]:
        roles = [self.admin_role] if admin else [self.read_role, self.admin_role]
        return [ROLE_OBJECT_PERM[role] for role in roles]


FUNCTIONS = Scope("catalog.Function", Role.FUNCTIONS_ADMIN, Role.FUNCTIONS_READ_ONLY)
SOURCES = Scope("workspaces.Source", Role.SOURCE_ADMIN, Role.SOURCE_READ_ONLY)


def _model(label: str):
    return apps.get_model(label)


def _active(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active)


def is_member(user, workspace) -> bool:
    """Whether `user` is a member of `workspace`: without it no grant counts (superusers aside)."""
    if not _active(user):
        return False
    if user.is_superuser:
        return True
    return _model("workspaces.Membership").objects.filter(workspace_id=workspace.pk, user_id=user.pk).exists()


def _ws_perm(user, perm: str, workspace) -> bool:
    if not is_member(user, workspace):
        return False
    return user.is_superuser or user.has_perm(OWNER, workspace) or user.has_perm(perm, workspace)


def _object_perm(user, perms: list[str], obj) -> bool:
    if not is_member(user, obj.workspace):
        return False
    return any(user.has_perm(perm, obj) for perm in perms)


def _workspaces_with(user, perms: list[str]) -> QuerySet:
    Workspace = _model("workspaces.Workspace")
    if not _active(user):
        return Workspace.objects.none()
    if user.is_superuser:
        return Workspace.objects.all()
    granted = get_objects_for_user(user, [OWNER, *perms], Workspace, any_perm=True, accept_global_perms=False)
    return granted.filter(memberships__user=user)


def _objects_with(user, perms: list[str], model_label: str) -> QuerySet:
    found = get_objects_for_user(user, perms, _model(model_label), any_perm=True, accept_global_perms=False)
    return found.filter(workspace__memberships__user=user)


def permitted(user, scope: Scope, *, admin: bool) -> QuerySet:
    """The rows of `scope` the user may administer (`admin`) or read: covered by a grant on
    their workspace or on the row itself, or by Workspace Owner."""
    model = _model(scope.model)
    if not _active(user):
        return model.objects.none()
    if user.is_superuser:
        return model.objects.all()
    all_ws = _workspaces_with(user, scope.workspace_perms(admin=admin)).values("pk")
    listed = _objects_with(user, scope.object_perms(admin=admin), scope.model).values("pk")
    return model.objects.filter(Q(workspace__in=all_ws) | Q(pk__in=listed))


def may(user, scope: Scope, obj, *, admin: bool) -> bool:
    """Whether the user may administer (`admin`) or read `obj`, one row of `scope`."""
    if any(_ws_perm(user, perm, obj.workspace) for perm in scope.workspace_perms(admin=admin)):
        return True
    return _object_perm(user, scope.object_perms(admin=admin), obj)


# --- workspaces -------------------------------------------------------------------------------


def workspaces_visible(user) -> QuerySet:
    """Workspaces the user is a member of."""
    Workspace = _model("workspaces.Workspace")
    if not _active(user):
        return Workspace.objects.none()
    if user.is_superuser:
        return Workspace.objects.all()
    return Workspace.objects.filter(memberships__user=user)


def is_owner(user, workspace) -> bool:
    return _ws_perm(user, OWNER, workspace)


def workspaces_owned(user) -> QuerySet:
    return _workspaces_with(user, [])


# --- functions --------------------------------------------------------------------------------


def functions_visible(user) -> QuerySet:
    """Functions the user may read: Functions Read-only or Admin covering them, or Owner."""
    return permitted(user, FUNCTIONS, admin=False)


def functions_administered(user) -> QuerySet:
    return permitted(user, FUNCTIONS, admin=True)


def can_view_function(user, function) -> bool:
    return may(user, FUNCTIONS, function, admin=False)


def can_admin_function(user, function) -> bool:
    """Edit, save and restore (deleting also removes its instances: can_delete_function)."""
    return may(user, FUNCTIONS, function, admin=True)


def can_delete_function(user, function) -> bool:
    """Functions Admin on the function plus the right to remove every instance deleting it removes
    (its own, and destination-insert instances of other functions in front of them)."""
    if not can_admin_function(user, function):
        return False
    return not instances_refused(user, function.dependent_instances())


def instances_refused(user, instances) -> list:
    """The instances of `instances` (a queryset) that `user` may not configure or delete."""
    rows = list(instances.select_related("function", "source"))
    if not rows or user.is_superuser:
        return []
    sources = set(
        sources_administered(user).filter(pk__in={i.source_id for i in rows}).values_list("pk", flat=True)
    )
    readable = functions_visible(user).filter(pk__in={i.function_id for i in rows})
    functions = set(readable.values_list("pk", flat=True))
    return [i for i in rows if i.source_id not in sources or i.function_id not in functions]


def can_create_function(user, workspace) -> bool:
    """Creating needs Functions Admin on all functions of the workspace."""
    return _ws_perm(user, FUNCTIONS_ADMIN, workspace)


def workspaces_for_function_create(user) -> QuerySet:
    return _workspaces_with(user, [FUNCTIONS_ADMIN])


# --- sources ----------------------------------------------------------------------------------


def sources_visible(user) -> QuerySet:
    return permitted(user, SOURCES, admin=False)


def sources_administered(user) -> QuerySet:
    return permitted(user, SOURCES, admin=True)


def can_view_source(user, source) -> bool:
    return may(user, SOURCES, source, admin=False)


def can_admin_source(user, source) -> bool:
    """Change, enable or delete a source; see its write key and webhook URL (credentials)."""
    return may(user, SOURCES, source, admin=True)


def can_create_source(user, workspace) -> bool:
    return _ws_perm(user, SOURCES_ADMIN, workspace)


def workspaces_for_source_create(user) -> QuerySet:
    return _workspaces_with(user, [SOURCES_ADMIN])


# --- instances --------------------------------------------------------------------------------


def instances_visible(user) -> QuerySet:
    """Instances whose function or whose source the user may read (error logs included)."""
    FunctionInstance = _model("runtime.FunctionInstance")
    if not _active(user):
        return FunctionInstance.objects.none()
    if user.is_superuser:
        return FunctionInstance.objects.all()
    return FunctionInstance.objects.filter(
        Q(function__in=functions_visible(user).values("pk"))
        | Q(source__in=sources_visible(user).values("pk"))
    )


def can_view_instance(user, instance) -> bool:
    return can_view_function(user, instance.function) or can_view_source(user, instance.source)


def can_configure_instance(user, instance) -> bool:
    """Change settings, enable or disable, delete: Source Admin on its source."""
    return can_admin_source(user, instance.source) and can_view_function(user, instance.function)


def can_connect(user, function, source=None) -> bool:
    """Create an instance of `function` on `source`.

    A source function brings its own new Source, so without `source` it takes the right to
    create sources (Source Admin on all sources) instead of Source Admin on an existing one.
    """
    if not can_admin_function(user, function):
        return False
    if source is None:
        return can_create_source(user, function.workspace)
    return source.workspace_id == function.workspace_id and can_admin_source(user, source)


def can_deploy(user, function, instances) -> bool:
    """Save & Deploy: Functions Admin on the function plus Source Admin on every affected source."""
    if not can_admin_function(user, function):
        return False
    if _ws_perm(user, SOURCES_ADMIN, function.workspace):
        return True  # one check instead of one per instance (a deploy may reach 1,000)
    administered = set(sources_administered(user).values_list("pk", flat=True))
    return all(instance.source_id in administered for instance in instances)


def can_rollback(user, instance) -> bool:
    """Roll an instance back to its previous version: what deploying to it needs."""
    return can_deploy(user, instance.function, [instance])


def can_replay_dead_letters(user, instance) -> bool:
    """Replay an instance's dead letters: it sends events out as a delivery does, through the
    version deployed there, so it takes what deploying to the instance takes."""
    return can_deploy(user, instance.function, [instance])


# --- request inspector ------------------------------------------------------------------------


def workspaces_for_inspector(user) -> QuerySet:
    """Workspaces whose request inspector the user may read: Functions Read-only or Admin on all
    functions (its requests come from any function of the workspace), or Owner."""
    return _workspaces_with(user, [FUNCTIONS_ADMIN, FUNCTIONS_READ])


def can_view_inspector(user, workspace) -> bool:
    return _ws_perm(user, FUNCTIONS_READ, workspace) or _ws_perm(user, FUNCTIONS_ADMIN, workspace)


# --- workspace administration -----------------------------------------------------------------


def can_manage_members(user, workspace) -> bool:
    return is_owner(user, workspace)


def can_manage_tokens(user, workspace) -> bool:
    return is_owner(user, workspace)


def workspace_grants(workspace) -> list[dict]:
    """Every role grant in `workspace`: [{grantee, kind ("user"|"group"), role, objects}].

    Workspace-wide grants have `objects == []`; listed grants name their Function/Source rows.
    """
    role_of = {perm.split(".")[1]: role for role, perm in ROLE_WORKSPACE_PERM.items()}
    grants = []
    for kind, found in (
        ("user", get_users_with_perms(workspace, attach_perms=True, with_group_users=False)),
        ("group", get_groups_with_perms(workspace, attach_perms=True)),
    ):
        for grantee, perms in found.items():
            grants += [_grant(grantee, kind, role_of[p], []) for p in perms if p in role_of]
    return grants + _object_grants(workspace)


def _object_grants(workspace) -> list[dict]:
    role_of = {perm.split(".")[1]: role for role, perm in ROLE_OBJECT_PERM.items()}
    collected: dict[tuple, list] = {}
    for queryset in (workspace.functions.all(), workspace.sources.all()):
        content_type = ContentType.objects.get_for_model(queryset.model)
        objects = {str(obj.pk): obj for obj in queryset}
        for kind, model in (("user", UserObjectPermission), ("group", GroupObjectPermission)):
            rows = model.objects.filter(content_type=content_type, object_pk__in=list(objects))
            for row in rows.select_related(kind, "permission"):
                role = role_of.get(row.permission.codename)
                if role:
                    key = (kind, getattr(row, kind), role)
                    collected.setdefault(key, []).append(objects[row.object_pk])
    return [_grant(grantee, kind, role, objs) for (kind, grantee, role), objs in collected.items()]


def _grant(grantee, kind, role, objects) -> dict:
    return {"grantee": grantee, "kind": kind, "role": role, "objects": objects}
