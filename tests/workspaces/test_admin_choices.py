"""No admin add form offers a foreign-key choice from a workspace the user does not belong to."""

import pytest
from django import forms
from django.contrib import admin
from django.test import RequestFactory

from catalog.models import Function
from workspaces.admin_mixins import ScopedAdmin
from workspaces.models import Workspace

SCOPED = [(m._meta.label_lower, a) for m, a in admin.site._registry.items() if isinstance(a, ScopedAdmin)]


def workspace_of(obj):
    """The workspace an object belongs to (None for global objects such as users)."""
    if isinstance(obj, Workspace):
        return obj
    if hasattr(obj, "workspace_id"):
        return obj.workspace
    if hasattr(obj, "function_id"):
        return obj.function.workspace
    if hasattr(obj, "memberships"):  # a user: belongs where it is a member
        workspaces = {m.workspace for m in obj.memberships.all()}
        return next(iter(workspaces)) if len(workspaces) == 1 else None
    return None


@pytest.mark.parametrize("label, model_admin", SCOPED, ids=[label for label, _ in SCOPED])
def test_outsider_is_offered_nothing_of_acme(label, model_admin, world_for_choices, outsider):
    request = RequestFactory().get("/")
    request.user = outsider
    if not model_admin.has_add_permission(request):
        return  # no form is offered (view-only pages render read-only values, not choices)
    form_class = model_admin.get_form(request, None, change=False)
    offered = []
    for field in form_class.base_fields.values():
        if isinstance(field, forms.ModelChoiceField):
            offered += [workspace_of(obj) for obj in field.queryset]
    assert world_for_choices not in offered


@pytest.fixture
def world_for_choices(workspace, function, second_function, source, instance, owner, functions_admin):
    assert Function.objects.filter(workspace=workspace).count() == 2
    return workspace
