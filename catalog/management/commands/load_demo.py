import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.urls import reverse

from catalog.choices import ResourceType
from catalog.models import Function
from catalog.services import function_create
from runtime.inspector.services import inspector_for
from runtime.services import instance_create, instance_update
from workspaces.models import Workspace
from workspaces.services import user_ensure, workspace_create

DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"
SLUG = "demo"
USERNAME = "admin"
# Where earlier demo data pointed the forwarder: moved to the request inspector on a re-run.
OLD_ENDPOINTS = ("https://example.com/collect",)


class Command(BaseCommand):
    help = "Load the demo workspace (idempotent) and print how to log in and try the webhook."

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default=settings.PUBLIC_BASE_URL)

    def handle(self, *args, base_url, **options):
        password = self._ensure_user()
        with transaction.atomic():
            workspace = self._workspace()
            inspector = inspector_for(workspace=workspace)
            source_fn, dest_fn = self._functions(workspace)
            hook = self._instances(source_fn, dest_fn, inspector)
        self._print(base_url.rstrip("/"), password, hook, inspector)

    def _ensure_user(self) -> str | None:
        if get_user_model().objects.filter(username=USERNAME).exists():
            return None
        password = secrets.token_urlsafe(12)
        user, _ = user_ensure(username=USERNAME, password=password)
        user.is_superuser = True
        user.save(update_fields=["is_superuser"])
        return password

    def _workspace(self) -> Workspace:
        user = get_user_model().objects.get(username=USERNAME)
        workspace = Workspace.objects.filter(slug=SLUG).first()
        return workspace or workspace_create(slug=SLUG, name="Demo workspace", owner=user)

    def _functions(self, workspace):
        specs = [
            (
                "Demo Webhook",
                ResourceType.SOURCE,
                "source.js",
                "Turns a JSON webhook into track events.",
                [
                    {
                        "label": "Default Event",
                        "type": "STRING",
                        "description": "Event name when the payload has none.",
                    }
                ],
            ),
            (
                f"Demo Forwarder ({workspace.name})",
                ResourceType.DESTINATION,
                "destination.js",
                "Posts track events to an endpoint (the demo posts to the workspace's request inspector).",
                [
                    {
                        "label": "Endpoint",
                        "type": "STRING",
                        "required": True,
                        "description": "Where events are posted.",
                    },
                    {
                        "label": "API Key",
                        "type": "STRING",
                        "sensitive": True,
                        "description": "Basic auth user name.",
                    },
                ],
            ),
        ]
        found = []
        for name, kind, filename, description, schema in specs:
            function = Function.objects.filter(workspace=workspace, display_name=name).first()
            if function is None:
                function = function_create(
                    workspace=workspace,
                    resource_type=kind,
                    display_name=name,
                    description=description,
                    code=(DEMO_DIR / filename).read_text(),
                    settings=schema,
                    created_by=workspace.memberships.first().user,
                )
            found.append(function)
        return found

    def _instances(self, source_fn, dest_fn, inspector):
        source_instance = source_fn.instances.first() or instance_create(
            function=source_fn,
            name="Demo webhook source",
            settings={"defaultEvent": "Demo Event"},
        )
        # The workspace's own request inspector: a first delivery works without internet, and
        # shows what the destination sent (docs/editor.md, Request inspector).
        endpoint = f"{inspector.url}/collect"
        forwarder = dest_fn.instances.first()
        if forwarder is None:
            instance_create(
                function=dest_fn,
                name="Demo forwarder",
                source=source_instance.source,
                settings={"endpoint": endpoint, "apiKey": "demo-secret"},
            )
        elif forwarder.settings.get("endpoint") in OLD_ENDPOINTS:
            instance_update(instance=forwarder, settings={**forwarder.settings, "endpoint": endpoint})
        return source_instance.source

    def _print(self, base_url, password, source, inspector):
        hook = f"{base_url}/hooks/{source.webhook_token}"
        inspector_page = reverse("admin:runtime_requestinspector_change", args=[inspector.pk])
        login = (
            f"{USERNAME} / {password}"
            if password
            else (
                f"{USERNAME} (password printed when it was created; "
                f"reset it with `manage.py changepassword {USERNAME}`)"
            )
        )
        self.stdout.write(
            "\nDemo data ready.\n"
            f"  Admin:   {base_url}/admin/\n"
            f"  Login:   {login}\n"
            f"  Webhook: curl -X POST '{hook}' -H 'Content-Type: application/json' "
            '-d \'{"event": "Order Completed", "userId": "u-1", "properties": {"total": 42}}\'\n'
            f"  Then see what the demo destination sent: {base_url}{inspector_page}\n"
        )
