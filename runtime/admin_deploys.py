"""Instance pages and lists, deploy context: what an instance runs, whether it is behind LATEST,
its deploys, and rolling it back to its previous version (a page button and a list action).

Rolling back asks the deploy question (permissions.can_rollback: Functions Admin on the function
and Source Admin on the instance's source): 404 outside the user's scope, 403 when refused.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from workspaces import permissions

from .models import FunctionInstance
from .selectors import behind_latest
from .services import instance_rollback

DEPLOYS_SHOWN = 20


class BehindLatestFilter(admin.SimpleListFilter):
    """Instances that run an older version than their function's LATEST."""

    title = "version"
    parameter_name = "behind"

    def lookups(self, request, model_admin):
        return [("yes", "Behind latest"), ("no", "On latest")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(behind_latest())
        if self.value() == "no":
            return queryset.exclude(behind_latest())
        return queryset


def running_version_label(instance: FunctionInstance):
    """ "v3 (id)" with a "behind latest (v5)" badge when the function has a newer LATEST."""
    version = instance.deployed_version
    if version is None:
        return "-"
    latest = instance.function.latest_version
    if latest is None or latest.pk == version.pk:
        return format_html(
            'v{} ({}) <span class="fn-badge fn-badge-current">latest</span>',
            version.number,
            version.public_id,
        )
    return format_html(
        'v{} ({}) <span class="fn-badge fn-badge-behind" title="LATEST is v{}">behind latest (v{})</span>',
        version.number,
        version.public_id,
        latest.number,
        latest.number,
    )


def instance_deploys_context(request, instance: FunctionInstance) -> dict:
    """The instance page's Deploys tab: its last deployments and the roll back button."""
    deploys = list(
        instance.deployments.select_related("version", "requested_by").order_by("-created_at", "-id")[
            :DEPLOYS_SHOWN
        ]
    )
    return {
        "fn_running_label": running_version_label(instance),
        "fn_deploys": deploys,
        "fn_previous_version": instance.previous_version,
        "fn_can_rollback": instance.previous_version_id is not None
        and permissions.can_rollback(request.user, instance),
        "fn_rollback_url": reverse("admin:runtime_functioninstance_rollback", args=[instance.pk]),
        "fn_deploys_config": {
            "deploymentsUrl": reverse("admin:catalog_function_deployments", args=[instance.function_id]),
            "instance": instance.public_id,
            "pending": any(d.status in ("PENDING", "RUNNING") for d in deploys),
        },
    }


def _rollback(request, instance) -> None:
    try:
        deployment = instance_rollback(instance=instance, requested_by=request.user)
    except ValidationError as exc:
        messages.error(request, f"{instance}: {'; '.join(exc.messages)}")
        return
    messages.success(request, f"{instance}: rolling back to v{deployment.version.number}.")


@require_POST
def rollback_view(request, object_id):
    """Roll one instance back to the version it ran before (the instance page's button)."""
    instance = permissions.instances_visible(request.user).filter(pk=object_id).first()
    if instance is None:
        raise Http404("Not found.")
    if not permissions.can_rollback(request.user, instance):
        raise PermissionDenied
    _rollback(request, instance)
    return HttpResponseRedirect(
        reverse("admin:runtime_functioninstance_change", args=[instance.pk]) + "#deploys"
    )


@admin.action(description="Roll back selected instances to their previous version")
def rollback_selected(modeladmin, request, queryset):
    """The list action: every selected instance must be one the user may roll back."""
    instances = list(queryset.select_related("function__workspace", "source"))
    if not all(permissions.can_rollback(request.user, i) for i in instances):
        raise PermissionDenied
    for instance in instances:
        _rollback(request, instance)
