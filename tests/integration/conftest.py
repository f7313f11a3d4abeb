"""The real stack for integration tests: PostgreSQL, Redis, gunicorn and a Celery worker.

Needs DATABASE_URL pointing at PostgreSQL and REDIS_URL (e.g. redis://127.0.0.1:6379/14).
Without them these tests skip, or fail when REQUIRE_SERVICES=1 (CI). The web and worker
subprocesses connect to pytest-django's test database, so tests use `transactional_db`
(committed rows) and the stack is stopped before that database is dropped.
"""

from __future__ import annotations

import json
import os
import threading
import time

import pytest
import redis
from django.conf import settings
from django.db import connection
from werkzeug import Response

from tests.integration.stack import Stack, database_url

FAST_POLICY = {
    "PIPELINE_FLUSH_WAIT_S": "0.05",
    "DELIVERY_RETRY_BASE_S": "0.05",
    "DELIVERY_RETRY_CAP_S": "0.2",
    "SOURCE_RETRY_FIRST_MIN_S": "0.05",
    "SOURCE_RETRY_FIRST_MAX_S": "0.1",
    "SOURCE_RETRY_CAP_S": "0.2",
    # A killed worker's unacknowledged tasks come back after this many seconds.
    "CELERY_VISIBILITY_TIMEOUT": "5",
    "CELERY_UNACKED_RESTORE_INTERVAL": "1",
    "CELERY_UNACKED_RESTORE_THROTTLE": "1",
    "CELERY_WORKER_PREFETCH_MULTIPLIER": "1",
}


def _unavailable(reason: str):
    if os.environ.get("REQUIRE_SERVICES") == "1":
        pytest.fail(f"integration services missing: {reason}")
    pytest.skip(reason)


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def redis_url():
    url = os.environ.get("REDIS_URL", "")
    if not url:
        _unavailable("REDIS_URL is not set")
    try:
        redis.Redis.from_url(url, socket_timeout=2).ping()
    except redis.RedisError as e:
        _unavailable(f"Redis at {url} is unreachable: {e}")
    return url


@pytest.fixture(scope="session")
def stack(django_db_setup, django_db_blocker, redis_url, tmp_path_factory):
    """gunicorn + a 2-process Celery worker on the test database; stopped before it is dropped."""
    if connection.vendor != "postgresql":
        _unavailable("integration tests need PostgreSQL (set DATABASE_URL)")
    running = Stack(
        database_url=database_url(connection.settings_dict),
        redis_url=redis_url,
        encryption_key=",".join(settings.FIELD_ENCRYPTION_KEY),
        extra_env=FAST_POLICY,
        log_dir=tmp_path_factory.mktemp("stack"),
    ).start()
    yield running
    running.stop()


class Sink:
    """A local HTTP endpoint standing in for a destination's API; records every request."""

    def __init__(self, httpserver):
        self.server = httpserver
        self.lock = threading.Lock()
        self.requests: list = []  # (body, status answered)
        self.answer = lambda body: 200
        httpserver.expect_request("/sink").respond_with_handler(self._handle)

    @property
    def url(self) -> str:
        return self.server.url_for("/sink")

    def _handle(self, request):
        body = json.loads(request.get_data() or b"null")
        status = self.answer(body)
        with self.lock:
            self.requests.append((body, status))
        if isinstance(status, list):
            return Response(json.dumps(status), status=200, content_type="application/json")
        return Response(json.dumps({"status": status}), status=status, content_type="application/json")

    def events(self, accepted_only: bool = True) -> list[dict]:
        """Every event in requests the sink answered 2xx (batches are flattened)."""
        out = []
        with self.lock:
            for body, status in self.requests:
                for i, event in enumerate(body if isinstance(body, list) else [body]):
                    code = status[i]["status"] if isinstance(status, list) else status
                    if not accepted_only or 200 <= code < 300:
                        out.append(event)
        return out

    def wait_for(self, count: int, timeout: float = 60.0, settle: float = 1.0) -> list[dict]:
        """Wait until `count` events arrived (bounded), then a moment more to catch extras."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.events()) < count:
            time.sleep(0.05)
        time.sleep(settle)
        return self.events()

    def wait_for_ids(self, ids, timeout: float = 60.0, settle: float = 1.0) -> set[str]:
        """Wait until every messageId of `ids` arrived (bounded); the messageIds received.

        Where a fault may redeliver (at least once), duplicates must not count towards the wait:
        a batch delivered twice would otherwise stand in for one still on its way."""
        want, deadline = set(ids), time.monotonic() + timeout
        while time.monotonic() < deadline and not want <= {e["messageId"] for e in self.events()}:
            time.sleep(0.05)
        time.sleep(settle)
        return {e["messageId"] for e in self.events()}


@pytest.fixture
def sink(httpserver):
    return Sink(httpserver)
