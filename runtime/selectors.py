"""Reads for the runtime: sections per area (deployment here; the pipeline appends its own)."""

from __future__ import annotations

from django.db.models import Count, F, Max, Q, Sum

from catalog.models import Function, FunctionVersion

from .models import DeliveryStat, Deployment, ErrorLog, FunctionInstance, IngestDrop, IngestDropCount
from .pipeline.records import COUNTERS, DELIVERY_LATENCY

# --- versions: what the instances run ---------------------------------------------------------

LATEST = "LATEST"
DEPLOYED = "DEPLOYED"


def function_versions(*, function: Function) -> list[FunctionVersion]:
    """Every version of `function`, newest first, each with `.labels` (LATEST and/or DEPLOYED).

    A version is DEPLOYED when any instance runs it; instances may run different versions.
    """
    deployed = deployed_version_ids(function=function)
    versions = list(function.versions.select_related("author", "restored_from").order_by("-number"))
    for version in versions:
        latest = [LATEST] if version.pk == function.latest_version_id else []
        version.labels = [*latest, DEPLOYED] if version.pk in deployed else latest
    return versions


def deployed_version_ids(*, function: Function) -> set[int]:
    """Primary keys of the versions some instance of `function` runs."""
    return set(
        FunctionInstance.objects.filter(function=function, deployed_version__isnull=False)
        .values_list("deployed_version_id", flat=True)
        .distinct()
    )


# --- deployment -------------------------------------------------------------------------------


def deployments_for_function(*, function: Function, version: FunctionVersion | None = None):
    """Deployment rows of `function`'s instances, newest first (optionally of one version)."""
    queryset = Deployment.objects.filter(instance__function=function).select_related(
        "instance", "version", "requested_by"
    )
    return queryset.filter(version=version) if version is not None else queryset


def deployment_status_by_instance(*, function: Function) -> list[dict]:
    """Per instance of `function`: the version it runs and its latest deployment's status.

    The shape the API returns: {instanceId, name, runningVersion, deployedAt, deployment}
    where deployment is {id, versionId, status, error, createdAt, finishedAt} or None.
    """
    instances = list(FunctionInstance.objects.filter(function=function).select_related("deployed_version"))
    latest = latest_deployments(function=function)
    return [_instance_status(instance, latest.get(instance.pk)) for instance in instances]


def latest_deployments(*, function: Function) -> dict[int, Deployment]:
    """The newest Deployment row of each instance of `function`, by instance primary key."""
    latest_ids = (
        Deployment.objects.filter(instance__function=function)
        .values("instance_id")
        .annotate(last=Max("pk"))
        .values_list("last", flat=True)
    )
    rows = Deployment.objects.filter(pk__in=list(latest_ids)).select_related("version")
    return {d.instance_id: d for d in rows}


def behind_latest() -> Q:
    """A filter for instances that do not run their function's LATEST version."""
    return ~Q(deployed_version=F("function__latest_version"))


def behind_latest_count() -> Count:
    """An annotation for functions: how many of their instances are behind LATEST."""
    return Count("instances", filter=~Q(instances__deployed_version=F("latest_version")), distinct=True)


def deploy_targets(*, function: Function) -> list[dict]:
    """The Save & Deploy dialog's rows: each instance of `function` with the version it runs,
    whether that is behind LATEST, the version it ran before, and its newest deployment."""
    instances = FunctionInstance.objects.filter(function=function).select_related(
        "deployed_version", "previous_version", "source"
    )
    latest = latest_deployments(function=function)
    return [
        {
            "instance": instance,
            "running": instance.deployed_version,
            "behind": instance.deployed_version_id != function.latest_version_id,
            "deployment": latest.get(instance.pk),
        }
        for instance in instances.order_by("name", "id")
    ]


def _instance_status(instance: FunctionInstance, deployment: Deployment | None) -> dict:
    running = instance.deployed_version
    return {
        "instanceId": instance.public_id,
        "name": instance.name,
        "runningVersion": running.public_id if running else None,
        "deployedAt": instance.deployed_at,
        "deployment": None if deployment is None else deployment_as_dict(deployment),
    }


def deployment_as_dict(deployment: Deployment) -> dict:
    """One Deployment row as plain data (for the API and the admin)."""
    return {
        "id": deployment.pk,
        "versionId": deployment.version.public_id,
        "status": deployment.status,
        "error": deployment.error,
        "createdAt": deployment.created_at,
        "finishedAt": deployment.finished_at,
    }


# --- pipeline: delivery figures and error logs -------------------------------------------------


def delivery_stats(*, instance: FunctionInstance, since=None):
    """The instance's per-bucket delivery counters (oldest first), optionally from `since`."""
    queryset = DeliveryStat.objects.filter(instance=instance).order_by("bucket")
    return queryset.filter(bucket__gte=since) if since is not None else queryset


def latency_percentile(histogram: dict, fraction: float) -> float | None:
    """The delivery-latency bucket bound (ms) under which `fraction` of the events fall."""
    return DELIVERY_LATENCY.percentile(histogram, fraction)


def delivery_summary(*, instance: FunctionInstance, since=None) -> dict:
    """Totals of delivered, retried, failed, filtered, unsupported, rejected and the p95 latency."""
    totals = dict.fromkeys(COUNTERS, 0)
    histogram: dict = {}
    for row in delivery_stats(instance=instance, since=since):
        for name in COUNTERS:
            totals[name] += getattr(row, name)
        for bound, count in row.latency.items():
            histogram[bound] = histogram.get(bound, 0) + count
    return {**totals, "p95_ms": latency_percentile(histogram, 0.95)}


def delivery_series(*, instance: FunctionInstance, since=None) -> list[dict]:
    """One point per bucket for the Event Delivery chart: counters and that bucket's p95."""
    return [
        {
            "bucket": row.bucket,
            **{n: getattr(row, n) for n in COUNTERS},
            "p95_ms": latency_percentile(row.latency, 0.95),
        }
        for row in delivery_stats(instance=instance, since=since)
    ]


def error_logs_for(*, instance: FunctionInstance):
    """The instance's kept error log entries, newest first."""
    return ErrorLog.objects.filter(instance=instance).order_by("-created_at", "-id")


# --- pipeline: messages dropped at ingest (partial accept) -------------------------------------


def source_drops_recent(*, source):
    """The source's kept dropped messages (code, reason, message), newest first.

    For the source page, the API and the editor's source debugger.
    """
    return IngestDrop.objects.filter(source=source).order_by("-created_at", "-id")


def source_drop_counts(*, source, since=None) -> dict[str, int]:
    """How many messages the source dropped at ingest, per code (all kept buckets, or since)."""
    queryset = IngestDropCount.objects.filter(source=source)
    if since is not None:
        queryset = queryset.filter(bucket__gte=since)
    rows = queryset.values("code").annotate(n=Sum("count")).order_by("code")
    return {row["code"]: row["n"] for row in rows}
