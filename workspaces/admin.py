from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from runtime.debugger.selectors import source_traffic_summary
from runtime.selectors import source_drop_counts

from . import permissions
from .admin_mixins import ScopedAdmin, WorkspaceFilter
from .choices import AuditAction, Role, SourceKind
from .models import AccessToken, AuditEvent, Membership, Source, Workspace
from .services import (
    access_token_create,
    access_token_revoke,
    audit_record,
    membership_ensure,
    membership_remove,
    role_grant,
    role_revoke,
    source_create,
    source_delete,
    source_update,
)

admin.site.site_header = "Functions platform"
admin.site.site_title = "Functions platform"
admin.site.index_title = "Workspaces, functions and sources"


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ["user", "is_owner", "created_at"]
    readonly_fields = ["user", "is_owner", "created_at"]
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


FUNCTION_ROLES = (Role.FUNCTIONS_ADMIN, Role.FUNCTIONS_READ_ONLY)
SOURCE_ROLES = (Role.SOURCE_ADMIN, Role.SOURCE_READ_ONLY)


class MemberAddForm(forms.Form):
    """Add an existing user to the workspace by username (no role by itself)."""

    username = forms.CharField(max_length=150)

    def clean_username(self):
        user = get_user_model().objects.filter(username=self.cleaned_data["username"]).first()
        if user is None:
            raise ValidationError("No user with that username.")
        return user


class MemberRemoveForm(forms.Form):
    """Remove one member of the workspace (their grants and API tokens go with the membership)."""

    user = forms.ModelChoiceField(queryset=None)

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = get_user_model().objects.filter(memberships__workspace=workspace)


# Least privilege first: the role select starts on a read-only role.
ROLES_LEAST_FIRST = [
    Role.FUNCTIONS_READ_ONLY,
    Role.SOURCE_READ_ONLY,
    Role.FUNCTIONS_ADMIN,
    Role.SOURCE_ADMIN,
    Role.OWNER,
]


class RoleForm(forms.Form):
    """Grant or revoke a role for a user or a group, workspace-wide or on chosen objects."""

    grantee_kind = forms.ChoiceField(choices=[("user", "User"), ("group", "Group")], label="To a")
    name = forms.CharField(max_length=150, help_text="Username or group name.")
    role = forms.ChoiceField(choices=[(role.value, role.label) for role in ROLES_LEAST_FIRST])
    functions = forms.ModelMultipleChoiceField(
        queryset=None, required=False, help_text="None chosen: all current and future functions."
    )
    sources = forms.ModelMultipleChoiceField(
        queryset=None, required=False, help_text="None chosen: all current and future sources."
    )

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        # Choices come from this workspace only: a grant can never reach another tenant's rows.
        self.fields["functions"].queryset = workspace.functions.all()
        self.fields["sources"].queryset = workspace.sources.all()

    def clean(self):
        data = super().clean()
        role, functions, sources = data.get("role"), data.get("functions"), data.get("sources")
        if functions and role not in FUNCTION_ROLES:
            self.add_error("functions", "Functions can only be chosen for a Functions role.")
        if sources and role not in SOURCE_ROLES:
            self.add_error("sources", "Sources can only be chosen for a Source role.")
        data["grantee"] = self._grantee(data)
        data["objects"] = list(functions or []) + list(sources or [])
        return data

    def _grantee(self, data):
        model = get_user_model() if data.get("grantee_kind") == "user" else Group
        field = "username" if model is not Group else "name"
        grantee = model.objects.filter(**{field: data.get("name")}).first()
        if grantee is None and data.get("name"):
            self.add_error("name", f"No {data.get('grantee_kind')} with that name.")
        return grantee


@admin.register(Workspace)
class WorkspaceAdmin(ScopedAdmin):
    list_display = ["slug", "name", "created_at", "members_link"]
    search_fields = ["slug", "name"]
    inlines = [MembershipInline]

    def visible(self, request):
        return permissions.workspaces_visible(request.user)

    def can_change(self, request, obj):
        return permissions.is_owner(request.user, obj)

    def can_delete(self, request, obj):
        return request.user.is_superuser

    def can_add(self, request):
        return request.user.is_superuser

    def get_readonly_fields(self, request, obj=None):
        return ["slug", "members_link"] if obj else []

    def get_fields(self, request, obj=None):
        return ["slug", "name", "members_link"] if obj else ["slug", "name"]

    @admin.display(description="Members and roles")
    def members_link(self, obj):
        url = reverse("admin:workspaces_workspace_members", args=[obj.pk])
        return format_html('<a href="{}">Manage members and roles</a>', url)

    def get_urls(self):
        members = self.admin_site.admin_view(self.members_view)
        return [
            path("<path:object_id>/members/", members, name="workspaces_workspace_members"),
            *super().get_urls(),
        ]

    def members_view(self, request, object_id):
        """Owners add members and grant or revoke roles; 404 outside scope, 403 for non-owners."""
        workspace = self._visible_or_404(request, object_id)
        if not permissions.can_manage_members(request.user, workspace):
            raise PermissionDenied
        member_form = MemberAddForm(prefix="member")
        role_form = RoleForm(prefix="role", workspace=workspace)
        if request.method == "POST":
            if "add_member" in request.POST:
                member_form = MemberAddForm(request.POST, prefix="member")
                if member_form.is_valid():
                    return self._member_add(request, workspace, member_form.cleaned_data["username"])
            elif "remove_member" in request.POST:
                return self._member_remove(request, workspace)
            else:
                role_form = RoleForm(request.POST, prefix="role", workspace=workspace)
                if role_form.is_valid():
                    return self._role_change(request, workspace, role_form.cleaned_data)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Members and roles: {workspace}",
            "opts": self.model._meta,
            "original": workspace,
            "members": workspace.memberships.select_related("user").order_by("user__username"),
            "grants": [_grant_row(grant) for grant in permissions.workspace_grants(workspace)],
            "member_form": member_form,
            "role_form": role_form,
        }
        return TemplateResponse(request, "admin/workspaces/workspace/members.html", context)

    def _member_remove(self, request, workspace):
        form = MemberRemoveForm({"user": request.POST.get("remove_member")}, workspace=workspace)
        if not form.is_valid():
            messages.error(request, "That user is not a member of this workspace.")
            return HttpResponseRedirect(request.path)
        user = form.cleaned_data["user"]
        try:
            membership_remove(workspace=workspace, user=user, actor=request.user)
        except ValidationError as exc:
            messages.error(request, "; ".join(exc.messages))
        else:
            messages.success(
                request, f"Removed {user} from {workspace}: their roles and API tokens here are gone."
            )
        return HttpResponseRedirect(request.path)

    @transaction.atomic
    def _member_add(self, request, workspace, user):
        membership_ensure(workspace=workspace, user=user)
        if not user.is_staff:  # the admin is the members' interface
            user.is_staff = True
            user.save(update_fields=["is_staff"])
        audit_record(
            workspace=workspace,
            actor=request.user,
            action=AuditAction.GRANTED,
            obj=user,
            data={"role": "member"},
        )
        messages.success(request, f"{user} is now a member of {workspace}.")
        return HttpResponseRedirect(request.path)

    def _role_change(self, request, workspace, data):
        revoke = "revoke" in request.POST
        kind = "user" if data["grantee_kind"] == "user" else "group"
        change = role_revoke if revoke else role_grant
        try:
            change(
                workspace=workspace,
                role=data["role"],
                objects=data["objects"],
                actor=request.user,
                **{kind: data["grantee"]},
            )
        except ValidationError as exc:
            messages.error(request, "; ".join(exc.messages))
            return HttpResponseRedirect(request.path)
        verb = "Revoked" if revoke else "Granted"
        messages.success(request, f"{verb} {data['role']} for {data['grantee']}.")
        return HttpResponseRedirect(request.path)


def _grant_row(grant: dict) -> dict:
    """A grant as the members page shows it, with what its one-click Revoke form posts."""
    grantee = grant["grantee"]
    name = grantee.name if grant["kind"] == "group" else grantee.get_username()
    field = "functions" if grant["role"] in FUNCTION_ROLES else "sources"
    return {**grant, "name": name, "objects_field": field}


@admin.register(Source)
class SourceAdmin(ScopedAdmin):
    list_display = ["name", "kind", "workspace", "enabled", "created_at"]
    list_filter = [WorkspaceFilter, "kind", "enabled"]
    search_fields = ["name", "public_id"]

    def visible(self, request):
        return permissions.sources_visible(request.user).select_related("workspace")

    def can_change(self, request, obj):
        return permissions.can_admin_source(request.user, obj)

    def can_delete_some(self, request):
        return permissions.sources_administered(request.user).exists()

    def can_add(self, request):
        return permissions.workspaces_for_source_create(request.user).exists()

    def get_fields(self, request, obj=None):
        # The write key and a function source's webhook URL are credentials: Source Admin only.
        shown = obj is None or permissions.can_admin_source(request.user, obj)
        credentials = ["endpoint", "write_key_display"] if shown else ["credentials_hidden"]
        return [
            "workspace",
            "name",
            "kind",
            "enabled",
            "public_id",
            *credentials,
            "dropped_messages",
            "debugger",
        ]

    def get_readonly_fields(self, request, obj=None):
        readonly = [
            "public_id",
            "endpoint",
            "write_key_display",
            "credentials_hidden",
            "dropped_messages",
            "debugger",
        ]
        return ["workspace", "kind", *readonly] if obj else readonly

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "workspace":
            kwargs["queryset"] = permissions.workspaces_for_source_create(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        if db_field.name == "kind":
            # Function sources are created by connecting a source function.
            kwargs["choices"] = [(SourceKind.TRACKING_API, SourceKind.TRACKING_API.label)]
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    @admin.display(description="Endpoint")
    def endpoint(self, obj):
        if obj.pk is None:
            return "-"
        if obj.kind == SourceKind.FUNCTION:
            return obj.webhook_url
        return "POST /v1/track, /v1/identify, /v1/batch … with the write key"

    @admin.display(description="Dropped at ingest (7 days)")
    def dropped_messages(self, obj):
        if obj.pk is None or obj.kind != SourceKind.TRACKING_API:
            return "-"
        counts = source_drop_counts(source=obj, since=timezone.now() - timezone.timedelta(days=7))
        if not counts:
            return "none"
        link = reverse("admin:runtime_ingestdrop_changelist") + f"?source__id__exact={obj.pk}"
        listed = format_html_join(", ", "{} × <code>{}</code>", ((n, code) for code, n in counts.items()))
        return format_html('{} (<a href="{}">recent drops and reasons</a>)', listed, link)

    @admin.display(description="Source debugger")
    def debugger(self, obj):
        if obj.pk is None:
            return "-"
        counts = source_traffic_summary(source=obj, since=timezone.now() - timezone.timedelta(days=7))
        return format_html(
            '<a href="{}" id="fn-source-debugger-link">Recent requests, live</a> · 7 days: {} requests, {} events, {} errors',
            reverse("admin:runtime_source_debugger", args=[obj.pk]),
            counts["requests"],
            counts["events"],
            counts["errors"],
        )

    @admin.display(description="Write key")
    def write_key_display(self, obj):
        if obj.pk is None:
            return "generated on save"
        return format_html("<code>{}</code>", obj.write_key)

    @admin.display(description="Endpoint and write key")
    def credentials_hidden(self, obj):
        return "hidden (Source Admin only)"

    def save_model(self, request, obj, form, change):
        if change:
            source_update(source=obj, actor=request.user, name=obj.name, enabled=obj.enabled)
        else:
            created = source_create(
                workspace=obj.workspace,
                name=obj.name,
                kind=SourceKind.TRACKING_API,
                enabled=obj.enabled,
                actor=request.user,
            )
            obj.pk, obj._state.adding = created.pk, False

    def delete_model(self, request, obj):
        source_delete(source=obj, actor=request.user)


@admin.register(AuditEvent)
class AuditEventAdmin(ScopedAdmin):
    list_display = ["created_at", "workspace", "actor", "action", "object_type", "object_repr", "version_id"]
    list_filter = [WorkspaceFilter, "action", "object_type"]
    search_fields = ["object_repr", "object_id", "version_id"]

    def visible(self, request):
        owned = permissions.workspaces_owned(request.user)
        return AuditEvent.objects.filter(workspace__in=owned).select_related("workspace", "actor")

    def has_module_permission(self, request):
        return permissions.workspaces_owned(request.user).exists()

    def has_view_permission(self, request, obj=None):
        return permissions.workspaces_owned(request.user).exists()

    def can_change(self, request, obj):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class AccessTokenForm(forms.ModelForm):
    def clean(self):
        data = super().clean()
        workspace, user = data.get("workspace"), data.get("user")
        if workspace and user and not workspace.memberships.filter(user=user).exists():
            self.add_error("user", f"{user} is not a member of {workspace.slug}.")
        return data


class AccessTokenAdmin(ScopedAdmin):
    """Public API tokens: owners of a workspace only. The secret is shown once, in a message."""

    form = AccessTokenForm
    list_display = ["name", "workspace", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = [WorkspaceFilter]
    fields = ["workspace", "user", "name"]
    actions = ["revoke_tokens"]

    def visible(self, request):
        owned = permissions.workspaces_owned(request.user)
        return AccessToken.objects.filter(workspace__in=owned).select_related("workspace", "user")

    def has_module_permission(self, request):
        return permissions.workspaces_owned(request.user).exists()

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def can_add(self, request):
        return self.has_module_permission(request)

    def can_change(self, request, obj):
        return permissions.is_owner(request.user, obj.workspace)

    def has_change_permission(self, request, obj=None):
        if obj is None:
            return self.has_module_permission(request)
        return self.can_change(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self.has_change_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        # A token is immutable once made: revoke it and create another.
        if obj is None:
            return []
        return ["workspace", "user", "name", "prefix", "created_at", "last_used_at", "revoked_at"]

    def get_fields(self, request, obj=None):
        return self.get_readonly_fields(request, obj) if obj else self.fields

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        owned = permissions.workspaces_owned(request.user)
        if db_field.name == "workspace":
            kwargs["queryset"] = owned
        elif db_field.name == "user":
            kwargs["queryset"] = get_user_model().objects.filter(memberships__workspace__in=owned).distinct()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if change:
            return
        if not permissions.can_manage_tokens(request.user, obj.workspace):
            raise PermissionDenied
        token, secret = access_token_create(
            workspace=obj.workspace, user=obj.user, name=obj.name, actor=request.user
        )
        obj.pk, obj._state.adding = token.pk, False
        messages.warning(request, f"Token {token.name!r}: {secret} (copy it now, it is not shown again).")

    @admin.action(description="Revoke selected tokens")
    def revoke_tokens(self, request, queryset):
        tokens = list(queryset)
        if not all(permissions.can_manage_tokens(request.user, t.workspace) for t in tokens):
            raise PermissionDenied
        for token in tokens:
            access_token_revoke(token=token, actor=request.user)
        self.message_user(request, f"Revoked {len(tokens)} token(s).")


admin.site.register(AccessToken, AccessTokenAdmin)
