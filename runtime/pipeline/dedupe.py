"""Duplicate suppression: the messageIds delivered to, or claimed for, a destination instance.

Redis: one set per instance and hour, so a check is one script over ~25 sets and a mark is one
SADD, whatever the batch size; a claim is one key per messageId with the task's token and a
TTL. Every key of an instance carries its hash tag, so the scripts run on a Redis Cluster too
(store_lua.py). Embedded mode (no Redis) keeps the DeliveredMessage table instead.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.utils import timezone

from ..models import DeliveredMessage
from . import store
from . import store_lua as lua


def dedupe_keys(instance_key: str) -> list[str]:
    """Hourly Redis sets covering the dedupe window (newest last)."""
    hours = max(1, -(-settings.PIPELINE_DEDUPE_TTL_S // 3600))
    now = int(time.time() // 3600)
    return [f"{store.key_prefix()}:dlv:{{{instance_key}}}:{h}" for h in range(now - hours, now + 1)]


def claim_keys(instance_key: str, message_ids: list[str]) -> list[str]:
    # Same hash tag as the instance's dedupe sets: the claim script touches both.
    return [f"{store.key_prefix()}:claim:{{{instance_key}}}:{m}" for m in message_ids]


def _mark(pipe, instance_key: str, message_ids: list[str]) -> None:
    # Into this hour's set, kept an hour past the window so its oldest member still counts.
    key = dedupe_keys(instance_key)[-1]
    pipe.sadd(key, *message_ids)
    pipe.expire(key, settings.PIPELINE_DEDUPE_TTL_S + 3600)


def delivery_claim(
    instance_key: str, instance_pk: int, message_ids: list[str], token: str
) -> tuple[set, set]:
    """Claim messageIds for delivery to this instance by `token` (a task id), atomically.

    Returns (claimed, busy): `claimed` may be delivered now (not delivered within the window,
    not held by another task, or held by this same token, as after a redelivery); `busy` are
    held by another live task. The rest were delivered already. A claim expires after
    PIPELINE_CLAIM_TTL_S, so a crashed holder delays its messages, never loses them.
    Embedded mode (no Redis) checks the DeliveredMessage table instead (one process).
    """
    if not message_ids:
        return set(), set()
    if not store.buffered():
        seen = delivered_filter(instance_key, instance_pk, message_ids)
        return {m for m in message_ids if m not in seen}, set()
    sets = dedupe_keys(instance_key)
    ttl_ms = int(settings.PIPELINE_CLAIM_TTL_S * 1000)
    states = store.script(lua.CLAIM)(
        keys=[*sets, *claim_keys(instance_key, message_ids)],
        args=[token, ttl_ms, len(sets), *message_ids],
    )
    claimed = {m for m, s in zip(message_ids, states, strict=True) if s == 1}
    busy = {m for m, s in zip(message_ids, states, strict=True) if s == 2}
    return claimed, busy


def claims_release(instance_key: str, message_ids: list[str], token: str) -> int:
    """Drop the claims `token` still holds on these messageIds of one instance (its batch went
    back to the buffer: whichever task takes it next must not wait PIPELINE_CLAIM_TTL_S for
    them to lapse). Claims another task holds are left alone. Returns how many went."""
    if not message_ids or not store.buffered():
        return 0
    return int(store.script(lua.UNCLAIM)(keys=claim_keys(instance_key, message_ids), args=[token]))


def delivery_settle(
    instance_key: str, instance_pk: int, *, delivered: list[str], released: list[str]
) -> None:
    """Mark `delivered` messageIds delivered and let go of every claim (both lists)."""
    if not store.buffered():
        delivered_mark(instance_key, instance_pk, delivered)
        return
    if not delivered and not released:
        return
    pipe = store.client().pipeline(transaction=True)
    if delivered:
        _mark(pipe, instance_key, delivered)
    # Delivered ids are mostly among the released ones: each claim key once.
    pipe.delete(*claim_keys(instance_key, list(dict.fromkeys([*delivered, *released]))))
    pipe.execute()


def delivered_filter(instance_key: str, instance_pk: int, message_ids: list[str]) -> set[str]:
    """The subset of `message_ids` already delivered to this instance within the window."""
    if not message_ids:
        return set()
    if store.buffered():
        hits = store.script(lua.SEEN)(keys=dedupe_keys(instance_key), args=message_ids)
        return {m for m, hit in zip(message_ids, hits, strict=True) if hit}
    since = timezone.now() - timezone.timedelta(seconds=settings.PIPELINE_DEDUPE_TTL_S)
    return set(
        DeliveredMessage.objects.filter(
            instance_id=instance_pk, message_id__in=message_ids, created_at__gte=since
        ).values_list("message_id", flat=True)
    )


def delivered_mark(instance_key: str, instance_pk: int, message_ids: list[str]) -> None:
    """Remember deliveries (after the fact: a crash in between means redelivery, not loss)."""
    if not message_ids:
        return
    if store.buffered():
        pipe = store.client().pipeline(transaction=False)
        _mark(pipe, instance_key, message_ids)
        pipe.execute()
        return
    DeliveredMessage.objects.filter(instance_id=instance_pk, message_id__in=message_ids).delete()
    DeliveredMessage.objects.bulk_create(
        [DeliveredMessage(instance_id=instance_pk, message_id=m) for m in message_ids],
        ignore_conflicts=True,
    )
