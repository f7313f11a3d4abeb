"""A PostgreSQL outage: ingest answers 503 (never 500) on /v1/* and /hooks/*, and 200 again once
PostgreSQL is back.

The stack reaches the test database through a TCP forwarder (tests/integration/tcp_proxy.py)
that stands for the PostgreSQL server: SIGKILLing it by pid drops every connection and refuses
new ones, exactly what the platform sees when its PostgreSQL dies; starting it again brings the
server back. (A private postmaster would need initdb as an unprivileged user, which this
machine's sandbox does not allow.)
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.db import connection

from catalog.choices import ResourceType
from tests.factories import FunctionFactory, InstanceFactory, SourceFactory, WorkspaceFactory
from tests.integration.conftest import FAST_POLICY
from tests.integration.stack import Stack, database_url, free_port
from workspaces.choices import SourceKind

pytestmark = pytest.mark.django_db(transaction=True)

SOURCE = "async function onRequest(request) { Segment.track({event: 'hook', userId: 'u'}) }"
PROXY = Path(__file__).with_name("tcp_proxy.py")


class PostgresDoor:
    """The forwarder to the real PostgreSQL, started and SIGKILLed by pid."""

    def __init__(self, target: dict):
        self.port, self.proc = free_port(), None
        self.target = (target.get("HOST") or "127.0.0.1", str(target.get("PORT") or 5432))

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, str(PROXY), str(self.port), *self.target])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the forwarder did not start")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def test_postgres_outage_answers_503_then_recovers(redis_url, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    workspace = WorkspaceFactory()
    tracking = SourceFactory(workspace=workspace, kind=SourceKind.TRACKING_API)
    hook = InstanceFactory(
        function=FunctionFactory(workspace=workspace, resource_type=ResourceType.SOURCE, code=SOURCE)
    )
    pg = PostgresDoor(connection.settings_dict)
    pg.start()
    stack = None
    try:
        via_door = {**connection.settings_dict, "HOST": "127.0.0.1", "PORT": pg.port}
        stack = Stack(
            database_url=database_url(via_door),
            redis_url=redis_url,
            encryption_key=",".join(settings.FIELD_ENCRYPTION_KEY),
            extra_env=FAST_POLICY,
            log_dir=tmp_path,
        ).start()
        calls = {
            "/v1/batch": lambda: requests.post(
                f"{stack.base_url}/v1/batch",
                json={"batch": [{"type": "track", "event": "e", "userId": "u"}]},
                auth=(tracking.write_key, ""),
                timeout=30,
            ),
            "/v1/track": lambda: requests.post(
                f"{stack.base_url}/v1/track",
                json={"event": "e", "userId": "u"},
                auth=(tracking.write_key, ""),
                timeout=30,
            ),
            "/hooks": lambda: requests.post(
                f"{stack.base_url}/hooks/{hook.source.webhook_token}", json={"a": 1}, timeout=30
            ),
        }
        assert {path: call().status_code for path, call in calls.items()} == dict.fromkeys(calls, 200)
        pg.kill()
        time.sleep(settings.PIPELINE_LOOKUP_CACHE_S + 1)  # past the web tier's lookup cache
        down = {path: call() for path, call in calls.items()}
        assert {path: r.status_code for path, r in down.items()} == dict.fromkeys(calls, 503), {
            path: r.text[:200] for path, r in down.items()
        }
        assert all(r.json()["code"] == "unavailable" for r in down.values())
        pg.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            back = {path: call().status_code for path, call in calls.items()}
            if back == dict.fromkeys(calls, 200):
                break
            time.sleep(0.5)
        assert back == dict.fromkeys(calls, 200)
    finally:
        if stack is not None:
            stack.stop()
        pg.kill()
