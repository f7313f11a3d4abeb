from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from workspaces.models import Workspace
from workspaces.services import access_token_create


class Command(BaseCommand):
    help = (
        "Create a Public API access token acting as USERNAME in the workspace. The token is "
        "printed once, as the last line of output; only its hash is stored."
    )

    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True, metavar="SLUG")
        parser.add_argument("--user", required=True, metavar="USERNAME")
        parser.add_argument("--name", default="", help="A label for the token (default: 'API token').")

    def handle(self, *args, workspace, user, name, **options):
        ws = Workspace.objects.filter(slug=workspace).first()
        if ws is None:
            raise CommandError(f"No workspace {workspace!r}.")
        account = get_user_model().objects.filter(username=user).first()
        if account is None:
            raise CommandError(f"No user {user!r}.")
        try:
            token, secret = access_token_create(workspace=ws, user=account, name=name)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(f"Created token {token.name!r} ({token.prefix}…) for {user!r} in {workspace!r}.")
        self.stdout.write("Store it now; it cannot be shown again:")
        self.stdout.write(secret)
