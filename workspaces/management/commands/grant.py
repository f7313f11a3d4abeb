"""manage.py grant ROLE --workspace SLUG (--user U | --group G) [--function ID ...] [--source ID ...]"""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from catalog.models import Function
from workspaces.choices import Role
from workspaces.models import Source, Workspace
from workspaces.services import role_grant, role_revoke

FUNCTION_ROLES = {Role.FUNCTIONS_ADMIN, Role.FUNCTIONS_READ_ONLY}
SOURCE_ROLES = {Role.SOURCE_ADMIN, Role.SOURCE_READ_ONLY}


class Command(BaseCommand):
    help = (
        "Grant a workspace role to a user or a group. Without --function/--source ids the grant "
        "covers all current and future functions (or sources) of the workspace."
    )

    def add_arguments(self, parser):
        parser.add_argument("role", choices=Role.values)
        parser.add_argument("--workspace", required=True, metavar="SLUG")
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--user", metavar="USERNAME")
        who.add_argument("--group", metavar="NAME")
        parser.add_argument(
            "--function", action="extend", nargs="+", default=[], metavar="ID", dest="functions"
        )
        parser.add_argument("--source", action="extend", nargs="+", default=[], metavar="ID", dest="sources")
        parser.add_argument("--revoke", action="store_true", help="Remove the grant instead.")

    def handle(self, *args, role, workspace, user, group, functions, sources, revoke, **options):
        ws = _lookup(Workspace, slug=workspace, what=f"workspace {workspace!r}")
        grantee = (
            {"user": _user(user)} if user else {"group": _lookup(Group, name=group, what=f"group {group!r}")}
        )
        objects = _objects(ws, role, functions, sources)
        action = role_revoke if revoke else role_grant
        try:
            action(workspace=ws, role=role, objects=objects, **grantee)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        scope = ", ".join(o.public_id for o in objects) or "the whole workspace"
        verb = "Revoked" if revoke else "Granted"
        self.stdout.write(f"{verb} {role} for {user or group} on {scope} in {ws.slug}.")


def _lookup(model, *, what, **filters):
    found = model.objects.filter(**filters).first()
    if found is None:
        raise CommandError(f"Unknown {what}.")
    return found


def _user(username):
    return _lookup(get_user_model(), username=username, what=f"user {username!r}")


def _objects(workspace, role, function_ids, source_ids) -> list:
    """The Function or Source rows a role is limited to; ids must suit the role and workspace."""
    if function_ids and role not in FUNCTION_ROLES:
        raise CommandError(f"--function ids cannot be given to the {role} role.")
    if source_ids and role not in SOURCE_ROLES:
        raise CommandError(f"--source ids cannot be given to the {role} role.")
    model, ids = (Function, function_ids) if function_ids else (Source, source_ids)
    rows = {row.public_id: row for row in model.objects.filter(workspace=workspace, public_id__in=ids)}
    missing = [public_id for public_id in ids if public_id not in rows]
    if missing:
        kind = model._meta.verbose_name
        raise CommandError(f"Unknown {kind} id(s) in workspace {workspace.slug}: {', '.join(missing)}.")
    return [rows[public_id] for public_id in ids]
