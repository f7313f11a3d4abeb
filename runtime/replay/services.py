"""Writes of dry-run replays: ask for one (a row and a task after commit), carry it out.

No permission checks here (the API and the admin ask `permissions.can_deploy` for the
function's instances: a replay runs code with their settings, secrets included).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from catalog.choices import SANDBOX_KIND
from catalog.models import Function, FunctionVersion
from functions_platform.celery import app as celery_app
from workspaces.choices import AuditAction
from workspaces.services import audit_record

from ..models import FunctionInstance
from . import compare, runner, traffic
from .choices import ReplayStatus, ReplayVerdict
from .models import ReplayRun

log = logging.getLogger(__name__)

CHUNK = 50
MAX_RULES = 20
MAX_RULE_BODY = 64 * 1024


def replay_instances(*, function: Function, instance_ids=None) -> list[FunctionInstance]:
    """The deployed instances a replay compares with: all of the function's, or the listed ones."""
    queryset = FunctionInstance.objects.filter(function=function, deployed_version__isnull=False)
    queryset = queryset.select_related("function", "source", "deployed_version").order_by("id")
    if not instance_ids:
        return list(queryset[: settings.REPLAY_MAX_INSTANCES])
    wanted = [str(i) for i in instance_ids]
    found = list(queryset.filter(public_id__in=wanted))
    missing = sorted(set(wanted) - {i.public_id for i in found})
    if missing:
        raise ValidationError(
            {"instanceIds": f"Not deployed instances of this function: {', '.join(missing)}."}
        )
    return found[: settings.REPLAY_MAX_INSTANCES]


def answers_clean(raw) -> list[dict]:
    """Scripted responses: [{urlPattern, status, headers, body}], checked; a clear error otherwise."""
    if raw in (None, ""):
        return []
    if not isinstance(raw, list) or len(raw) > MAX_RULES:
        raise ValidationError({"answers": f"A list of at most {MAX_RULES} rules."})
    return [_rule(index, rule) for index, rule in enumerate(raw)]


def _rule(index: int, rule) -> dict:
    where = f"answers[{index}]"
    if not isinstance(rule, dict) or not isinstance(rule.get("urlPattern"), str) or not rule["urlPattern"]:
        raise ValidationError({where: "Each rule needs a urlPattern (a URL, `*` for any characters)."})
    status = rule.get("status", 200)
    if not isinstance(status, int) or isinstance(status, bool) or not 200 <= status <= 599:
        raise ValidationError({where: "status must be an integer from 200 to 599."})
    body = rule.get("body", "{}")
    body = body if isinstance(body, str) else json.dumps(body)
    headers = rule.get("headers") or {"content-type": "application/json"}
    if not isinstance(headers, dict) or len(body) > MAX_RULE_BODY or len(rule["urlPattern"]) > 2000:
        raise ValidationError({where: "headers must be an object; body at most 64 KiB."})
    return {
        "pattern": rule["urlPattern"],
        "status": status,
        "headers": {str(k): str(v) for k, v in headers.items()},
        "body": body,
    }


@transaction.atomic
def replay_request(
    *,
    function: Function,
    requested_by,
    code: str | None = None,
    version: FunctionVersion | None = None,
    limit: int = 100,
    instances: list[FunctionInstance] | None = None,
    answers=None,
) -> ReplayRun:
    """Ask for a dry-run replay of the last `limit` (≤ REPLAY_MAX_EVENTS) events: one row, one
    task after commit. The draft is `code` (unsaved) or `version`; default the LATEST version."""
    if not 1 <= int(limit) <= settings.REPLAY_MAX_EVENTS:
        raise ValidationError({"count": f"From 1 to {settings.REPLAY_MAX_EVENTS} events."})
    if version is not None and version.function_id != function.pk:
        raise ValidationError({"versionId": "That version belongs to another function."})
    draft = code if code is not None else (version or function.latest_version).code
    instances = instances if instances is not None else replay_instances(function=function)
    if not instances:
        raise ValidationError({"instanceIds": "The function has no deployed instance to compare with."})
    run = ReplayRun(
        function=function,
        draft_code=draft,
        draft_version=version,
        limit=int(limit),
        instance_ids=[i.public_id for i in instances],
        answers=answers_clean(answers),
        requested_by=requested_by if getattr(requested_by, "pk", None) else None,
    )
    run.full_clean()
    run.save()
    replayed = None if code is not None else (version or function.latest_version)
    _audit_request(run, requested_by, instances, replayed)
    transaction.on_commit(lambda: _publish(run.pk))
    return run


def _audit_request(run: ReplayRun, requested_by, instances, version) -> None:
    # A replay runs code with the instances' settings, secrets included: who did it is kept.
    draft = version.public_id if version is not None else None
    audit_record(
        workspace=run.function.workspace,
        actor=requested_by,
        action=AuditAction.REPLAYED,
        obj=run.function,
        version_id=draft or "",
        data={
            "replay": run.public_id,
            "count": run.limit,
            "draft": "version" if draft else "code",
            "codeSha256": hashlib.sha256(run.draft_code.encode()).hexdigest(),
            "instances": [i.public_id for i in instances],
            "answers": len(run.answers),
        },
    )


def _publish(run_id: int) -> None:
    # By its registered name: the task module calls this one.
    celery_app.tasks["runtime.replay_run"].delay(run_id)


def replay_execute(*, run_id: int) -> ReplayRun | None:
    """Carry out a replay: both sides per chunk, progress saved as it goes; None if taken."""
    claimed = ReplayRun.objects.filter(pk=run_id, status=ReplayStatus.PENDING).update(
        status=ReplayStatus.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return None
    run = ReplayRun.objects.select_related("function").get(pk=run_id)
    try:
        _execute(run)
    except Exception as exc:  # the row must not stay RUNNING; the cause is logged and shown
        log.exception("replay %s failed", run.public_id)
        ReplayRun.objects.filter(pk=run_id).update(
            status=ReplayStatus.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )
    return ReplayRun.objects.get(pk=run_id)


def _execute(run: ReplayRun) -> None:
    instances = replay_instances(function=run.function, instance_ids=run.instance_ids)
    plan = _plan(instances, run.limit)
    ReplayRun.objects.filter(pk=run.pk).update(total=sum(len(items) for _, items in plan))
    deadline = time.monotonic() + settings.REPLAY_TIME_BUDGET_S
    results: list[dict] = []
    for instance, items in plan:
        for start in range(0, len(items), CHUNK):
            chunk = items[start : start + CHUNK]
            if time.monotonic() > deadline:
                results += [_skipped(instance, payload) for payload in chunk]
                continue
            results += _chunk_compare(run, instance, chunk)
            ReplayRun.objects.filter(pk=run.pk).update(done=len(results))
    summary = {verdict: 0 for verdict in ReplayVerdict.values}
    for entry in results:
        summary[entry["verdict"]] += 1
    ReplayRun.objects.filter(pk=run.pk).update(
        status=ReplayStatus.DONE,
        done=len(results),
        results=results,
        summary={**summary, "text": compare.summary_text(summary)},
        finished_at=timezone.now(),
    )


def _plan(instances, limit: int) -> list[tuple]:
    # At most `limit` events in all, taken from the instances in order.
    plan, left = [], limit
    for instance in instances:
        items = traffic.recent_traffic(instance=instance, limit=left)
        if items:
            plan.append((instance, items))
            left -= len(items)
    return plan


def _chunk_compare(run: ReplayRun, instance: FunctionInstance, chunk: list) -> list[dict]:
    kind = SANDBOX_KIND[run.function.resource_type]
    values = instance.all_settings()
    secrets = list(instance.secret_values().values())
    common = {
        "kind": kind,
        "payloads": chunk,
        "settings": values,
        "timeout_ms": run.function.timeout_ms,
        "answers": runner.answer_rules(run.answers),
    }
    key = f"replay:{run.public_id}:{{}}:{instance.public_id}"
    drafts = runner.run_chunk(code=run.draft_code, key=key.format("draft"), **common)
    bases = runner.run_chunk(code=instance.deployed_version.code, key=key.format("base"), **common)
    out = []
    for payload, base_result, draft_result in zip(chunk, bases, drafts, strict=True):
        base = compare.side_of(kind, base_result, secrets)
        draft = compare.side_of(kind, draft_result, secrets)
        out.append(
            {**_label(instance, payload), **compare.compare(base, draft), "deployed": base, "draft": draft}
        )
    return out


def _label(instance, payload) -> dict:
    event = payload if isinstance(payload, dict) else {}
    return {
        "instanceId": instance.public_id,
        "deployedVersion": instance.deployed_version.number,
        "messageId": event.get("messageId"),
        "type": event.get("type") or event.get("method"),
        "name": event.get("event") or event.get("name") or "",
    }


def _skipped(instance, payload) -> dict:
    return {**_label(instance, payload), "verdict": ReplayVerdict.SKIPPED, "differs": [], "diffs": {}}
