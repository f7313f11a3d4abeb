"""Start and stop the real stack (gunicorn + one Celery worker) as subprocesses, by pid.

Used by the integration tests (tests/integration/conftest.py) and bench/pipeline.py. Each
process gets an explicit environment (database, Redis, encryption key, fast retry policy) so
nothing depends on the caller's shell; every process is started in its own session and
stopped by its process-group id.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_url(settings_dict: dict) -> str:
    """A DATABASE_URL for a Django connection's settings (the test database included)."""
    user = settings_dict.get("USER") or "postgres"
    password = f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else ""
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{settings_dict['NAME']}"


class Stack:
    """gunicorn serving the app plus a Celery worker, sharing one environment."""

    def __init__(
        self,
        *,
        database_url: str,
        redis_url: str,
        encryption_key: str,
        extra_env=None,
        web_workers: int = 2,
        web_threads: int = 4,
        concurrency: int = 2,
        log_dir=None,
    ):
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.web_workers, self.web_threads, self.concurrency = web_workers, web_threads, concurrency
        self.log_dir = Path(log_dir) if log_dir else None
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/tmp"),
            "DJANGO_SETTINGS_MODULE": "functions_platform.settings",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": redis_url,
            "PIPELINE_REDIS_URL": redis_url,
            # Own queue and key prefix: parallel stacks (pytest -n) may share one Redis db.
            "CELERY_TASK_DEFAULT_QUEUE": f"pipeline-{self.port}",
            "PIPELINE_KEY_PREFIX": f"fp{self.port}",
            "CACHE_URL": "locmemcache://",
            "FIELD_ENCRYPTION_KEY": encryption_key,
            "SECRET_KEY": "integration-" + "x" * 40,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "PUBLIC_BASE_URL": self.base_url,
            "FUNCTIONS_EGRESS_ALLOW": "127.0.0.1",
            "STATICFILES_BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage",
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            **{k: str(v) for k, v in (extra_env or {}).items()},
        }
        self.web: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None
        self.beat: subprocess.Popen | None = None

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        out = open(self.log_dir / f"{name}.log", "ab") if self.log_dir else subprocess.DEVNULL  # noqa: SIM115
        return subprocess.Popen(
            args, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )

    def start(self) -> Stack:
        self.web = self._spawn(
            "web",
            [
                str(BIN / "gunicorn"),
                "functions_platform.wsgi",
                "-b",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(self.web_workers),
                "--threads",
                str(self.web_threads),
                "--graceful-timeout",
                "2",
                "--backlog",
                "2048",
            ],
        )
        self.worker_start()
        self._wait_web()
        return self

    def worker_start(self) -> None:
        self.worker = self._spawn(
            "worker",
            [
                str(BIN / "celery"),
                "-A",
                "functions_platform",
                "worker",
                "--pool",
                "prefork",
                "-c",
                str(self.concurrency),
                "-l",
                "WARNING",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"pipeline-{self.port}-{time.monotonic_ns()}@%h",
            ],
        )

    def beat_start(self, schedule_path: str) -> None:
        """Celery beat: the periodic sweeps (stalled buffers, expired in-flight leases, lost retries)."""
        self.beat = self._spawn(
            "beat",
            [
                str(BIN / "celery"),
                "-A",
                "functions_platform",
                "beat",
                "-l",
                "WARNING",
                "--schedule",
                schedule_path,
            ],
        )

    def beat_stop(self) -> None:
        _killpg(self.beat, signal.SIGTERM)
        if self.beat is not None:
            self.beat.wait(timeout=30)
        self.beat = None

    def worker_kill(self) -> None:
        """SIGKILL the worker and its pool children (a crash, not a shutdown)."""
        _killpg(self.worker, signal.SIGKILL)
        self.worker = None

    def _wait_web(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.web.poll() is not None:
                raise RuntimeError("gunicorn exited during startup")
            try:
                with urlopen(f"{self.base_url}/healthz", timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not answer /healthz")

    def stop(self) -> None:
        for proc in (self.beat, self.worker, self.web):
            _killpg(proc, signal.SIGTERM)
        for proc in (self.beat, self.worker, self.web):
            if proc is None:
                continue
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                _killpg(proc, signal.SIGKILL)
                proc.wait(timeout=5)
        self.beat = self.worker = self.web = None


def descendants(root: int) -> list[int]:
    """Pids of every process under `root` (from /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def sandbox_hosts(worker_pid: int) -> list[int]:
    """The Node sandbox hosts of a worker's pool processes (not a host the worker's main
    process runs for its start-up check)."""
    hosts = []
    for child in _children(worker_pid):
        for pid in _children(child):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if argv and argv[0].endswith(b"node") and any(a.endswith(b"host.js") for a in argv):
                hosts.append(pid)
    return hosts


def _children(pid: int) -> list[int]:
    return [p for p in descendants(pid) if _parent(p) == pid]


def _parent(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _killpg(proc: subprocess.Popen | None, sig: int) -> None:
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
