from django.apps import AppConfig


class FunctionsPlatformConfig(AppConfig):
    """Project-level app: registers the configuration system checks."""

    name = "functions_platform"
    verbose_name = "Functions platform"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the checks)
