"""Run a command and start it again whenever it exits on its own (the Procfile's restart policy).

    python scripts/respawn.py [--max-delay 30] -- COMMAND [ARGS...]

Procfile runners (honcho, foreman) stop everything when one process exits; under this
wrapper a crashed worker, or one that refused to start because Redis or PostgreSQL was away,
is started again after a delay that doubles from 1 s up to --max-delay (and starts over once
the command ran for a minute). SIGTERM, SIGINT and SIGHUP go to the command, and after one of
them the wrapper exits with the command's status instead of restarting it.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time

STABLE_AFTER_S = 60.0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--max-delay", type=float, default=30.0, help="longest wait between restarts (s)")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")
    stopping: list[int] = []
    child: subprocess.Popen | None = None

    def forward(signum, frame):
        stopping.append(signum)
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    delay = 1.0
    while True:
        started = time.monotonic()
        child = subprocess.Popen(command)
        status = child.wait()
        if stopping:
            return _exit_code(status)
        if time.monotonic() - started > STABLE_AFTER_S:
            delay = 1.0
        print(
            f"respawn: {command[0]} exited with status {status}; again in {delay:g} s",
            file=sys.stderr,
            flush=True,
        )
        deadline = time.monotonic() + delay
        while not stopping and time.monotonic() < deadline:
            time.sleep(0.1)
        if stopping:
            return _exit_code(status)
        delay = min(args.max_delay, delay * 2)


def _exit_code(status: int) -> int:
    # Popen reports death by signal N as -N; a shell reports it as 128 + N.
    return 128 - status if status < 0 else status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
