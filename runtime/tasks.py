"""Celery tasks: thin wrappers, ids in, one service call.

Sections: deployment (Save & Deploy fan-out) and pipeline (source runs, deliveries)."""

from celery import shared_task

# --- deployment -------------------------------------------------------------------------------


@shared_task(name="runtime.deployment_apply", ignore_result=True)
def deployment_apply_task(deployment_id: int) -> None:
    """Switch one instance to the version of one Deployment row (safe to run twice)."""
    from .services import deployment_apply

    deployment_apply(deployment_id=deployment_id)


def deployment_tasks_publish(deployment_ids: list[int]) -> None:
    """Publish one deployment_apply_task per row through a single broker connection."""
    from functions_platform.celery import app

    if app.conf.task_always_eager:
        for deployment_id in deployment_ids:
            deployment_apply_task.delay(deployment_id)
        return
    with app.producer_or_acquire() as producer:
        for deployment_id in deployment_ids:
            deployment_apply_task.apply_async((deployment_id,), producer=producer)
