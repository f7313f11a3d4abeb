"""Reads of dry-run replays: one replay as the API and the editor show it."""

from __future__ import annotations

from .choices import ReplayVerdict
from .models import ReplayRun


def replays_of(*, function):
    """The function's replays, newest first."""
    return ReplayRun.objects.filter(function=function).select_related("draft_version", "requested_by")


def replay_out(run: ReplayRun, *, results: str = "all") -> dict:
    """The replay: status, progress, summary and (`results`: all | different | none) per event."""
    rows = run.results or []
    if results == "different":
        rows = [r for r in rows if r["verdict"] not in (ReplayVerdict.IDENTICAL, ReplayVerdict.SKIPPED)]
    elif results == "none":
        rows = []
    return {
        "id": run.public_id,
        "status": run.status,
        "count": run.limit,
        "total": run.total,
        "done": run.done,
        "draftVersionId": run.draft_version.public_id if run.draft_version_id else None,
        "instanceIds": run.instance_ids,
        "summary": run.summary or None,
        "error": run.error,
        "createdAt": run.created_at,
        "finishedAt": run.finished_at,
        "results": rows,
    }
