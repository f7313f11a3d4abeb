"""scripts/respawn.py, the Procfile's restart policy: a process that exits is started again,
and a stop signal reaches it and ends the wrapper."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from tests.integration.stack import ROOT

# Exits with status 1 on its first two runs (a worker refusing to start), then stays up.
FLAKY = """
import pathlib, sys, time
runs = pathlib.Path(sys.argv[1])
runs.write_text(runs.read_text() + "x" if runs.exists() else "x")
if len(runs.read_text()) < 3:
    sys.exit(1)
time.sleep(120)
"""


def test_respawn_restarts_then_stops_on_sigterm(tmp_path):
    runs = tmp_path / "runs"
    script = tmp_path / "flaky.py"
    script.write_text(FLAKY)
    wrapper = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "scripts" / "respawn.py"),
            "--max-delay",
            "0.5",
            "--",
            sys.executable,
            str(script),
            str(runs),
        ],
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (runs.exists() and len(runs.read_text()) >= 3):
            time.sleep(0.1)
        assert runs.read_text() == "xxx"  # two failed starts, then a third that stays up
        time.sleep(0.5)
        assert wrapper.poll() is None
        wrapper.send_signal(signal.SIGTERM)
        status = wrapper.wait(timeout=30)
    finally:
        if wrapper.poll() is None:
            wrapper.kill()
    assert status == 128 + signal.SIGTERM  # the command's own status: it was stopped, not restarted
    assert runs.read_text() == "xxx"
    assert wrapper.stderr.read().count("exited with status 1") == 2
