"""The Celery application; configuration comes from Django settings (CELERY_* names).

Workers and beat refuse to start on a configuration error (functions_platform/checks.py,
process_preflight): a missing or wrong FIELD_ENCRYPTION_KEY, no SECRET_KEY, an unreachable
broker or (workers) a sandbox host that cannot start.
"""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "functions_platform.settings")

app = Celery("functions_platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _preflight(role: str) -> None:
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()
    from functions_platform.checks import process_preflight

    process_preflight(role)


@signals.worker_init.connect
def _worker_preflight(sender=None, **kwargs) -> None:
    _preflight("worker")


@signals.beat_init.connect
def _beat_preflight(sender=None, **kwargs) -> None:
    _preflight("beat")
