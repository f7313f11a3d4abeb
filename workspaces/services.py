"""Writes for workspaces, memberships, sources and the audit trail."""

import hashlib
import hmac
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from guardian.models import UserObjectPermission
from guardian.shortcuts import assign_perm, get_users_with_perms, remove_perm

from . import ids
from .choices import ROLE_OBJECT_PERM, ROLE_WORKSPACE_PERM, AuditAction, Role, SourceKind
from .models import AccessToken, AuditEvent, Membership, Source, Workspace

User = get_user_model()


@transaction.atomic
def workspace_create(*, slug: str, name: str = "", owner=None) -> Workspace:
    """Create a workspace; `owner`, when given, becomes a member with the Workspace Owner role."""
    workspace = Workspace(slug=slug, name=name or slug)
    workspace.full_clean()
    workspace.save()
    if owner is not None:
        membership_set_owner(workspace=workspace, user=owner)
    return workspace


def membership_ensure(*, workspace: Workspace, user) -> Membership:
    """Make `user` a member of `workspace` (no role by itself); idempotent."""
    membership, _ = Membership.objects.get_or_create(workspace=workspace, user=user)
    return membership


@transaction.atomic
def membership_remove(*, workspace: Workspace, user, actor=None) -> None:
    """Remove `user` from `workspace`; every access they had there ends at once.

    Deletes the membership and every role granted to the user there (workspace-wide and on its
    functions and sources), and revokes the user's API tokens of the workspace. Group grants
    stay with their group; without the membership they no longer reach the user. The last
    owner cannot be removed (the workspace would have nobody to manage it).
    """
    membership = Membership.objects.select_for_update().filter(workspace=workspace, user=user).first()
    if membership is None:
        raise ValidationError(f"{user} is not a member of {workspace.slug}.")
    if _is_last_owner(workspace, user):
        raise ValidationError(f"{user} is the last owner of {workspace.slug}; make someone else owner first.")
    _user_grants_delete(workspace, user)
    for token in AccessToken.objects.filter(workspace=workspace, user=user, revoked_at__isnull=True):
        access_token_revoke(token=token, actor=actor)
    membership.delete()
    audit_record(
        workspace=workspace, actor=actor, action=AuditAction.REVOKED, obj=user, data={"role": "member"}
    )


def _is_last_owner(workspace: Workspace, user) -> bool:
    owners = get_users_with_perms(workspace, only_with_perms_in=["workspace_owner"], with_group_users=True)
    members = owners.filter(memberships__workspace=workspace, is_active=True)
    return members.filter(pk=user.pk).exists() and not members.exclude(pk=user.pk).exists()


def _user_grants_delete(workspace: Workspace, user) -> None:
    rows = UserObjectPermission.objects.filter(user=user)
    for queryset in (
        Workspace.objects.filter(pk=workspace.pk),
        workspace.functions.all(),
        workspace.sources.all(),
    ):
        content_type = ContentType.objects.get_for_model(queryset.model)
        ids = [str(pk) for pk in queryset.values_list("pk", flat=True)]
        rows.filter(content_type=content_type, object_pk__in=ids).delete()


@transaction.atomic
def membership_set_owner(*, workspace: Workspace, user) -> Membership:
    """Grant the Workspace Owner role (membership flag plus the guardian permission)."""
    membership = membership_ensure(workspace=workspace, user=user)
    if not membership.is_owner:
        membership.is_owner = True
        membership.save(update_fields=["is_owner"])
    assign_perm("workspaces.workspace_owner", user, workspace)
    return membership


def user_ensure(*, username: str, password: str | None = None) -> tuple[object, bool]:
    """Get or create a staff user who can log in to the admin; returns (user, created)."""
    user, created = User.objects.get_or_create(username=username, defaults={"is_staff": True})
    changed = []
    if not user.is_staff:
        user.is_staff = True
        changed.append("is_staff")
    if password:
        user.set_password(password)
        changed.append("password")
    elif created:
        user.set_unusable_password()
        changed.append("password")
    if changed:
        user.save(update_fields=changed)
    return user, created


def source_create(
    *,
    workspace: Workspace,
    name: str,
    kind: str = SourceKind.TRACKING_API,
    enabled: bool = True,
    actor=None,
) -> Source:
    """Create a source; a write key and a webhook token are generated for it."""
    source = Source(workspace=workspace, name=name, kind=kind, enabled=enabled)
    source.full_clean()
    source.save()
    audit_record(workspace=workspace, actor=actor, action=AuditAction.CREATED, obj=source)
    return source


def source_update(*, source: Source, actor=None, **fields) -> Source:
    """Update a source's name or enabled flag."""
    allowed = {"name", "enabled"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"cannot update {sorted(unknown)}")
    for key, value in fields.items():
        setattr(source, key, value)
    source.full_clean()
    source.save(update_fields=[*fields, "updated_at"])
    audit_record(
        workspace=source.workspace,
        actor=actor,
        action=AuditAction.UPDATED,
        obj=source,
        data={"fields": sorted(fields)},
    )
    return source


def audit_record(
    *, workspace: Workspace, actor, action: str, obj, version_id: str = "", data: dict | None = None
) -> AuditEvent:
    """Append an entry to the workspace's audit trail."""
    return AuditEvent.objects.create(
        workspace=workspace,
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        object_type=obj._meta.model_name,
        object_id=str(getattr(obj, "public_id", None) or obj.pk),
        object_repr=str(obj)[:300],
        version_id=version_id,
        data=data or {},
    )


@transaction.atomic
def role_grant(*, workspace: Workspace, role: str, user=None, group=None, objects=(), actor=None) -> None:
    """Grant a role to a user or a group, workspace-wide (no `objects`) or on the listed objects.

    Functions roles take Function rows, Source roles take Source rows; every object must belong
    to `workspace`. Grants add up: granting never removes a broader grant.
    """
    if (user is None) == (group is None):
        raise ValueError("grant to exactly one of user or group")
    if role not in ROLE_WORKSPACE_PERM:
        raise ValidationError({"role": f"Unknown role {role!r}."})
    grantee = user or group
    if user is not None:
        membership_ensure(workspace=workspace, user=user)
    if role == Role.OWNER:
        if objects:
            raise ValidationError({"role": "The owner role covers the whole workspace."})
        if user is not None:
            membership_set_owner(workspace=workspace, user=user)
        else:
            assign_perm(ROLE_WORKSPACE_PERM[role], group, workspace)
    elif objects:
        for obj in objects:
            if obj.workspace_id != workspace.pk:
                raise ValidationError(f"{obj} does not belong to workspace {workspace.slug}.")
            assign_perm(ROLE_OBJECT_PERM[role], grantee, obj)
    else:
        assign_perm(ROLE_WORKSPACE_PERM[role], grantee, workspace)
    audit_record(
        workspace=workspace,
        actor=actor,
        action=AuditAction.GRANTED,
        obj=grantee,
        data={"role": role, "objects": [getattr(o, "public_id", o.pk) for o in objects]},
    )


@transaction.atomic
def role_revoke(*, workspace: Workspace, role: str, user=None, group=None, objects=(), actor=None) -> None:
    """Remove a role grant made by role_grant (workspace-wide or on the listed objects)."""
    grantee = user or group
    if objects:
        for obj in objects:
            remove_perm(ROLE_OBJECT_PERM[role], grantee, obj)
    else:
        remove_perm(ROLE_WORKSPACE_PERM[role], grantee, workspace)
        if role == Role.OWNER and user is not None:
            Membership.objects.filter(workspace=workspace, user=user).update(is_owner=False)
    audit_record(
        workspace=workspace,
        actor=actor,
        action=AuditAction.REVOKED,
        obj=grantee,
        data={"role": role, "objects": [getattr(o, "public_id", o.pk) for o in objects]},
    )


# --- access tokens (Public API) ---------------------------------------------------------------

TOKEN_PREFIX = "sgp_"
TOKEN_LOOKUP_CHARS = 12  # "sgp_" + 8 random characters, stored in clear to find the row


def _token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def access_token_create(*, workspace: Workspace, user, name: str, actor=None):
    """Create a Public API token acting as `user` in `workspace`; returns (token, secret).

    The secret is shown once: only its SHA-256 is stored (the secret is 48 random base62
    characters, so a fast hash is enough). The user must be a member of the workspace.
    """
    if not Membership.objects.filter(workspace=workspace, user=user).exists():
        raise ValidationError({"user": f"{user} is not a member of {workspace.slug}."})
    secret = TOKEN_PREFIX + ids.base62(48)
    token = AccessToken(
        workspace=workspace,
        user=user,
        name=(name or "").strip() or "API token",
        prefix=secret[:TOKEN_LOOKUP_CHARS],
        secret_hash=_token_hash(secret),
    )
    token.full_clean()
    token.save()
    audit_record(workspace=workspace, actor=actor, action=AuditAction.CREATED, obj=token)
    return token, secret


def access_token_revoke(*, token, actor=None):
    """Revoke a token; it stops authenticating at once (idempotent)."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(workspace=token.workspace, actor=actor, action=AuditAction.REVOKED, obj=token)
    return token


def access_token_authenticate(*, secret: str):
    """The live token whose secret this is, or None; records the last use (at most once a minute)."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) < TOKEN_LOOKUP_CHARS:
        return None
    digest = _token_hash(secret)
    # Membership is access: a token of a user no longer in its workspace is dead (same query).
    candidates = AccessToken.objects.filter(
        prefix=secret[:TOKEN_LOOKUP_CHARS], revoked_at__isnull=True, workspace__memberships__user=F("user")
    ).select_related("workspace", "user")
    token = next((t for t in candidates if hmac.compare_digest(t.secret_hash, digest)), None)
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        AccessToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def source_delete(*, source: Source, actor=None) -> None:
    """Delete a source with the instances connected to it (their error logs go with them)."""
    audit_record(workspace=source.workspace, actor=actor, action=AuditAction.DELETED, obj=source)
    source.delete()
