"""Durable retry schedule: a batch waiting for its retry lives in PostgreSQL, not in a message.

`retry_schedule` writes a `PendingRetry` row and publishes a countdown task that carries only
the row id; the task claims the row (`retry_claim`), runs it and deletes it (`retry_finish`).
If the message is lost (a Redis restart without persistence, a worker killed while holding
it), the sweep (recovery.py) republishes due rows nobody holds (`retries_due_unheld`). A row a
live task holds is skipped by others; a task redelivered under the same id takes its own row
back.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, Q, When
from django.utils import timezone

from ..models import PendingRetry


def retry_schedule(
    *, stage: str, key: int, items: list, attempt: int, first_at, delay: float
) -> PendingRetry:
    """Keep `items` for another try of `stage` after `delay` seconds."""
    now = timezone.now()
    row = PendingRetry(
        stage=stage,
        key=key,
        items=items,
        attempt=attempt,
        first_at=first_at,
        due_at=now + timedelta(seconds=delay),
        published_at=now,
    )
    row.full_clean()
    row.save()
    return row


def retry_claim(*, retry_id: int, token: str) -> PendingRetry | None:
    """The row, claimed for `token`; None when it is done or another live task holds it.

    Taking over a claim that was never let go (its holder died, or this task is redelivered
    after its worker died) counts one failure, so a batch that kills its worker is bounded.
    """
    now = timezone.now()
    until = now + timedelta(seconds=settings.PIPELINE_RETRY_CLAIM_S)
    free = Q(claimed_by="") | Q(claimed_by=token) | Q(claimed_until__lt=now)
    crashed = Case(When(claimed_by="", then=F("failures")), default=F("failures") + 1)
    with transaction.atomic():
        claimed = PendingRetry.objects.filter(free, pk=retry_id).update(
            claimed_by=token, claimed_until=until, failures=crashed
        )
        return PendingRetry.objects.filter(pk=retry_id).first() if claimed else None


def retry_unclaim(*, retry_id: int, failed: bool) -> int:
    """Let go of a row (it runs again); `failed` counts one failure. Returns the failures."""
    changes = {"claimed_by": "", "claimed_until": None}
    if failed:
        changes["failures"] = F("failures") + 1
    PendingRetry.objects.filter(pk=retry_id).update(**changes)
    row = PendingRetry.objects.filter(pk=retry_id).values_list("failures", flat=True).first()
    return row or 0


def retry_finish(*, retry_id: int) -> None:
    """The retry ran: forget it."""
    PendingRetry.objects.filter(pk=retry_id).delete()


def retry_postpone(*, retry_id: int) -> None:
    """The task woke before the row was due (a long delay hops): free it for the next hop."""
    PendingRetry.objects.filter(pk=retry_id).update(
        claimed_by="", claimed_until=None, published_at=timezone.now()
    )


def retries_due_unheld(*, limit: int = 500) -> list[PendingRetry]:
    """Due rows that no live task holds and whose task message is overdue (likely lost)."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.PIPELINE_RETRY_REPUBLISH_S)
    free = Q(claimed_by="") | Q(claimed_until__lt=now)
    return list(PendingRetry.objects.filter(free, due_at__lte=now, published_at__lt=stale)[:limit])
