from django.apps import AppConfig


class RuntimeConfig(AppConfig):
    name = "runtime"

    def ready(self):
        # The sandbox's hooks first, so no sandbox() of this process starts without them: the
        # request inspector's standing answer rules and where its captures go.
        from .inspector.services import captures_record, host_rules
        from .sandbox.django import sandbox_hooks_set

        sandbox_hooks_set(fetch_answers=host_rules, on_captured=captures_record)
        # Registers the pipeline's system checks (Redis persistence, docs/pipeline.md).
        # Registers the tasks, which services and the pipeline look up by name, and the
        # metrics' worker start and exit hooks.
        from . import metrics, tasks  # noqa: F401
        from .pipeline import persistence  # noqa: F401
