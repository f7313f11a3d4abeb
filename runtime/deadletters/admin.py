"""Admin: the Dead letters list (filters, the event and error of each) and bulk replays.

"Replay through the current version" is an action on the list: on selected rows, or on every
row the filters match (the admin's "select all"). One replay is requested per instance, for
those the user may deploy to; its progress shows in the Dead-letter replays list.
"""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.html import format_html

from workspaces import permissions
from workspaces.admin_mixins import ScopedAdmin

from ..models import DeadLetter, DeadLetterReplay
from . import services


class VersionFilter(admin.SimpleListFilter):
    """The function versions that failed, among the dead letters this user may see."""

    title = "version that failed"
    parameter_name = "version"

    def lookups(self, request, model_admin):
        rows = (
            model_admin.get_queryset(request)
            .exclude(version=None)
            .values_list("version_id", "version__number", "version__function__display_name")
            .distinct()
            .order_by("version__function__display_name", "-version__number")[:100]
        )
        return [(pk, f"{name} v{number}") for pk, number, name in rows]

    def queryset(self, request, queryset):
        return queryset.filter(version_id=self.value()) if self.value() else queryset


@admin.register(DeadLetter)
class DeadLetterAdmin(ScopedAdmin):
    list_display = ["created_at", "instance", "message_id", "category", "error_type", "attempts", "version"]
    list_filter = [("created_at", admin.DateFieldListFilter), "category", VersionFilter, "stage"]
    search_fields = ["message_id", "error_message"]
    readonly_fields = [
        "created_at", "instance", "stage", "message_id", "category", "error_type", "error_message",
        "attempts", "version", "event_display",
    ]  # fmt: skip
    fields = readonly_fields
    actions = ["replay"]

    def visible(self, request):
        return DeadLetter.objects.filter(
            instance__in=permissions.instances_visible(request.user)
        ).select_related("instance", "version", "version__function")

    def lookup_allowed(self, lookup, value, request=None):
        # The instance page links here filtered to the instance (over the visible rows only).
        return lookup == "instance__id__exact" or super().lookup_allowed(lookup, value, request)

    def can_change(self, request, obj):
        return False

    def has_add_permission(self, request):
        return False

    @admin.display(description="Event")
    def event_display(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.event, indent=2, sort_keys=True))

    @admin.action(description="Replay through the current version")
    def replay(self, request, queryset):
        ids_by_instance: dict = {}
        for pk, instance_id in queryset.values_list("pk", "instance_id"):
            ids_by_instance.setdefault(instance_id, []).append(pk)
        instances = {
            i.pk: i for i in permissions.instances_visible(request.user).filter(pk__in=ids_by_instance)
        }
        for instance_id, ids in ids_by_instance.items():
            self._replay_one(request, instances[instance_id], ids)

    def _replay_one(self, request, instance, ids: list[int]) -> None:
        if not permissions.can_replay_dead_letters(request.user, instance):
            self.message_user(
                request, f"{instance}: replaying needs Functions Admin and Source Admin.", messages.ERROR
            )
            return
        try:
            replay = services.dead_letters_replay_request(
                instance=instance, requested_by=request.user, filters={}, ids=ids
            )
        except ValidationError as e:
            self.message_user(request, f"{instance}: {' '.join(e.messages)}", messages.ERROR)
            return
        replay.refresh_from_db()
        self.message_user(
            request,
            f"{instance}: replaying {replay.total} dead letters ({replay.get_status_display().lower()}: "
            f"{replay.delivered} delivered, {replay.failed} failed, {replay.retrying} retrying).",
            messages.SUCCESS,
        )


@admin.register(DeadLetterReplay)
class DeadLetterReplayAdmin(ScopedAdmin):
    list_display = [
        "created_at",
        "instance",
        "status",
        "progress",
        "delivered",
        "failed",
        "retrying",
        "requested_by",
    ]
    list_filter = ["status"]
    readonly_fields = [
        "created_at", "instance", "status", "progress", "delivered", "failed", "retrying", "filtered",
        "filters", "version", "requested_by", "error", "started_at", "finished_at",
    ]  # fmt: skip
    fields = readonly_fields

    def visible(self, request):
        return DeadLetterReplay.objects.filter(
            instance__in=permissions.instances_visible(request.user)
        ).select_related("instance", "requested_by", "version")

    def can_change(self, request, obj):
        return False

    def has_add_permission(self, request):
        return False

    @admin.display(description="Progress")
    def progress(self, obj):
        return f"{obj.processed} / {obj.total}"
