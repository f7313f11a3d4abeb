from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from workspaces.models import Workspace
from workspaces.services import membership_set_owner, user_ensure, workspace_create


class Command(BaseCommand):
    help = (
        "Create a workspace and make USERNAME its owner (creating a staff user if missing). "
        "Idempotent: running it again changes nothing but the password, when given."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--owner", required=True, metavar="USERNAME")
        parser.add_argument("--password", help="Set this password on the owner.")
        parser.add_argument("--name", default="", help="Display name (defaults to the slug).")

    @transaction.atomic
    def handle(self, *args, slug, owner, password, name, **options):
        user, user_created = user_ensure(username=owner, password=password)
        workspace = Workspace.objects.filter(slug=slug).first()
        try:
            if workspace is None:
                workspace = workspace_create(slug=slug, name=name, owner=user)
                self.stdout.write(f"Created workspace {slug!r}.")
            else:
                membership_set_owner(workspace=workspace, user=user)
                self.stdout.write(f"Workspace {slug!r} already exists.")
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        state = "created" if user_created else "exists"
        self.stdout.write(f"Owner {owner!r} ({state}) owns {slug!r}.")
