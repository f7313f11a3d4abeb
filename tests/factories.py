"""factory_boy factories. Functions are built directly (no sandbox check) for speed; tests of
validation go through catalog.services instead."""

import re

import factory
from django.contrib.auth import get_user_model

from catalog.choices import ResourceType
from catalog.ids import function_public_id
from catalog.models import Function, FunctionVersion
from catalog.starters import starter_code
from runtime.models import FunctionInstance
from workspaces.choices import SourceKind
from workspaces.models import Membership, Source, Workspace


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    is_staff = True
    password = factory.django.Password("pw-for-tests-1")


class WorkspaceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Workspace
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"ws-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.title())


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    workspace = factory.SubFactory(WorkspaceFactory)
    user = factory.SubFactory(UserFactory)


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Source

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Source {n}")
    kind = SourceKind.TRACKING_API


HANDLERS = (
    "onRequest",
    "onTrack",
    "onIdentify",
    "onPage",
    "onScreen",
    "onGroup",
    "onAlias",
    "onDelete",
    "onBatch",
)


def handlers_defined(code: str) -> list[str]:
    """The handlers `code` declares, found by name (the sandbox's check, which
    catalog.services stores, is skipped here for speed)."""
    return [h for h in HANDLERS if re.search(rf"\bfunction\s+{h}\s*\(|\b{h}\s*=", code)]


class FunctionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Function
        skip_postgeneration_save = True

    workspace = factory.SubFactory(WorkspaceFactory)
    resource_type = ResourceType.DESTINATION
    public_id = factory.LazyAttribute(lambda o: function_public_id(o.resource_type))
    display_name = factory.Sequence(lambda n: f"Function {n}")
    code = factory.LazyAttribute(lambda o: starter_code(o.resource_type))

    @factory.post_generation
    def version(obj, create, extracted, **kwargs):
        if create and obj.latest_version_id is None:
            version = FunctionVersion.objects.create(
                function=obj,
                number=1,
                code=obj.code,
                settings_schema=[d.as_schema() for d in obj.setting_defs.all()],
                handlers=handlers_defined(obj.code),
            )
            obj.latest_version = version
            obj.save(update_fields=["latest_version"])


class InstanceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FunctionInstance

    function = factory.SubFactory(FunctionFactory)
    name = factory.Sequence(lambda n: f"Instance {n}")
    source = factory.LazyAttribute(
        lambda o: SourceFactory(
            workspace=o.function.workspace,
            kind=SourceKind.FUNCTION
            if o.function.resource_type == ResourceType.SOURCE
            else SourceKind.TRACKING_API,
        )
    )
    deployed_version = factory.LazyAttribute(lambda o: o.function.latest_version)
