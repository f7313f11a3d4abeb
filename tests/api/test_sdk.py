"""Segment's own TypeScript SDK (from npm, unmodified) against a live server's /api.

The SDK lives in tests/api/sdk (package.json + package-lock.json; `make test` runs npm ci).
Without node_modules the test skips, except under REQUIRE_SERVICES=1 (CI), where it fails.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.factories import UserFactory
from workspaces.services import access_token_create, workspace_create

SDK_DIR = Path(__file__).parent / "sdk"
STEPS = ["create", "list", "get", "update", "versions", "restore", "deploy", "delete", "gone"]


def _sdk_or_skip():
    problem = None
    if shutil.which("node") is None:
        problem = "node is not installed"
    elif not (SDK_DIR / "node_modules" / "@segment" / "public-api-sdk-typescript").is_dir():
        problem = "run `npm ci` in tests/api/sdk (make test does)"
    if problem:
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(f"Segment SDK test cannot run: {problem}")
        pytest.skip(problem)


def test_segment_typescript_sdk_drives_the_api(live_server, transactional_db):
    _sdk_or_skip()
    owner = UserFactory(username="sdk-owner")
    workspace = workspace_create(slug="sdk", name="SDK", owner=owner)
    _, token = access_token_create(workspace=workspace, user=owner, name="sdk")
    env = {"PATH": os.environ["PATH"], "API_BASE_URL": f"{live_server.url}/api", "API_TOKEN": token}
    run = subprocess.run(
        ["node", "drive.js"], cwd=SDK_DIR, env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stdout + run.stderr
    steps = [json.loads(line)["step"] for line in run.stdout.splitlines() if line.startswith("{")]
    assert steps == STEPS
