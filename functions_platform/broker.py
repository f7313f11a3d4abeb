"""kombu's Redis transport, made to survive the broker dropping the connection under a busy worker.

When Redis goes away while a worker holds unacknowledged messages, Celery closes the
connection, and closing the channel hands those messages back (`QoS.restore_unacked`). By
then the transport has been detached from its connection, so kombu fails inside
`restore_unacked` with an AttributeError that Celery does not treat as a connection error:
the worker logs "Unrecoverable error" and exits, leaving everything it held unacknowledged.
The same happens when a task that ran through the outage is acknowledged on the old channel.

Nothing is lost by not handing the messages back at that moment: they are still in Redis's
unacknowledged index and come back after the visibility timeout (or at once, if Redis lost
them, there was nothing to hand back). So this QoS logs and carries on; the consumer then
reconnects as it does for any connection error. Selected by CELERY_BROKER_TRANSPORT
(functions_platform/settings.py) for redis:// brokers. Its channels also keep one redis-py
client for their plain commands instead of building one per publish.
"""

from __future__ import annotations

import logging

import redis as redis_py
from kombu.transport import redis, virtual

log = logging.getLogger(__name__)
# What a channel whose connection is gone (or going) raises from kombu and redis-py.
DETACHED = (AttributeError, OSError, redis_py.RedisError)


class QoS(redis.QoS):
    def restore_unacked(self, client=None):
        try:
            return super().restore_unacked(client)
        except DETACHED as exc:
            log.warning(
                "broker connection gone: %d unacknowledged message(s) come back after the "
                "visibility timeout instead (%r)",
                len(self._delivered),
                exc,
            )
            self._delivered.clear()
            return None

    def ack(self, delivery_tag):
        try:
            super().ack(delivery_tag)
        except DETACHED as exc:
            # Forget it locally; Redis redelivers it after the visibility timeout (a repeat
            # that delivery's messageId dedupe absorbs).
            log.warning("could not acknowledge a message on a lost connection (%r)", exc)
            virtual.QoS.ack(self, delivery_tag)

    def reject(self, delivery_tag, requeue=False):
        try:
            super().reject(delivery_tag, requeue=requeue)
        except DETACHED as exc:
            log.warning("could not reject a message on a lost connection (%r)", exc)
            virtual.QoS.ack(self, delivery_tag)


class Channel(redis.Channel):
    QoS = QoS
    _sync_client = None

    def _create_client(self, asynchronous=False):
        # kombu builds a new redis-py client (with its ~170 response callbacks) for every
        # publish, a third of a publish's CPU; one per channel and pool serves them all (a
        # client is thread-safe: each command takes a pooled connection).
        if asynchronous:
            return super()._create_client(asynchronous=True)
        pool, cached = self.pool, self._sync_client
        if cached is None or cached.connection_pool is not pool:
            cached = self._sync_client = super()._create_client()
        return cached


class Transport(redis.Transport):
    Channel = Channel
