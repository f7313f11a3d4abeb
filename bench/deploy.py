"""Save & Deploy fan-out benchmark on the real stack (PostgreSQL, Redis, a Celery worker).

    .venv/bin/python bench/deploy.py [--instances 1000] [--json]

Uses its own database (fp_deploy_bench, or BENCH_DB_NAME; recreated and migrated on every run,
with throwaway keys, so no .env is needed) and Redis db 12 (or BENCH_REDIS_URL). Creates a
destination function with N instances, starts one Celery worker with 2 processes (stopped by
pid at the end), then times one Save & Deploy from the call until every instance runs the new
version. With --json the last line is {"instances": N, "seconds": S}.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DB_NAME = os.environ.get("BENCH_DB_NAME", "fp_deploy_bench")
BENCH_REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
ENV = {
    "DJANGO_SETTINGS_MODULE": "functions_platform.settings",
    "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
    "REDIS_URL": BENCH_REDIS_URL,
    "CELERY_BROKER_URL": BENCH_REDIS_URL,
    "PIPELINE_REDIS_URL": BENCH_REDIS_URL,
    "CELERY_TASK_ALWAYS_EAGER": "False",
    "LOG_LEVEL": "WARNING",
    # Throwaway keys for this run: no .env needed, and the database is recreated below because
    # its rows (and the encryption canary) are encrypted with this run's key.
    "SECRET_KEY": secrets.token_urlsafe(50),
    "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
}
TIMEOUT_S = 120


def database_ensure() -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def django_setup() -> None:
    os.environ.update(ENV)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


def fixture_create(count: int):
    """A fresh workspace with one destination function and `count` instances on one source."""
    from django.utils import timezone

    from catalog.choices import ResourceType
    from catalog.services import function_create
    from runtime.models import FunctionInstance
    from workspaces.models import Workspace
    from workspaces.services import source_create, user_ensure, workspace_create

    # Instances first: they PROTECT the versions a workspace delete would cascade to.
    FunctionInstance.objects.filter(function__workspace__slug="deploy-bench").delete()
    Workspace.objects.filter(slug="deploy-bench").delete()
    user, _ = user_ensure(username="deploy-bench")
    workspace = workspace_create(slug="deploy-bench", owner=user)
    source = source_create(workspace=workspace, name="Bench source")
    function = function_create(
        workspace=workspace, resource_type=ResourceType.DESTINATION, display_name="Bench", created_by=user
    )
    now = timezone.now()
    FunctionInstance.objects.bulk_create(
        FunctionInstance(
            function=function,
            name=f"bench {n}",
            source=source,
            deployed_version=function.latest_version,
            deployed_at=now,
        )
        for n in range(count)
    )
    return function, user


def worker_start() -> subprocess.Popen:
    celery = str(Path(sys.executable).parent / "celery")  # the virtualenv running this script
    args = [
        celery, "-A", "functions_platform", "worker",
        "-c", os.environ.get("BENCH_WORKER_CONCURRENCY", "2"),
        "-P", os.environ.get("BENCH_WORKER_POOL", "prefork"),
        "-l", os.environ.get("BENCH_WORKER_LOGLEVEL", "WARNING"),
        "--without-gossip", "--without-mingle", "--without-heartbeat",
        *os.environ.get("BENCH_WORKER_ARGS", "").split(),
    ]  # fmt: skip
    # Its own session, so stopping it by pid reaches its two pool processes as well.
    return subprocess.Popen(args, cwd=ROOT, env={**os.environ, **ENV}, start_new_session=True)


def worker_wait_ready(worker: subprocess.Popen) -> None:
    from functions_platform.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise SystemExit(f"the Celery worker exited with {worker.returncode}")
        if app.control.ping(timeout=0.5):
            return
    raise SystemExit("the Celery worker did not answer a ping within 60 s")


def worker_stop(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()


def deploy_and_wait(function, user) -> float:
    """Seconds from the Save & Deploy call until no instance runs another version."""
    from runtime.models import FunctionInstance
    from runtime.services import function_save_and_deploy

    started = time.perf_counter()
    result = function_save_and_deploy(function=function, author=user, code=function.code + "\n// bench\n")
    print(
        f"saved, {len(result.deployments)} rows written and tasks published in {time.perf_counter() - started:.2f} s"
    )
    pending = FunctionInstance.objects.filter(function=function).exclude(deployed_version=result.version)
    while pending.exists():
        if time.perf_counter() - started > TIMEOUT_S:
            raise SystemExit(f"{pending.count()} instances still not deployed after {TIMEOUT_S} s")
        time.sleep(0.05)  # the poll itself loads the 2-core box; 50 ms is the resolution
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--json", action="store_true", help="End with one JSON line.")
    options = parser.parse_args()
    database_ensure()
    django_setup()
    from functions_platform.celery import app

    app.control.purge()  # tasks left over from an interrupted run
    function, user = fixture_create(options.instances)
    worker = worker_start()
    try:
        worker_wait_ready(worker)
        seconds = deploy_and_wait(function, user)
    finally:
        worker_stop(worker)
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    # The machine may be shared: the worker's CPU time and the load tell waiting from working.
    load = os.getloadavg()[0]
    print(f"worker CPU {cpu.ru_utime + cpu.ru_stime:.2f} s (3 processes, start-up included); load {load:.1f}")
    print(
        f"Save & Deploy to {options.instances} instances: every instance on the new version in {seconds:.2f} s"
    )
    if options.json:
        print(json.dumps({"instances": options.instances, "seconds": round(seconds, 3)}))


if __name__ == "__main__":
    main()
