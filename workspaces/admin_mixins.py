"""Workspace scoping for every ModelAdmin, answered by workspaces.permissions.

Django's admin asks model-level permissions and looks objects up in get_queryset; here both go
through the authorization module: the queryset is what the user may see, an object outside it
is a 404 (not Django's redirect), and the verbs are per object (403 when refused).
"""

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404

from . import permissions

DELETE_PROBE = 100


def is_member_anywhere(user) -> bool:
    return permissions.workspaces_visible(user).exists()


class WorkspaceFilter(admin.SimpleListFilter):
    """A workspace filter listing only the workspaces the user belongs to."""

    title = "workspace"
    parameter_name = "workspace"
    lookup = "workspace"

    def lookups(self, request, model_admin):
        return [(ws.pk, str(ws)) for ws in permissions.workspaces_visible(request.user)]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(**{f"{self.lookup}__pk": self.value()})
        return queryset


class ScopedAdmin(admin.ModelAdmin):
    """Base admin: subclasses say what is visible and what each verb needs."""

    # True when delete_model calls a service that removes PROTECT-ed dependents first.
    delete_cascades_protected = False

    def visible(self, request):
        raise NotImplementedError

    def can_view(self, request, obj) -> bool:
        return True  # obj comes from visible(), so it is readable

    def can_change(self, request, obj) -> bool:
        raise NotImplementedError

    def can_add(self, request) -> bool:
        return False

    def can_delete(self, request, obj) -> bool:
        return self.can_change(request, obj)

    def can_delete_some(self, request) -> bool:
        """Whether to offer deleting at all (the changelist's delete action): some visible object
        may be deleted. Admins whose rule is a query answer with it; this default asks the
        first objects one by one (enough for the admins whose answer never depends on them)."""
        return any(self.can_delete(request, obj) for obj in self.get_queryset(request)[:DELETE_PROBE])

    def get_queryset(self, request):
        return self.visible(request)

    def has_module_permission(self, request):
        return is_member_anywhere(request.user)

    def has_view_permission(self, request, obj=None):
        if obj is None:
            return is_member_anywhere(request.user)
        return self.can_view(request, obj)

    def has_change_permission(self, request, obj=None):
        if obj is None:
            return is_member_anywhere(request.user)
        return self.can_change(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is None:
            return is_member_anywhere(request.user) and self.can_delete_some(request)
        return self.can_delete(request, obj)

    def has_add_permission(self, request):
        return self.can_add(request)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # Safety net: a foreign key to a scoped model offers only what its admin shows this user,
        # unless the subclass chose a narrower queryset (e.g. only what the user administers).
        if "queryset" not in kwargs:
            related = self.admin_site._registry.get(db_field.remote_field.model)
            if isinstance(related, ScopedAdmin):
                kwargs["queryset"] = related.visible(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def _visible_or_404(self, request, object_id):
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404("Not found.")
        return obj

    def change_view(self, request, object_id, form_url="", extra_context=None):
        self._visible_or_404(request, object_id)
        return super().change_view(request, object_id, form_url, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        obj = self._visible_or_404(request, object_id)
        if not self.has_delete_permission(request, obj):
            raise PermissionDenied
        return super().delete_view(request, object_id, extra_context)

    def history_view(self, request, object_id, extra_context=None):
        self._visible_or_404(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def get_deleted_objects(self, objs, request):
        # The verb on the object itself decides (the delete service cascades); Django would also
        # demand delete rights on every cascaded row, e.g. Deployment rows nobody may delete.
        deleted, counts, _perms_needed, protected = super().get_deleted_objects(objs, request)
        refused = {obj._meta.verbose_name for obj in objs if not self.has_delete_permission(request, obj)}
        return deleted, counts, refused, [] if self.delete_cascades_protected else protected

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            if not self.has_delete_permission(request, obj):
                raise PermissionDenied
        for obj in queryset:
            self.delete_model(request, obj)
