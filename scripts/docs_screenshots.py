"""Regenerate the editor's screenshots in docs/images/ with Playwright (real chromium).

Runs the browser tests that take them, then copies the shots into docs/images/:
  deploy-dialog.png     the Save & Deploy dialog (tests/admin_ui/test_browser_deploy.py)
  source-debugger.png   the source debugger (tests/admin_ui/test_source_debugger_browser.py)

    DATABASE_URL=... REDIS_URL=... .venv/bin/python scripts/docs_screenshots.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "test-artifacts" / "screenshots"
IMAGES = ROOT / "docs" / "images"
# test file -> (screenshot it takes, image in docs/images)
SOURCES = {
    "tests/admin_ui/test_browser_deploy.py": ("42-deploy-dialog.png", "deploy-dialog.png"),
    "tests/admin_ui/test_source_debugger_browser.py": ("60-source-debugger.png", "source-debugger.png"),
}


def main() -> int:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *SOURCES]
    if subprocess.run(command, cwd=ROOT).returncode != 0:
        print("the browser tests failed: docs/images/ left as it was", file=sys.stderr)
        return 1
    for shot, image in SOURCES.values():
        shutil.copy(SHOTS / shot, IMAGES / image)
        print(f"docs/images/{image} <- test-artifacts/screenshots/{shot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
