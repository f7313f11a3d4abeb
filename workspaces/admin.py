from django.contrib import admin
from django.utils.html import format_html

from . import permissions
from .admin_mixins import ScopedAdmin, WorkspaceFilter
from .choices import SourceKind
from .models import AuditEvent, Membership, Source, Workspace
from .services import source_create, source_update

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


@admin.register(Workspace)
class WorkspaceAdmin(ScopedAdmin):
    list_display = ["slug", "name", "created_at"]
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
        return ["slug"] if obj else []


@admin.register(Source)
class SourceAdmin(ScopedAdmin):
    list_display = ["name", "kind", "workspace", "enabled", "created_at"]
    list_filter = [WorkspaceFilter, "kind", "enabled"]
    search_fields = ["name", "public_id"]
    fields = ["workspace", "name", "kind", "enabled", "public_id", "endpoint", "write_key_display"]

    def visible(self, request):
        return permissions.sources_visible(request.user).select_related("workspace")

    def can_change(self, request, obj):
        return permissions.can_admin_source(request.user, obj)

    def can_add(self, request):
        return permissions.workspaces_for_source_create(request.user).exists()

    def get_readonly_fields(self, request, obj=None):
        readonly = ["public_id", "endpoint", "write_key_display"]
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

    @admin.display(description="Write key")
    def write_key_display(self, obj):
        if obj.pk is None:
            return "generated on save"
        request = getattr(self, "_request", None)
        if request is not None and not permissions.can_admin_source(request.user, obj):
            return "hidden (Source Admin only)"
        return format_html("<code>{}</code>", obj.write_key)

    def get_form(self, request, obj=None, change=False, **kwargs):
        self._request = request
        return super().get_form(request, obj, change=change, **kwargs)

    def save_model(self, request, obj, form, change):
        if change:
            source_update(
                source=obj, actor=request.user, name=obj.name, enabled=obj.enabled
            )
        else:
            created = source_create(
                workspace=obj.workspace, name=obj.name, kind=SourceKind.TRACKING_API,
                enabled=obj.enabled, actor=request.user,
            )
            obj.pk, obj._state.adding = created.pk, False


@admin.register(AuditEvent)
class AuditEventAdmin(ScopedAdmin):
    list_display = ["created_at", "workspace", "actor", "action", "object_type", "object_repr",
                    "version_id"]
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


class AccessTokenAdmin(ScopedAdmin):
    """Public API tokens: owners of a workspace only. The secret is shown once, in a message."""

    list_display = ["name", "workspace", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = [WorkspaceFilter]
    fields = ["workspace", "user", "name"]
    actions = ["revoke_tokens"]

    def visible(self, request):
        from .models import AccessToken

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

    def get_readonly_fields(self, request, obj=None):
        # A token is immutable once made: revoke it and create another.
        if obj is None:
            return []
        return ["workspace", "user", "name", "prefix", "created_at", "last_used_at", "revoked_at"]

    def get_fields(self, request, obj=None):
        return self.get_readonly_fields(request, obj) if obj else self.fields

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        from django.contrib.auth import get_user_model

        owned = permissions.workspaces_owned(request.user)
        if db_field.name == "workspace":
            kwargs["queryset"] = owned
        elif db_field.name == "user":
            kwargs["queryset"] = get_user_model().objects.filter(memberships__workspace__in=owned).distinct()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        from django.contrib import messages
        from django.core.exceptions import PermissionDenied

        from .services import access_token_create

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
        from django.core.exceptions import PermissionDenied

        from .services import access_token_revoke

        tokens = list(queryset)
        if not all(permissions.can_manage_tokens(request.user, t.workspace) for t in tokens):
            raise PermissionDenied
        for token in tokens:
            access_token_revoke(token=token, actor=request.user)
        self.message_user(request, f"Revoked {len(tokens)} token(s).")


def _register_access_token_admin():
    from .models import AccessToken

    admin.site.register(AccessToken, AccessTokenAdmin)


_register_access_token_admin()
