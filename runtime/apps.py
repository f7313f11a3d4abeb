from django.apps import AppConfig


class RuntimeConfig(AppConfig):
    name = "runtime"

    def ready(self):
        # Registers the pipeline's system checks (Redis persistence, docs/pipeline.md).
        # Registers the tasks, which services and the pipeline look up by name, and the
        # metrics' worker start and exit hooks.
        from . import metrics, tasks  # noqa: F401
        from .pipeline import persistence  # noqa: F401
