"""gunicorn hooks for multiprocess metrics: `gunicorn -c python:functions_platform.gunicorn_conf`.

The master runs these, without Django: it empties this service's sample directory at start
(last run's files would be merged into this run's figures) and drops an exited worker's
live-gauge files (its counters stay: they are part of the totals). See docs/observability.md.
"""

import glob
import os

from prometheus_client import multiprocess


def on_starting(server):
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
    if directory:
        os.makedirs(directory, exist_ok=True)
        for path in glob.glob(os.path.join(directory, "*.db")):
            os.remove(path)


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
