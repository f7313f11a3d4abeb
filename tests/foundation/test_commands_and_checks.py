import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from functions_platform import checks
from workspaces import permissions
from workspaces.models import EncryptionCanary, Membership, Workspace

ROOT = Path(__file__).resolve().parents[2]


def test_create_workspace_is_idempotent(db, django_user_model):
    call_command("create_workspace", "team", "--owner", "alice", "--password", "s3cret-Pass")
    call_command("create_workspace", "team", "--owner", "alice")
    workspace = Workspace.objects.get(slug="team")
    alice = django_user_model.objects.get(username="alice")
    assert alice.is_staff and alice.check_password("s3cret-Pass")
    assert Membership.objects.filter(workspace=workspace, user=alice, is_owner=True).count() == 1
    assert permissions.is_owner(alice, workspace)


def test_create_workspace_rejects_a_bad_slug(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("create_workspace", "Not A Slug!", "--owner", "bob")
    assert not Workspace.objects.exists()


def test_encryption_key_check(settings):
    settings.FIELD_ENCRYPTION_KEY_PROBLEM = "FIELD_ENCRYPTION_KEY is not set"
    assert [e.id for e in checks.encryption_key_check()] == ["functions_platform.E001"]
    settings.FIELD_ENCRYPTION_KEY_PROBLEM = None
    assert checks.encryption_key_check() == []


def test_malformed_key_is_detected():
    from functions_platform.settings import _fernet_keys

    assert _fernet_keys([])[1] == "FIELD_ENCRYPTION_KEY is not set"
    assert "not a url-safe base64" in _fernet_keys(["short"])[1]


def test_canary_check_catches_a_wrong_key(db):
    assert checks.encryption_canary_check() == []
    # What django-encrypted-model-fields returns under a wrong key: the ciphertext itself.
    EncryptionCanary.objects.all().delete()
    EncryptionCanary.objects.create(value="gAAAAAB-not-our-plaintext")
    assert [e.id for e in checks.encryption_canary_check()] == ["functions_platform.E002"]


def test_node_check(settings, tmp_path):
    assert checks.node_check() == []  # the pinned Node.js 24 engine, with isolated-vm built
    settings.NODE_BINARY = "definitely-not-node"
    assert [e.id for e in checks.node_check()] == ["functions_platform.E003"]
    old = tmp_path / "node"
    old.write_text("#!/bin/sh\necho v20.20.2\n")
    old.chmod(0o755)
    settings.NODE_BINARY = str(old)
    [error] = checks.node_check()
    assert error.id == "functions_platform.E003"
    assert "needs Node.js 24.x, found v20.20.2" in error.msg


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("redis://127.0.0.1:6379/0", True),
        ("", True),
        ("amqp://guest@localhost//", True),
        ("redis://127.0.0.1:notaport/0", False),
        ("bogus://x", False),
        ("redis://", False),
    ],
)
def test_broker_url_check(settings, url, ok):
    settings.CELERY_BROKER_URL = url
    assert (checks.broker_url_check() == []) is ok


def _runfunction(tmp_path, code, *args):
    script = tmp_path / "fn.js"
    script.write_text(code)
    return subprocess.run(
        [sys.executable, "manage.py", "runfunction", str(script), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_runfunction_destination_with_settings(tmp_path):
    (tmp_path / "e.json").write_text(json.dumps({"type": "track", "event": "Hi", "userId": "u"}))
    (tmp_path / "s.json").write_text(json.dumps({"greeting": "hello"}))
    proc = _runfunction(
        tmp_path,
        "async function onTrack(e, s) { console.log(s.greeting); return e.event }",
        "--type",
        "destination",
        "--event",
        str(tmp_path / "e.json"),
        "--settings",
        str(tmp_path / "s.json"),
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert list(out) == [
        "status",
        "error",
        "returned",
        "events",
        "objects",
        "logs",
        "requests",
        "duration_ms",
    ]
    assert out["status"] == "success" and out["returned"] == "Hi"
    assert out["logs"][0]["message"] == "hello"


def test_runfunction_reports_a_thrown_error_with_exit_0(tmp_path):
    (tmp_path / "r.json").write_text(json.dumps({"headers": {}, "body": "{not json"}))
    proc = _runfunction(
        tmp_path,
        "async function onRequest(r) { r.json() }",
        "--type",
        "source",
        "--request",
        str(tmp_path / "r.json"),
    )
    out = json.loads(proc.stdout)
    assert proc.returncode == 0 and out["status"] == "error"
    assert out["error"]["type"] == "SyntaxError" and set(out["error"]) == {"type", "message"}


def test_runfunction_batch_array_runs_onbatch(tmp_path):
    (tmp_path / "b.json").write_text(json.dumps([{"type": "track"}, {"type": "identify"}]))
    proc = _runfunction(
        tmp_path,
        "async function onBatch(events) { return events.length }",
        "--type",
        "destination",
        "--event",
        str(tmp_path / "b.json"),
    )
    assert json.loads(proc.stdout)["returned"] == 2


@pytest.mark.parametrize(
    "args",
    [
        ["--type", "destination"],
        ["--type", "destination", "--event", "/nonexistent.json"],
        ["--type", "nope"],
    ],
)
def test_runfunction_usage_errors_exit_2(tmp_path, args):
    proc = _runfunction(tmp_path, "function onTrack() {}", *args)
    assert proc.returncode == 2 and proc.stderr.strip() and not proc.stdout.strip()
