"""The editor's Replay panel: start a dry-run replay of the editor's code and follow it.

Both views answer JSON for runtime/static/runtime/replay.js. A replay runs code with the
instances' settings, so it asks the deploy question (permissions.can_deploy for the function's
deployed instances): 404 when the function is out of scope, 403 when refused.
"""

from __future__ import annotations

import json

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, JsonResponse
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_POST

from workspaces import permissions

from . import selectors, services

MAX_BODY = 600 * 1024


def replay_urls(wrap) -> list:
    """The panel's admin URLs, for FunctionInstanceAdmin.get_urls (the editor is catalog's page)."""
    return [
        path(
            "replay/function/<int:function_id>/start/",
            wrap(replay_start_view),
            name="runtime_functioninstance_replay_start",
        ),
        path(
            "replay/function/<int:function_id>/",
            wrap(replay_status_view),
            name="runtime_functioninstance_replay",
        ),
    ]


def replay_panel_config(request, function) -> dict | None:
    """The editor's Replay panel config, for those who may replay the function (else None)."""
    if not permissions.can_deploy(request.user, function, services.replay_instances(function=function)):
        return None
    return {
        "startUrl": reverse("admin:runtime_functioninstance_replay_start", args=[function.pk]),
        "statusUrl": reverse("admin:runtime_functioninstance_replay", args=[function.pk]),
    }


def _function(request, function_id):
    function = permissions.functions_visible(request.user).filter(pk=function_id).first()
    if function is None:
        raise Http404("Not found.")
    if not permissions.can_deploy(request.user, function, services.replay_instances(function=function)):
        raise PermissionDenied
    return function


def _refused(exc: ValidationError) -> JsonResponse:
    return JsonResponse(
        {"errors": exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}}, status=400
    )


@require_POST
def replay_start_view(request, function_id):
    """Start a replay of the posted code ({code, count, answers}) against the deployed instances."""
    function = _function(request, function_id)
    if len(request.body) > MAX_BODY:
        return JsonResponse({"errors": {"code": ["The request is too large."]}}, status=413)
    try:
        data = json.loads(request.body or b"{}")
        if not isinstance(data, dict):
            raise ValueError
        run = services.replay_request(
            function=function,
            requested_by=request.user,
            code=data["code"] if isinstance(data.get("code"), str) else None,
            limit=int(data.get("count") or 100),
            answers=data.get("answers"),
        )
    except (ValueError, TypeError):
        return JsonResponse({"errors": {"": ["Send a JSON object: {code, count, answers}."]}}, status=400)
    except ValidationError as exc:
        return _refused(exc)
    run.refresh_from_db()
    return JsonResponse({"replay": selectors.replay_out(run, results="none")})


@require_GET
def replay_status_view(request, function_id):
    """A replay of the function (?replay=<id>, else the newest) with its per-event results."""
    function = _function(request, function_id)
    runs = selectors.replays_of(function=function)
    wanted = request.GET.get("replay")
    run = runs.filter(public_id=wanted).first() if wanted else runs.first()
    if run is None:
        return JsonResponse({"replay": None})
    results = "all" if request.GET.get("results") != "none" else "none"
    return JsonResponse({"replay": selectors.replay_out(run, results=results)})
