"""The Celery application; configuration comes from Django settings (CELERY_* names).

Workers and beat refuse to start on a configuration error (functions_platform/checks.py,
process_preflight): a missing or wrong FIELD_ENCRYPTION_KEY, no SECRET_KEY, an unreachable
broker or (workers) a sandbox host that cannot start.
"""

import logging
import os
import time

import django
from celery import Celery, bootsteps, signals
from django.apps import apps

from .request_ids import task_finished, task_started

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "functions_platform.settings")

log = logging.getLogger(__name__)

app = Celery("functions_platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


class UnackedHeartbeat(bootsteps.StartStopStep):
    """Keep this worker's unacknowledged Redis messages from looking abandoned.

    The Redis transport hands a message to another worker once it has been unacknowledged
    for the visibility timeout. Refreshing the timestamps of the messages a live worker holds
    (running, prefetched or waiting for their ETA) lets that timeout be short, so a dead
    worker's messages come back within seconds while a task that runs for minutes stays safe.
    """

    requires = {"celery.worker.consumer.tasks:Tasks"}

    def __init__(self, parent, **kwargs):
        super().__init__(parent, **kwargs)
        self.tref = None

    def start(self, consumer) -> None:
        options = consumer.app.conf.broker_transport_options or {}
        interval = options.get("visibility_timeout", 3600) / 4
        if consumer.app.conf.broker_url and consumer.app.conf.broker_url.startswith(("redis", "rediss")):
            self.tref = consumer.timer.call_repeatedly(interval, self.beat, (consumer,), priority=10)

    def stop(self, consumer) -> None:
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None

    shutdown = stop

    @staticmethod
    def beat(consumer) -> None:
        try:
            channel = consumer.task_consumer.channel
            qos = channel.qos
            tags = list(qos._delivered.keys())
            if not tags:
                return
            now = time.time()
            with channel.conn_or_acquire() as client:
                # XX: a message acknowledged meanwhile is not brought back.
                client.zadd(qos.unacked_index_key, dict.fromkeys(tags, now), xx=True)
        except Exception:  # noqa: BLE001  (the broker is away: the consumer reconnects on its own)
            log.debug("unacked heartbeat skipped", exc_info=True)


app.steps["consumer"].add(UnackedHeartbeat)


def _preflight(role: str) -> None:
    if not apps.ready:
        django.setup()
    # Only now: the checks import app code, which needs the apps set up above.
    from functions_platform.checks import process_preflight

    process_preflight(app, role)


@signals.worker_init.connect
def _worker_preflight(sender=None, **kwargs) -> None:
    _preflight("worker")


@signals.beat_init.connect
def _beat_preflight(sender=None, **kwargs) -> None:
    _preflight("beat")


@signals.task_prerun.connect
def _request_id_bind(task_id=None, **_kwargs) -> None:
    # Log lines of a task carry its task id as their request id (see request_ids).
    task_started(task_id or "")


@signals.task_postrun.connect
def _request_id_unbind(task_id=None, **_kwargs) -> None:
    task_finished(task_id or "")
