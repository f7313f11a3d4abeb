from django.conf import settings as django_settings
from django.db import models

from catalog.models import Function, FunctionVersion
from workspaces import ids

from .choices import ReplayStatus


class ReplayRun(models.Model):
    """A dry-run replay: recent events of a function's instances through a draft and the
    version each instance runs, nothing leaving the platform.

    `draft_code` is what was replayed (the editor's unsaved code, or `draft_version`'s);
    `answers` the scripted fetch responses; `results` one entry per event with both sides
    (secrets masked) and what differs; `summary` the counts per verdict. `done`/`total` is the
    live progress the editor polls.
    """

    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="replays")
    public_id = models.CharField(max_length=32, unique=True, default=ids.hex24, editable=False)
    draft_code = models.TextField()
    draft_version = models.ForeignKey(
        FunctionVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    limit = models.PositiveIntegerField()
    instance_ids = models.JSONField(default=list, blank=True)
    answers = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=8, choices=ReplayStatus.choices, default=ReplayStatus.PENDING)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    summary = models.JSONField(default=dict, blank=True)
    results = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Replay {self.public_id} of {self.function} ({self.status})"
