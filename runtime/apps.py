from django.apps import AppConfig


class RuntimeConfig(AppConfig):
    name = "runtime"

    def ready(self):
        # Registers the pipeline's system checks (Redis persistence, docs/pipeline.md).
        from .pipeline import persistence  # noqa: F401
