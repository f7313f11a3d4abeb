"""The replay task: an id in, one service call (registered through runtime.tasks)."""

from celery import shared_task
from django.db import DatabaseError
from kombu.exceptions import KombuError
from redis import RedisError

from .services import dead_letters_replay_run


@shared_task(
    name="runtime.dead_letters_replay",
    bind=True,
    ignore_result=True,
    # Infrastructure trouble is not the events' fault: the task resumes at its progress mark.
    autoretry_for=(DatabaseError, RedisError, KombuError, OSError),
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=20,
)
def dead_letters_replay_task(self, replay_id: int) -> None:
    """Run (or continue) one bulk replay of dead letters."""
    dead_letters_replay_run(replay_id=replay_id, runner=self.request.id or "")
