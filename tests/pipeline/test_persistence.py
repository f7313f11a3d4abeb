"""Production mode refuses a Redis that would lose accepted events (check runtime.E101, /readyz).

Each test starts a PRIVATE redis-server on a free port (with or without AOF) and stops it by pid.
"""

import shutil
import socket
import subprocess
import time

import pytest
import redis
from django.core.checks import run_checks

from runtime.pipeline import persistence, store


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def private_redis(tmp_path):
    """Start redis-server with the given flags; yields a function returning its URL."""
    if not shutil.which("redis-server"):
        pytest.fail("redis-server is not installed")
    procs = []

    def start(*flags: str) -> str:
        port = _free_port()
        proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(tmp_path),
                "--save",
                "",
                *flags,
            ],
            stdout=subprocess.DEVNULL,
        )
        procs.append(proc)
        url = f"redis://127.0.0.1:{port}/0"
        for _ in range(100):
            try:
                redis.Redis.from_url(url).ping()
                return url
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("private redis did not start")

    yield start
    for proc in procs:
        proc.kill()
        proc.wait(timeout=5)


@pytest.fixture
def production(settings, monkeypatch):
    monkeypatch.setattr(store, "buffered", lambda: True)
    settings.PIPELINE_REDIS_VOLATILE_OK = False
    return settings


def _deploy_errors():
    return [m.id for m in run_checks(include_deployment_checks=True, tags=["pipeline"])]


def test_a_redis_without_aof_is_refused(private_redis, production, client):
    production.PIPELINE_REDIS_URL = private_redis("--appendonly", "no")
    assert "appendonly no" in persistence.persistence_problem()
    assert _deploy_errors() == ["runtime.E101"]
    assert client.get("/readyz").json()["redis_persistence"] is False


def test_appendfsync_no_is_refused(private_redis, production):
    production.PIPELINE_REDIS_URL = private_redis("--appendonly", "yes", "--appendfsync", "no")
    assert "appendfsync no" in persistence.persistence_problem()


@pytest.mark.parametrize("fsync", ["everysec", "always"])
def test_aof_with_fsync_passes(private_redis, production, fsync):
    production.PIPELINE_REDIS_URL = private_redis("--appendonly", "yes", "--appendfsync", fsync)
    assert persistence.persistence_problem() is None
    assert _deploy_errors() == []


def test_the_operator_may_accept_the_loss(private_redis, production):
    production.PIPELINE_REDIS_URL = private_redis("--appendonly", "no")
    production.PIPELINE_REDIS_VOLATILE_OK = True
    assert persistence.persistence_problem() is None
    assert _deploy_errors() == ["runtime.W101"]


def test_embedded_mode_has_nothing_to_check(settings):
    assert not store.buffered()
    assert persistence.persistence_problem() is None
