"""A private Redis Cluster for the tests: three masters on free loopback ports, no replicas, no
persistence, in a directory of its own. Every redis-server started here is stopped by its pid."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis

from tests.integration.stack import free_port

BUS_OFFSET = 10000  # a cluster node also listens on its port + 10000 (the cluster bus)


class PrivateCluster:
    """`redis-server --cluster-enabled yes` ×N joined by `redis-cli --cluster create`."""

    def __init__(self, directory: Path, masters: int = 3):
        for tool in ("redis-server", "redis-cli"):
            if not shutil.which(tool):
                pytest.fail(f"{tool} is not installed (the Redis Cluster test needs it)")
        self.dir = directory
        self.ports = [_node_port() for _ in range(masters)]
        self.procs: list[subprocess.Popen] = []

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def start(self) -> PrivateCluster:
        try:
            for port in self.ports:
                self.procs.append(self._node(port))
            for port in self.ports:
                self._wait(lambda p=port: redis.Redis(port=p, socket_timeout=1).ping())
            self._create()
            for port in self.ports:
                self._wait(lambda p=port: redis.Redis(port=p).cluster("info")["cluster_state"] == "ok")
        except BaseException:
            self.stop()
            raise
        return self

    def _node(self, port: int) -> subprocess.Popen:
        args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(self.dir)]
        args += ["--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf"]
        args += ["--save", "", "--appendonly", "no"]
        return subprocess.Popen(args, stdout=subprocess.DEVNULL)

    def _create(self) -> None:
        nodes = [f"127.0.0.1:{port}" for port in self.ports]
        subprocess.run(
            ["redis-cli", "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=30,
        )

    @staticmethod
    def _wait(ready, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.RedisError):
                if ready():
                    return
            time.sleep(0.05)
        raise RuntimeError("the private Redis Cluster did not come up")

    def node(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, socket_timeout=2)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=5)
        self.procs = []


def _node_port() -> int:
    """A free port whose cluster-bus port (+10000) is free and in range too."""
    for _ in range(100):
        port = free_port()
        if port + BUS_OFFSET < 65536 and _free(port + BUS_OFFSET):
            return port
    raise RuntimeError("no free port pair for a cluster node")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
