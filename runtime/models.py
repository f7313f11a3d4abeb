import json

from django.conf import settings as django_settings
from django.db import models
from encrypted_model_fields.fields import EncryptedTextField

from catalog.choices import ResourceType
from catalog.models import Function, FunctionVersion
from catalog.validation import MASK
from workspaces import ids
from workspaces.choices import SourceKind
from workspaces.models import Source

from .choices import DeploymentStatus, ErrorCategory, InspectedSender, PipelineStage, ReplayStatus


class FunctionInstanceQuerySet(models.QuerySet):
    def running(self):
        """Instances that run events: enabled, with a deployed version."""
        return self.filter(enabled=True, deployed_version__isnull=False)

    def running_sources(self):
        """Running source function instances whose (webhook) Source is enabled: what a webhook
        POST reaches."""
        return self.running().filter(
            function__resource_type=ResourceType.SOURCE,
            source__kind=SourceKind.FUNCTION,
            source__enabled=True,
        )


class FunctionInstance(models.Model):
    """A configured, deployed use of a function.

    A source function's instance owns its Source (the webhook); a destination or source-insert
    instance is connected to a Source; a destination-insert instance also sits in front of one
    destination instance. Non-sensitive setting values live in `settings`, sensitive ones only
    in `encrypted_settings` (a JSON object, Fernet-encrypted at rest). An instance keeps running
    `deployed_version` until it is deployed again; `previous_version` is the one it ran before.
    """

    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="instances")
    public_id = models.CharField(max_length=32, unique=True, default=ids.hex24, editable=False)
    name = models.CharField(max_length=200)
    enabled = models.BooleanField(default=True)
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="instances")
    destination = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="insert_instances",
        help_text="For destination insert functions: the destination instance it runs before.",
    )
    deployed_version = models.ForeignKey(
        FunctionVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    deployed_at = models.DateTimeField(null=True, blank=True)
    # The version it ran before the last switch to another version: what "roll back" deploys.
    previous_version = models.ForeignKey(
        FunctionVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    settings = models.JSONField(default=dict, blank=True)
    encrypted_settings = EncryptedTextField(default="{}", blank=True)
    created_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = FunctionInstanceQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def workspace(self):
        return self.function.workspace

    def secret_values(self) -> dict:
        return json.loads(self.encrypted_settings or "{}")

    def masked_secrets(self) -> dict:
        """The sensitive setting names, each with the mask instead of its value (for display)."""
        return dict.fromkeys(self.secret_values(), MASK)

    def all_settings(self) -> dict:
        """Every setting value in clear, for the sandbox call only."""
        return {**self.settings, **self.secret_values()}


class Deployment(models.Model):
    """One instance's switch to a version, requested by a Save & Deploy (one row per instance)."""

    instance = models.ForeignKey(FunctionInstance, on_delete=models.CASCADE, related_name="deployments")
    version = models.ForeignKey(FunctionVersion, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(
        max_length=12, choices=DeploymentStatus.choices, default=DeploymentStatus.PENDING
    )
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["instance", "status"], name="runtime_deploy_inst_status")]

    def __str__(self) -> str:
        return f"{self.instance} → v{self.version.number} ({self.status})"


class ErrorLog(models.Model):
    """A failed invocation kept for the Errors tab (the last 100 per instance, 30 days)."""

    instance = models.ForeignKey(FunctionInstance, on_delete=models.CASCADE, related_name="error_logs")
    category = models.CharField(max_length=32, choices=ErrorCategory.choices)
    error_type = models.CharField(max_length=100, blank=True)
    message = models.TextField(blank=True)
    stack = models.TextField(blank=True)
    input = models.JSONField(default=dict, blank=True)
    logs = models.JSONField(default=list, blank=True)
    requests = models.JSONField(default=list, blank=True)
    attempts = models.PositiveIntegerField(default=1)
    version = models.ForeignKey(
        FunctionVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.instance}: {self.error_type} {self.message[:60]}"


class DeliveryStat(models.Model):
    """Per-instance delivery counters for one time bucket, plus a latency histogram for p95.

    One row per (instance, bucket start); the pipeline adds to it after every batch, so the
    Event Delivery chart reads a handful of rows rather than scanning events. `latency` maps a
    histogram upper bound in ms (as a string, "inf" for the last) to an event count; latency is
    measured from the event's receipt at ingest to its delivery.
    """

    instance = models.ForeignKey(FunctionInstance, on_delete=models.CASCADE, related_name="delivery_stats")
    bucket = models.DateTimeField()
    delivered = models.PositiveIntegerField(default=0)
    retried = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    filtered = models.PositiveIntegerField(default=0)
    unsupported = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    latency = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-bucket"]
        constraints = [
            models.UniqueConstraint(fields=["instance", "bucket"], name="runtime_deliverystat_unique")
        ]

    def __str__(self) -> str:
        return f"{self.instance} @ {self.bucket:%Y-%m-%d %H:%M}"


class DeliveredMessage(models.Model):
    """A messageId delivered to a destination instance (duplicate suppression, embedded mode).

    With Redis configured the pipeline keeps these as expiring Redis keys instead; rows older
    than the dedupe window are removed by the periodic cleanup task.
    """

    instance = models.ForeignKey(FunctionInstance, on_delete=models.CASCADE, related_name="+")
    message_id = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["instance", "message_id"], name="runtime_delivered_unique")
        ]

    def __str__(self) -> str:
        return self.message_id


class DeadLetter(models.Model):
    """An accepted item the pipeline gave up on, kept whole so it can be replayed.

    Written by `runtime.pipeline.dead_letters.dead_letter_create` when an event's delivery
    fails for good (a final error, or its retries spent) and when an in-flight list outlived
    `PIPELINE_INFLIGHT_MAX_ATTEMPTS` recoveries. `stage` says what `event` is: a destination
    event (`dst`, the default), a Tracking API message awaiting routing (`route`) or a webhook
    request for a source function (`src`, the queued request item). `event` is stored without
    its `writeKey`; the source's key is added back on replay. `version` is the deployed version
    that failed (null when unknown). Kept: the newest PIPELINE_DEAD_LETTER_KEEP per instance,
    at most PIPELINE_DEAD_LETTER_DAYS old (pruned by the hourly cleanup task).
    """

    instance = models.ForeignKey(FunctionInstance, on_delete=models.CASCADE, related_name="dead_letters")
    stage = models.CharField(max_length=8, choices=PipelineStage.choices, default=PipelineStage.DESTINATION)
    message_id = models.CharField(max_length=100, blank=True)
    event = models.JSONField()
    category = models.CharField(max_length=32, choices=ErrorCategory.choices)
    error_type = models.CharField(max_length=100, blank=True)
    error_message = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=1)
    version = models.ForeignKey(
        FunctionVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["instance", "-created_at"], name="runtime_deadletter_inst_time"),
            models.Index(fields=["created_at"], name="runtime_deadletter_time"),
        ]

    def __str__(self) -> str:
        return f"{self.instance}: {self.message_id or self.stage} ({self.error_type})"


class PendingRetry(models.Model):
    """A batch waiting for its retry, kept where a Redis or worker restart cannot drop it.

    Written when a stage schedules a retry in buffered mode (`runtime.pipeline.retries`); a
    countdown task carrying only the row's id wakes it, and the sweep republishes rows whose
    task message was lost. The task that runs a row claims it (`claimed_by`, until
    `claimed_until`) and deletes it when done. `key` is the stage's key: a source function
    instance (`src`), a source (`route`) or a destination instance (`dst`).
    """

    stage = models.CharField(max_length=8, choices=PipelineStage.choices)
    key = models.BigIntegerField()
    items = models.JSONField()
    attempt = models.PositiveIntegerField(default=1)
    first_at = models.FloatField(null=True, blank=True)
    due_at = models.DateTimeField()
    published_at = models.DateTimeField()
    claimed_by = models.CharField(max_length=64, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    failures = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [models.Index(fields=["due_at"], name="runtime_retry_due")]

    def __str__(self) -> str:
        return f"{self.stage}:{self.key} attempt {self.attempt} at {self.due_at:%H:%M:%S}"


class DeadLetterReplay(models.Model):
    """A bulk replay of an instance's dead letters through the version it runs now.

    The dead letters to replay are fixed when it is requested (`dead_letter_ids`, the rows the
    filters matched then; `filters` records those filters for display). A Celery task runs them
    in batches; `processed` counts the ids done, so a redelivered task resumes where it
    stopped, and the outcome counters add up per batch. Dead letters of a batch leave the list
    once replayed: delivered ones for good, ones that fail again come back as new dead letters
    (with the new error and version), retried ones are back in the pipeline's retry schedule.
    """

    instance = models.ForeignKey(
        FunctionInstance, on_delete=models.CASCADE, related_name="dead_letter_replays"
    )
    status = models.CharField(max_length=12, choices=ReplayStatus.choices, default=ReplayStatus.PENDING)
    filters = models.JSONField(default=dict, blank=True)
    dead_letter_ids = models.JSONField(default=list, blank=True)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    delivered = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    retrying = models.PositiveIntegerField(default=0)
    filtered = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    version = models.ForeignKey(
        FunctionVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Renewed after every batch: a task finding a RUNNING replay with a recent heartbeat of
    # another task (`runner`, a Celery task id) leaves it to that task.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    runner = models.CharField(max_length=64, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Replay of {self.total} dead letters of {self.instance} ({self.status})"


class IngestDrop(models.Model):
    """A Tracking API message dropped on its own at ingest (Segment's partial accept).

    A batch with invalid messages is answered 200 and its valid messages are queued; each
    invalid one is kept here with Segment's code and the reason, the newest
    PIPELINE_DROPS_KEEP per source (the write key removed, an oversize message summarised).
    `IngestDropCount` counts every drop.
    """

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="ingest_drops")
    code = models.CharField(max_length=40)
    message = models.TextField(blank=True)
    event = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.source}: {self.code}"


class IngestDropCount(models.Model):
    """How many messages of a source were dropped at ingest, per time bucket and code."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="+")
    bucket = models.DateTimeField()
    code = models.CharField(max_length=40)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-bucket"]
        constraints = [
            models.UniqueConstraint(fields=["source", "bucket", "code"], name="runtime_dropcount_unique")
        ]

    def __str__(self) -> str:
        return f"{self.source} @ {self.bucket:%Y-%m-%d %H:%M}: {self.code} x{self.count}"


class RequestInspector(models.Model):
    """A workspace's request inspector: `<PUBLIC_BASE_URL>/inspect/<token>` keeps what is sent there.

    Functions' fetches to it are answered by the sandbox host itself (no network, no egress
    exception) and recorded from the call's captures; other senders reach the HTTP endpoint.
    The token is a write capability: anyone holding the URL may add requests, only the
    workspace's function readers see them. Created on first use (`inspector_for`).
    """

    workspace = models.OneToOneField(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="request_inspector"
    )
    token = models.CharField(max_length=64, unique=True, default=ids.webhook_token, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["workspace__name"]

    def __str__(self) -> str:
        return f"Request inspector of {self.workspace}"

    @property
    def url(self) -> str:
        return f"{django_settings.PUBLIC_BASE_URL}/inspect/{self.token}"


class InspectedRequest(models.Model):
    """One request an inspector received, secrets masked (the newest INSPECTOR_KEEP are kept).

    `headers` is a list of [name, value] pairs in the order sent; `body` is the (masked) text,
    at most 64 KiB of it (`truncated`), or base64 for a binary body (`body_base64`).
    """

    inspector = models.ForeignKey(RequestInspector, on_delete=models.CASCADE, related_name="requests")
    sender = models.CharField(max_length=12, choices=InspectedSender.choices)
    instance = models.ForeignKey(
        FunctionInstance, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    method = models.CharField(max_length=16)
    url = models.TextField()
    headers = models.JSONField(default=list, blank=True)
    body = models.TextField(blank=True)
    body_base64 = models.BooleanField(default=False)
    size = models.PositiveIntegerField(default=0)
    truncated = models.BooleanField(default=False)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.method} {self.url[:80]}"


# Safe change (docs/safe-change.md): defined in their packages, registered with this app.
from .canary.models import Canary, CanaryArmStat  # noqa: E402, F401
from .replay.models import ReplayRun  # noqa: E402, F401
