"""Fault injection for the integration tests: a private redis-server we restart at will, a
Celery beat next to the stack, sandbox hosts found and killed by pid, and a Node binary that
can be made to fail to start. Only processes started here are ever signalled."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import redis

from tests.integration.stack import BIN, Stack, free_port


class PrivateRedis:
    """redis-server on a free loopback port; stop, kill and restart keep the port and data dir."""

    def __init__(self, directory: Path, *flags: str):
        self.port = free_port()
        self.dir = directory
        self.flags = list(flags)
        self.proc: subprocess.Popen | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self, *flags: str) -> PrivateRedis:
        if flags:
            self.flags = list(flags)
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir)]
        self.proc = subprocess.Popen([*args, "--save", "", *self.flags], stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.RedisError):
                redis.Redis.from_url(self.url, socket_timeout=1).ping()
                return self
            time.sleep(0.05)
        raise RuntimeError("private redis did not start")

    def kill(self) -> None:
        """SIGKILL: a crash (what AOF has written survives, nothing else)."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def restart(self, *, down_s: float = 1.0) -> None:
        self.kill()
        time.sleep(down_s)
        self.start()

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=2)


def beat_start(stack: Stack, schedule_dir: Path) -> subprocess.Popen:
    """celery beat for the stack (the sweep), in its own session."""
    return stack._spawn(
        "beat",
        [
            str(BIN / "celery"),
            "-A",
            "functions_platform",
            "beat",
            "-l",
            "WARNING",
            "-s",
            str(schedule_dir / "beat"),
        ],
    )


def stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=5)


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def sandbox_hosts(stack: Stack) -> list[int]:
    """Pids of the sandbox hosts of the stack's worker (grandchildren running host.js)."""
    if stack.worker is None:
        return []
    hosts = []
    for child in _children(stack.worker.pid):
        for grandchild in _children(child):
            with contextlib.suppress(OSError):
                if b"host.js" in Path(f"/proc/{grandchild}/cmdline").read_bytes():
                    hosts.append(grandchild)
    return hosts


def kill_hosts(stack: Stack) -> int:
    killed = 0
    for pid in sandbox_hosts(stack):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
            killed += 1
    return killed


def failing_node(directory: Path, real_node: str) -> tuple[Path, Path]:
    """A NODE_BINARY that exits 1 while its flag file exists, else runs the real Node."""
    flag = directory / "node-down"
    script = directory / "node"
    script.write_text(f'#!/bin/sh\n[ -e "{flag}" ] && exit 1\nexec "{real_node}" "$@"\n')
    script.chmod(0o755)
    return script, flag
