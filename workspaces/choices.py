from django.db import models


class Role(models.TextChoices):
    """Segment's workspace roles; a grant covers all current and future objects or a list."""

    OWNER = "owner", "Workspace Owner"
    FUNCTIONS_ADMIN = "functions-admin", "Functions Admin"
    FUNCTIONS_READ_ONLY = "functions-read-only", "Functions Read-only"
    SOURCE_ADMIN = "source-admin", "Source Admin"
    SOURCE_READ_ONLY = "source-read-only", "Source Read-only"


class SourceKind(models.TextChoices):
    FUNCTION = "FUNCTION", "Source function"
    TRACKING_API = "TRACKING_API", "Tracking API"


class AuditAction(models.TextChoices):
    CREATED = "created", "Created"
    SAVED = "saved", "Saved"
    RESTORED = "restored", "Restored"
    DEPLOYED = "deployed", "Deployed"
    ROLLED_BACK = "rolled_back", "Rolled back"
    CANARY_STARTED = "canary_started", "Canary started"
    CANARY_PROMOTED = "canary_promoted", "Canary promoted"
    CANARY_ABORTED = "canary_aborted", "Canary aborted"
    CANARY_ROLLED_BACK = "canary_rolled_back", "Canary rolled back automatically"
    CANARY_ENDED = "canary_ended", "Canary or watch ended"
    REPLAYED = "replayed", "Dry-run replay requested"
    DEAD_LETTERS_REPLAYED = "dead_letter_replay", "Dead letters replayed"
    CONNECTED = "connected", "Connected"
    UPDATED = "updated", "Updated"
    DELETED = "deleted", "Deleted"
    GRANTED = "granted", "Granted"
    REVOKED = "revoked", "Revoked"


# Each role's django-guardian permission. On the Workspace it grants the role on all current and
# future objects; on a Function or Source row, on that object only (the listed form of the role).
ROLE_WORKSPACE_PERM = {
    Role.OWNER: "workspaces.workspace_owner",
    Role.FUNCTIONS_ADMIN: "workspaces.functions_admin",
    Role.FUNCTIONS_READ_ONLY: "workspaces.functions_read",
    Role.SOURCE_ADMIN: "workspaces.sources_admin",
    Role.SOURCE_READ_ONLY: "workspaces.sources_read",
}
ROLE_OBJECT_PERM = {
    Role.FUNCTIONS_ADMIN: "catalog.change_function",
    Role.FUNCTIONS_READ_ONLY: "catalog.view_function",
    Role.SOURCE_ADMIN: "workspaces.change_source",
    Role.SOURCE_READ_ONLY: "workspaces.view_source",
}
