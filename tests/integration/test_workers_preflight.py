"""Workers and beat refuse to start on a bad configuration (functions_platform.checks).

Each case starts a real `celery worker` (or `celery beat`) process with one thing wrong and
asserts that it exits non-zero, naming the problem, instead of starting and failing every
task. All cases start at once (process start-up dominates on a loaded machine).
"""

from __future__ import annotations

import subprocess
import time

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.db import connection

from tests.integration.stack import BIN, ROOT, database_url, free_port
from workspaces.models import EncryptionCanary

pytestmark = pytest.mark.django_db(transaction=True)

# A Node "binary" that reports version 24 (so the engine check passes) but cannot run the host.
FAKE_NODE = """#!/bin/sh
if [ "$1" = "--version" ]; then echo v24.0.0; exit 0; fi
echo "this node cannot start" >&2
exit 3
"""


def _env(redis_url: str, **overrides) -> dict:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": "/tmp",
        "DJANGO_SETTINGS_MODULE": "functions_platform.settings",
        "DATABASE_URL": database_url(connection.settings_dict),
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "CACHE_URL": "locmemcache://",
        "FIELD_ENCRYPTION_KEY": ",".join(settings.FIELD_ENCRYPTION_KEY),
        "SECRET_KEY": "preflight-" + "x" * 40,
        "WORKER_BROKER_WAIT_S": "2",
        "CELERY_TASK_DEFAULT_QUEUE": f"preflight-{free_port()}",
        "PYTHONUNBUFFERED": "1",
    }
    # Empty, not absent: settings fall back to the checkout's .env for an absent name.
    return {**env, **overrides}


def _start(args: list[str], env: dict, cwd) -> subprocess.Popen:
    return subprocess.Popen(
        [str(BIN / "celery"), "-A", "functions_platform", *args],
        cwd=cwd,
        env={**env, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _scheduled(args: list[str], schedule) -> list[str]:
    return [*args, "--schedule", str(schedule)] if args[0] == "beat" else args


WORKER = ["worker", "-l", "WARNING", "-c", "1", "--without-gossip", "--without-mingle"]
# Each beat gets a schedule file of its own in the test's directory: beat deletes a schedule it
# cannot open, and as root `--schedule /dev/null` removed the machine's /dev/null.
BEAT = ["beat", "-l", "WARNING"]


@pytest.fixture(scope="module")
def outcomes(django_db_setup, django_db_blocker, redis_url, tmp_path_factory):
    """Start every bad configuration at once; {case: (exit status, output)}."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    with django_db_blocker.unblock():
        # A transactional test before this module flushes the row migration 0002 stored; without
        # it the wrong key has nothing to fail to decrypt.
        if not EncryptionCanary.objects.exists():
            EncryptionCanary.objects.create(value=EncryptionCanary.PLAINTEXT)
    tmp = tmp_path_factory.mktemp("preflight")
    fake_node = tmp / "node"
    fake_node.write_text(FAKE_NODE)
    fake_node.chmod(0o755)
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    cases = {
        "no_encryption_key": (WORKER, {"FIELD_ENCRYPTION_KEY": ""}),
        "bad_encryption_key": (WORKER, {"FIELD_ENCRYPTION_KEY": "not-a-key"}),
        "wrong_encryption_key": (WORKER, {"FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode()}),
        "no_secret_key": (WORKER, {"SECRET_KEY": ""}),
        "broker_unreachable": (WORKER, {"CELERY_BROKER_URL": nowhere, "REDIS_URL": nowhere}),
        "sandbox_cannot_start": (WORKER, {"NODE_BINARY": str(fake_node)}),
        "beat_no_encryption_key": (BEAT, {"FIELD_ENCRYPTION_KEY": ""}),
        "beat_broker_unreachable": (BEAT, {"CELERY_BROKER_URL": nowhere, "REDIS_URL": nowhere}),
    }
    procs = {
        name: _start(_scheduled(args, tmp / f"{name}.schedule"), _env(redis_url, **env), tmp)
        for name, (args, env) in cases.items()
    }
    results, deadline = {}, time.monotonic() + 300
    for name, proc in procs.items():
        try:
            out, _ = proc.communicate(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
            results[name] = (None, out)  # still running: it started despite the problem
            continue
        results[name] = (proc.returncode, out)
    return results


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("no_encryption_key", "functions_platform.E001"),
        ("bad_encryption_key", "functions_platform.E001"),
        ("wrong_encryption_key", "functions_platform.E002"),
        ("no_secret_key", "functions_platform.E005"),
        ("broker_unreachable", "functions_platform.E006"),
        ("sandbox_cannot_start", "functions_platform.E007"),
        ("beat_no_encryption_key", "functions_platform.E001"),
        ("beat_broker_unreachable", "functions_platform.E006"),
    ],
)
def test_process_refuses_to_start(outcomes, case, expected):
    status, output = outcomes[case]
    assert status not in (None, 0), f"{case}: started anyway:\n{output[-2000:]}"
    assert "refuses to start" in output and expected in output, output[-2000:]
