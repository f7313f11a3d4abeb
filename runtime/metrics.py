"""Prometheus metrics: what the platform counts, and the `/metrics` endpoint that exports it.

The pipeline, the ingest views and the deploy service call the small `*_observe` functions
here (one line at each instrumentation point); everything else about metrics lives in this
module. With `PROMETHEUS_MULTIPROC_DIR` set (production: gunicorn workers and Celery worker
processes), every process writes its samples to files there and `/metrics` merges all of them,
so one scrape counts the whole machine (docs/observability.md). Without it (embedded mode,
one process) the process's own registry is exported.
"""

from __future__ import annotations

import glob
import hmac
import ipaddress
import logging
import os
import threading
from functools import wraps

from celery import signals
from django.conf import settings
from django.http import HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from functions_platform.request_ids import current as current_request_id

from .choices import PipelineStage
from .pipeline import store
from .sandbox.django import sandbox

OTHER = "other"
TRACE_IDS = 100
trace = logging.getLogger("runtime.pipeline.trace")
# Seconds; the same bounds as the DeliveryStat histogram (runtime.pipeline.records.HISTOGRAM_MS).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)

INGEST_REQUESTS = Counter(
    "fp_ingest_requests", "Ingest requests answered, by endpoint, status and outcome",
    ["endpoint", "status", "outcome"],
)  # fmt: skip
STAGE_EVENTS = Counter(
    "fp_stage_events", "Events entering (in) and leaving (out) each pipeline stage", ["stage", "direction"]
)
DELIVERY_EVENTS = Counter(
    "fp_delivery_events", "Delivery outcomes per function and instance", ["function", "instance", "outcome"]
)
DELIVERY_LATENCY = Histogram(
    "fp_delivery_latency_seconds", "Ingest-to-delivery latency of delivered events",
    ["function", "instance"], buckets=LATENCY_BUCKETS,
)  # fmt: skip
SANDBOX_CALLS = Counter("fp_sandbox_calls", "Function invocations in the sandbox", ["kind", "status"])
SANDBOX_TIMEOUTS = Counter("fp_sandbox_timeouts", "Invocations that hit their deadline", ["kind"])
SANDBOX_MEMORY = Counter("fp_sandbox_memory_limits", "Invocations stopped by a memory limit", ["kind"])
HOST_RESTARTS = Counter("fp_sandbox_host_restarts", "Sandbox host processes replaced after exiting")
DEPLOYS = Counter("fp_deploys", "Deployments settled, by final status", ["status"])

_lock = threading.Lock()
_labelled: dict[int, tuple[str, str]] = {}
_host_pid: list[int | None] = [None]


# --- instrumentation points ------------------------------------------------------------------


def ingest_counted(endpoint: str):
    """Decorate an ingest view: count each answer by endpoint and status (2xx = accepted).

    `endpoint` may name a view keyword (e.g. "kind" for /v1/<kind>) as `"{kind}"`.
    """

    def decorate(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            response = view(request, *args, **kwargs)
            name = endpoint.format(**kwargs) if "{" in endpoint else endpoint
            outcome = "accepted" if 200 <= response.status_code < 300 else "refused"
            INGEST_REQUESTS.labels(name, str(response.status_code), outcome).inc()
            return response

        return wrapped

    return decorate


def stage_observe(stage: str, *, received: int = 0, sent: int = 0, events=(), request_ids=()) -> None:
    """Count events entering (`received`) and leaving (`sent`) a pipeline stage, and log it.

    The log line names the request ids and messageIds of the work (at most TRACE_IDS of
    each), so an event can be followed from its ingest request to its delivery.
    """
    if received:
        STAGE_EVENTS.labels(stage, "in").inc(received)
    if sent:
        STAGE_EVENTS.labels(stage, "out").inc(sent)
    if trace.isEnabledFor(logging.INFO):
        message_ids = [e.get("messageId") for e in events if isinstance(e, dict)]
        rids = sorted({r for r in request_ids if r} | ({current_request_id()} - {""}))
        trace.info(
            "%s: %d in, %d out", stage, received, sent,
            extra={"stage": stage, "received": received, "sent": sent,
                   "request_ids": rids[:TRACE_IDS], "message_ids": message_ids[:TRACE_IDS]},
        )  # fmt: skip


def delivery_observe(instance, counts: dict, latencies_ms=()) -> None:
    """Count a batch's delivery outcomes for `instance` and observe its delivered latencies."""
    function, name = instance_labels(instance)
    for outcome, value in counts.items():
        if value:
            DELIVERY_EVENTS.labels(function, name, outcome).inc(value)
    histogram = DELIVERY_LATENCY.labels(function, name)
    for value in latencies_ms:
        if value is not None:
            histogram.observe(value / 1000)


def instance_labels(instance) -> tuple[str, str]:
    """(function id, instance id) labels; past METRICS_MAX_INSTANCES per process, "other".

    Bounded label cardinality: a platform with thousands of instances would otherwise grow
    the scrape (and Prometheus' memory) without limit. The first instances a process sees
    keep their own series; the rest are folded together.
    """
    with _lock:
        labels = _labelled.get(instance.pk)
        if labels is None:
            if len(_labelled) >= settings.METRICS_MAX_INSTANCES:
                return OTHER, OTHER
            labels = (instance.function.public_id, instance.public_id)
            _labelled[instance.pk] = labels
        return labels


def sandbox_observe(kind: str, results) -> None:
    """Count sandbox results by kind and status, timeouts, memory limits and host restarts."""
    for result in results:
        error_type = (result.error or {}).get("type") if result.status != "success" else None
        SANDBOX_CALLS.labels(kind, "success" if error_type is None else "error").inc()
        if error_type == "Timeout":
            SANDBOX_TIMEOUTS.labels(kind).inc()
        elif error_type == "MemoryLimit":
            SANDBOX_MEMORY.labels(kind).inc()
    _host_restart_observe()


def _host_restart_observe() -> None:
    # The host is started lazily and replaced when it exits: a new pid in this process means
    # the previous host died (a crash, a watchdog kill, an out-of-memory abort).
    pid = sandbox().pid
    with _lock:
        previous, _host_pid[0] = _host_pid[0], pid or _host_pid[0]
    if previous is not None and pid is not None and pid != previous:
        HOST_RESTARTS.inc()


def deploy_observe(status: str) -> None:
    """Count one settled deployment by its final status."""
    DEPLOYS.labels(str(status)).inc()


# --- multiprocess files ----------------------------------------------------------------------


def multiprocess_dir() -> str:
    """This process's sample directory ('' when not in multiprocess mode)."""
    return settings.PROMETHEUS_MULTIPROC_DIR


def multiprocess_reset() -> None:
    """Empty this service's sample directory; called once by the parent process at start.

    Files of a previous run would otherwise be merged into this run's figures (and grow for
    ever). Only the process's own directory is emptied: each service has its own (web,
    worker), under the directory `/metrics` collects from.
    """
    directory = multiprocess_dir()
    if not directory:
        return
    os.makedirs(directory, exist_ok=True)
    for path in glob.glob(os.path.join(directory, "*.db")):
        os.remove(path)


def process_exited(pid: int) -> None:
    """Drop the live-gauge files of an exited worker process (its counters are kept)."""
    if multiprocess_dir():
        multiprocess.mark_process_dead(pid)


# Connected when RuntimeConfig.ready imports this module, which a worker does (Django's
# set-up) before it sends worker_init.
@signals.worker_init.connect
def _worker_started(**_kwargs) -> None:
    # The worker's parent process, before it forks its children: last run's samples go.
    multiprocess_reset()


@signals.worker_process_shutdown.connect
def _worker_process_exited(pid=None, **_kwargs) -> None:
    process_exited(pid or os.getpid())


class _MergedFiles:
    """A collector over every sample file below METRICS_COLLECT_DIR (all services' dirs)."""

    def __init__(self, root: str):
        self.root = root

    def collect(self):
        files = glob.glob(os.path.join(self.root, "**", "*.db"), recursive=True)
        return multiprocess.MultiProcessCollector.merge(files, accumulate=True)


class _BufferDepths:
    """Buffer depths read from Redis at scrape time (no process owns them)."""

    def collect(self):
        depth = GaugeMetricFamily("fp_buffer_depth", "Items waiting in pipeline buffers", labels=["stage"])
        inflight = GaugeMetricFamily(
            "fp_buffer_inflight", "Items taken by a flush task and not yet done", labels=["stage"]
        )
        if store.buffered():
            try:
                waiting, taken = store.buffer_depths()
            except Exception:  # noqa: BLE001 - a scrape must answer even when Redis does not
                waiting, taken = {}, {}
            for stage in PipelineStage:
                depth.add_metric([stage.value], waiting.get(stage, 0))
                inflight.add_metric([stage.value], taken.get(stage, 0))
        yield depth
        yield inflight


def registry() -> CollectorRegistry:
    """The registry one scrape exports: all processes' files, or this process's own metrics."""
    out = CollectorRegistry(auto_describe=False)
    root = settings.METRICS_COLLECT_DIR or multiprocess_dir()
    if root:
        out.register(_MergedFiles(root))
    else:
        for collector in list(REGISTRY._collector_to_names):  # this process's own metrics
            out.register(collector)
    out.register(_BufferDepths())
    return out


# --- the endpoint -----------------------------------------------------------------------------


def scrape_allowed(request) -> bool:
    """A bearer METRICS_TOKEN, or a client address inside METRICS_ALLOW_NETWORKS.

    The address is REMOTE_ADDR (the socket peer): a proxy in front must be allowed itself or
    pass the token, since a forwarded-for header is anyone's to write.
    """
    token = settings.METRICS_TOKEN
    sent = request.META.get("HTTP_AUTHORIZATION", "")
    if token and _same(sent, f"Bearer {token}"):
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    address = getattr(address, "ipv4_mapped", None) or address
    return any(address in network for network in _networks())


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _networks() -> list:
    out = []
    for item in settings.METRICS_ALLOW_NETWORKS:
        try:
            out.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            continue  # a malformed entry allows nothing (checked at start-up by the system check)
    return out


def metrics_view(request):
    """GET /metrics: Prometheus text format, for an allowed scraper; 403 for anyone else."""
    if not scrape_allowed(request):
        return HttpResponse("Forbidden\n", status=403, content_type="text/plain")
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)
