"""The instance page's Canary tab: start a canary, both versions' figures side by side, promote
and abort in one click, and a JSON feed the tab refreshes from (runtime/static/runtime/canary.js).

Starting, promoting and aborting ask the deploy question (permissions.can_deploy for the
instance): 404 outside the user's scope, 403 when refused. Reading the figures is reading the
instance.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_POST

from workspaces import permissions

from ..models import FunctionInstance
from . import selectors, services
from .choices import CanaryStatus

DURATIONS = [(900, "15 minutes"), (3600, "1 hour"), (4 * 3600, "4 hours"), (24 * 3600, "24 hours")]


def canary_urls(wrap) -> list:
    """The admin URLs of the tab, for FunctionInstanceAdmin.get_urls."""
    return [
        path("<int:object_id>/canary/", wrap(canary_feed), name="runtime_functioninstance_canary"),
        path(
            "<int:object_id>/canary/start/",
            wrap(canary_start_view),
            name="runtime_functioninstance_canary_start",
        ),
        path(
            "<int:object_id>/canary/promote/",
            wrap(canary_promote_view),
            name="runtime_functioninstance_canary_promote",
        ),
        path(
            "<int:object_id>/canary/abort/",
            wrap(canary_abort_view),
            name="runtime_functioninstance_canary_abort",
        ),
    ]


def instance_canary_context(request, instance: FunctionInstance) -> dict:
    """The tab's context: the current canary, who may act, the versions one may try."""
    panel = selectors.canary_panel(instance=instance)
    versions = instance.function.versions.exclude(pk=instance.deployed_version_id).order_by("-number")[:50]
    return {
        "fn_canary": panel,
        "fn_canary_active": bool(panel and panel["status"] == CanaryStatus.ACTIVE),
        "fn_canary_allowed": instance.function.resource_type == "DESTINATION",
        "fn_can_canary": permissions.can_deploy(request.user, instance.function, [instance]),
        "fn_canary_versions": list(versions),
        "fn_canary_durations": DURATIONS,
        "fn_canary_urls": {
            "start": reverse("admin:runtime_functioninstance_canary_start", args=[instance.pk]),
            "promote": reverse("admin:runtime_functioninstance_canary_promote", args=[instance.pk]),
            "abort": reverse("admin:runtime_functioninstance_canary_abort", args=[instance.pk]),
        },
        "fn_canary_config": {
            "feedUrl": reverse("admin:runtime_functioninstance_canary", args=[instance.pk]),
        },
    }


def _instance(request, object_id) -> FunctionInstance:
    instance = (
        permissions.instances_visible(request.user).filter(pk=object_id).select_related("function").first()
    )
    if instance is None:
        raise Http404("Not found.")
    return instance


def _deployable(request, object_id) -> FunctionInstance:
    instance = _instance(request, object_id)
    if not permissions.can_deploy(request.user, instance.function, [instance]):
        raise PermissionDenied
    return instance


def _back(instance) -> HttpResponseRedirect:
    return HttpResponseRedirect(
        reverse("admin:runtime_functioninstance_change", args=[instance.pk]) + "#canary"
    )


@require_GET
def canary_feed(request, object_id):
    """The tab's live figures as JSON (the same shape as the API's canary)."""
    instance = _instance(request, object_id)
    return JsonResponse({"canary": selectors.canary_panel(instance=instance)})


def _int_or_none(raw) -> int | None:
    try:
        return int(raw) if raw not in (None, "") else None
    except (TypeError, ValueError):
        return -1  # refused by the service's checks with a clear message


def canary_options(post) -> dict:
    """A canary's options from a form (the Save & Deploy dialog's canary-* fields)."""
    return {
        "percent": _int_or_none(post.get("canary-percent")),
        "duration_s": _int_or_none(post.get("canary-duration")),
        "max_events": _int_or_none(post.get("canary-events")),
    }


@require_POST
def canary_start_view(request, object_id):
    instance = _deployable(request, object_id)
    version = instance.function.versions.filter(pk=_int_or_none(request.POST.get("canary-version"))).first()
    try:
        if version is None:
            raise ValidationError({"versionId": "Choose the version to try."})
        services.canary_start(
            instance=instance, version=version, requested_by=request.user, **canary_options(request.POST)
        )
    except ValidationError as exc:
        messages.error(request, f"Canary not started: {'; '.join(exc.messages)}")
        return _back(instance)
    messages.success(
        request, f"Canary started: v{version.number} takes {request.POST.get('canary-percent')} % of events."
    )
    return _back(instance)


def _decide(request, object_id, decide, done: str):
    instance = _deployable(request, object_id)
    canary = selectors.canaries_of(instance=instance).filter(status=CanaryStatus.ACTIVE).first()
    try:
        if canary is None:
            raise ValidationError("This instance has no active canary.")
        decide(canary=canary, decided_by=request.user)
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
        return _back(instance)
    messages.success(request, done)
    return _back(instance)


@require_POST
def canary_promote_view(request, object_id):
    return _decide(request, object_id, services.canary_promote, "Canary promoted: deploying its version.")


@require_POST
def canary_abort_view(request, object_id):
    return _decide(
        request, object_id, services.canary_abort, "Canary aborted: every event runs the current version."
    )
