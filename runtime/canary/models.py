from django.conf import settings as django_settings
from django.db import models
from django.db.models import Q

from catalog.models import FunctionVersion

from .choices import CanaryArm, CanaryKind, CanaryStatus


class Canary(models.Model):
    """A version tried on part of an instance's events while the rest run the current one.

    `kind=WATCH` is the watch after a plain deploy: the new version runs every event and the
    old one's figures are those of the hour before the switch (`baseline`). At most one ACTIVE
    row per instance. The decision (promoted, aborted, rolled back, ended) and the figures it
    was made on are kept on the row; each decision is also in the audit trail.
    """

    instance = models.ForeignKey(
        "runtime.FunctionInstance", on_delete=models.CASCADE, related_name="canaries"
    )
    kind = models.CharField(max_length=8, choices=CanaryKind.choices, default=CanaryKind.CANARY)
    version = models.ForeignKey(FunctionVersion, on_delete=models.CASCADE, related_name="+")
    base_version = models.ForeignKey(FunctionVersion, on_delete=models.CASCADE, related_name="+")
    percent = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=12, choices=CanaryStatus.choices, default=CanaryStatus.ACTIVE)
    ends_at = models.DateTimeField(null=True, blank=True)
    max_events = models.PositiveIntegerField(null=True, blank=True)
    # Rollback rule: error rate over `min_events` above the old one's by `error_points` AND
    # `error_ratio` times, or p95 latency `latency_ratio` times the old one's.
    min_events = models.PositiveIntegerField(default=50)
    error_points = models.FloatField(default=5.0)
    error_ratio = models.FloatField(default=2.0)
    latency_ratio = models.FloatField(default=3.0)
    baseline = models.JSONField(null=True, blank=True)
    figures = models.JSONField(null=True, blank=True)
    reason = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["instance"], condition=Q(status="ACTIVE"), name="runtime_canary_one_active"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of v{self.version.number} on {self.instance} ({self.status})"


class CanaryArmStat(models.Model):
    """One arm's figures in a canary: events run, errors, and a function-latency histogram."""

    canary = models.ForeignKey(Canary, on_delete=models.CASCADE, related_name="arms")
    arm = models.CharField(max_length=4, choices=CanaryArm.choices)
    events = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    latency = models.JSONField(default=dict, blank=True)
    last_errors = models.JSONField(default=list, blank=True)  # the newest few, for the panel

    class Meta:
        ordering = ["canary", "arm"]
        constraints = [models.UniqueConstraint(fields=["canary", "arm"], name="runtime_canaryarm_unique")]

    def __str__(self) -> str:
        return f"{self.canary_id}/{self.arm}: {self.errors}/{self.events}"
