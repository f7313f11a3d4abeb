"""Celery tasks: thin wrappers, ids in, one service call.

Sections: deployment (Save & Deploy fan-out) and pipeline (source runs, deliveries)."""

from celery import shared_task, signals
from django.conf import settings
from django.db import DatabaseError, connections

from .canary.services import canaries_sweep
from .choices import PipelineStage
from .deadletters.tasks import dead_letters_replay_task  # noqa: F401  (registers it)
from .pipeline import delivery, queue, retention, sources
from .pipeline.errors import INFRASTRUCTURE_ERRORS
from .pipeline.recovery import pipeline_sweep
from .replay.services import replay_execute
from .sandbox import SandboxUnavailable
from .services import deployment_apply, deployments_republish_stale


@signals.task_postrun.connect
def _connections_tidy(task=None, **_kwargs) -> None:
    """What Django does after each request: drop a connection that failed or outlived
    CONN_MAX_AGE and keep the others (settings.CELERY_DB_REUSE_MAX stops Celery closing every
    connection after every task, which made each task open a new PostgreSQL connection).
    Not after an eager task: it ran inside its caller's request or transaction."""
    if task is None or getattr(task.request, "is_eager", False):
        return
    for conn in connections.all(initialized_only=True):
        conn.close_if_unusable_or_obsolete()


# --- deployment -------------------------------------------------------------------------------


@shared_task(
    name="runtime.deployment_apply",
    ignore_result=True,
    # The sandbox or the database being briefly unavailable is not the version's fault.
    autoretry_for=(DatabaseError, OSError, SandboxUnavailable),
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=10,
)
def deployment_apply_task(deployment_id: int) -> None:
    """Switch one instance to the version of one Deployment row (safe to run twice)."""
    deployment_apply(deployment_id=deployment_id)


@shared_task(name="runtime.deployments_republish_stale", ignore_result=True)
def deployments_republish_stale_task() -> None:
    """Beat: run again the deployments whose task was lost."""
    deployments_republish_stale(older_than_s=settings.DEPLOYMENT_STALE_AFTER_S)


@shared_task(name="runtime.canaries_sweep", ignore_result=True)
def canaries_sweep_task() -> None:
    """Beat: end canaries and post-deploy watches whose time ran out without traffic."""
    canaries_sweep()


@shared_task(name="runtime.replay_run", ignore_result=True)
def replay_run_task(run_id: int) -> None:
    """Carry out one dry-run replay (a second delivery of the task finds it taken)."""
    replay_execute(run_id=run_id)


# --- pipeline ---------------------------------------------------------------------------------
# Flush tasks drain their stage's Redis buffer (items=None) or carry their items (retries and
# the unbuffered/embedded mode). They are idempotent: a redelivered task resumes its in-flight
# items, and delivery skips messageIds already delivered. An infrastructure error (database,
# Redis, broker, sandbox unavailable, queue refused) gives the batch back and retries the task;
# if even that retry cannot be published, the sweep finds the batch (docs/pipeline.md).
_INFRA_RETRY = {
    "autoretry_for": INFRASTRUCTURE_ERRORS,
    "retry_backoff": 2,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 50,
}


@shared_task(name=queue.FLUSH_TASKS[PipelineStage.SOURCE], bind=True, ignore_result=True, **_INFRA_RETRY)
def source_flush_task(
    self,
    instance_id: int,
    items: list | None = None,
    attempt: int = 0,
    not_before: float | None = None,
    retry_id: int | None = None,
) -> None:
    """Run queued webhook requests of one source function instance."""
    queue.stage_run(
        PipelineStage.SOURCE,
        instance_id,
        self.request.id,
        {"items": items, "attempt": attempt, "not_before": not_before, "retry_id": retry_id},
        lambda batch, attempt, _: sources.source_run(
            instance_id=instance_id, requests=batch, attempt=attempt
        ),
        limit=lambda: settings.PIPELINE_SOURCE_BATCH,
    )


@shared_task(name=queue.FLUSH_TASKS[PipelineStage.ROUTE], bind=True, ignore_result=True, **_INFRA_RETRY)
def route_flush_task(
    self,
    source_id: int,
    items: list | None = None,
    attempt: int = 0,
    not_before: float | None = None,
    retry_id: int | None = None,
) -> None:
    """Route queued Tracking API messages of one source to its destinations."""
    queue.stage_run(
        PipelineStage.ROUTE,
        source_id,
        self.request.id,
        {"items": items, "attempt": attempt, "not_before": not_before, "retry_id": retry_id},
        lambda batch, attempt, _: sources.messages_route(
            source_id=source_id, messages=batch, attempt=attempt
        ),
        limit=lambda: settings.PIPELINE_ROUTE_BATCH,
    )


@shared_task(name=queue.FLUSH_TASKS[PipelineStage.DESTINATION], bind=True, ignore_result=True, **_INFRA_RETRY)
def delivery_flush_task(
    self,
    instance_id: int,
    items: list | None = None,
    attempt: int = 0,
    first_at: float | None = None,
    not_before: float | None = None,
    retry_id: int | None = None,
) -> None:
    """Deliver a micro-batch of events to one destination instance (holding one of its slots)."""
    kwargs = {
        "items": items,
        "attempt": attempt,
        "first_at": first_at,
        "not_before": not_before,
        "retry_id": retry_id,
    }
    delivery.delivery_flush(
        task_id=self.request.id,
        instance_id=instance_id,
        retry=kwargs,
        # Same task id, so a redelivered task still finds its in-flight items; not self.retry,
        # which would spend the infrastructure-retry budget on waiting for a slot.
        come_back=lambda wait: self.apply_async(
            args=[instance_id], kwargs=kwargs, task_id=self.request.id, countdown=wait
        ),
    )


@shared_task(name="runtime.pipeline_sweep", ignore_result=True)
def pipeline_sweep_task() -> None:
    """Recover batches of lost tasks, dead-letter hopeless ones, restart stalled buffers and
    republish due retries whose message was lost (runtime/pipeline/recovery.py)."""
    pipeline_sweep()


@shared_task(name="runtime.pipeline_cleanup", ignore_result=True)
def pipeline_cleanup_task() -> None:
    """Drop error logs, delivery counters, dedupe rows and dead letters past their retention."""
    retention.records_cleanup()
