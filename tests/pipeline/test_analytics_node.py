"""Segment's own Node client (@segment/analytics-node, from npm, unmodified) against /v1/batch.

The client lives in tests/pipeline/analytics_node (package.json + lockfile; `make test` runs
npm ci). Without it the test skips, except under REQUIRE_SERVICES=1 (CI), where it fails.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.pipeline.conftest import sink_events

CLIENT_DIR = Path(__file__).parent / "analytics_node"


def _client_or_skip():
    problem = None
    if shutil.which("node") is None:
        problem = "node is not installed"
    elif not (CLIENT_DIR / "node_modules" / "@segment" / "analytics-node").is_dir():
        problem = "run `npm ci` in tests/pipeline/analytics_node (make test does)"
    if problem:
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(f"analytics-node test cannot run: {problem}")
        pytest.skip(problem)


def test_segment_node_client_delivers_to_a_destination(live_server, transactional_db, destination, sink):
    _client_or_skip()
    env = {"PATH": os.environ["PATH"], "HOST": live_server.url, "WRITE_KEY": destination.source.write_key}
    run = subprocess.run(
        ["node", "send.js"], cwd=CLIENT_DIR, env=env, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert json.loads(run.stdout.splitlines()[-1]) == {"sent": 2}
    events = sink_events(sink)
    assert sorted((e["type"], e.get("event")) for e in events) == [
        ("identify", None),
        ("track", "Node Signup"),
    ]
    track = next(e for e in events if e["type"] == "track")
    assert track["userId"] == "node-user" and track["properties"] == {"plan": "pro"}
    assert track["context"]["library"]["name"] == "@segment/analytics-node"
    assert track["messageId"] and track["receivedAt"] and track["writeKey"] == destination.source.write_key
