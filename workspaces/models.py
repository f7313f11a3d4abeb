from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from encrypted_model_fields.fields import EncryptedTextField

from . import ids
from .choices import AuditAction, SourceKind

slug_validator = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$",
    "Use lowercase letters, digits and hyphens (1–64 characters, no leading or trailing hyphen).",
)


class Workspace(models.Model):
    """A tenant: every function, source, instance and token belongs to exactly one workspace.

    Workspace-wide role grants ("all current and future functions/sources") are guardian object
    permissions on this row; per-object grants live on Function and Source rows.
    """

    slug = models.SlugField(max_length=64, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]
        permissions = [
            ("workspace_owner", "Workspace Owner"),
            ("functions_admin", "Functions Admin on all functions"),
            ("functions_read", "Functions Read-only on all functions"),
            ("sources_admin", "Source Admin on all sources"),
            ("sources_read", "Source Read-only on all sources"),
        ]

    def __str__(self) -> str:
        return self.name or self.slug


class Membership(models.Model):
    """A user's membership of a workspace; roles are granted on top of it."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    is_owner = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user"], name="workspaces_membership_unique_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.workspace}"


class Source(models.Model):
    """Where events enter: a source function's webhook or a Tracking API write key."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="sources")
    public_id = models.CharField(max_length=32, unique=True, default=ids.source_id, editable=False)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=SourceKind.choices)
    write_key = models.CharField(max_length=64, unique=True, default=ids.write_key, editable=False)
    webhook_token = models.CharField(max_length=64, unique=True, default=ids.webhook_token, editable=False)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def webhook_url(self) -> str | None:
        if self.kind != SourceKind.FUNCTION:
            return None
        return f"{settings.PUBLIC_BASE_URL}/hooks/{self.webhook_token}"


class AccessToken(models.Model):
    """A Public API bearer token; only a hash of the secret is stored, shown once at creation."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="access_tokens")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_tokens")
    name = models.CharField(max_length=200)
    prefix = models.CharField(max_length=16, db_index=True, editable=False)
    secret_hash = models.CharField(max_length=128, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class AuditEvent(models.Model):
    """Who created, saved, restored, deployed, connected or deleted what, and when."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="audit_events")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    action = models.CharField(max_length=20, choices=AuditAction.choices)
    object_type = models.CharField(max_length=40)
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=300)
    version_id = models.CharField(max_length=32, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.actor} {self.action} {self.object_type} {self.object_repr}"


class EncryptionCanary(models.Model):
    """A known value encrypted with the field key, decrypted by a system check at start-up."""

    PLAINTEXT = "functions-platform-canary"
    value = EncryptedTextField()

    def __str__(self) -> str:
        return "encryption canary"
