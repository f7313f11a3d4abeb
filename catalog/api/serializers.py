"""Shapes of Segment's Function, Version and FunctionSetting objects (camelCase, as the SDK).

Serializers only translate: every rule (names, code, settings schemas) is enforced by
catalog.services and catalog.validation.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import Max
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.choices import ResourceType, SettingType
from catalog.models import BATCH_MAX_COUNT_LIMIT, TIMEOUT_MS_MAX, TIMEOUT_MS_MIN
from functions_platform.api.schema import StrictSerializer
from workspaces.permissions import can_admin_function

PREFIXES = ("sfnc_", "dfn_", "ifnd_", "ifns_")


def catalog_id(public_id: str) -> str:
    """The function id without its type prefix (Segment's catalogId / insert classId)."""
    for prefix in PREFIXES:
        if public_id.startswith(prefix):
            return public_id[len(prefix) :]
    return public_id


class FunctionSettingSerializer(StrictSerializer):
    name = serializers.CharField(required=False, allow_blank=True)
    label = serializers.CharField()
    description = serializers.CharField(required=False, allow_blank=True, default="")
    type = serializers.ChoiceField(choices=SettingType.values, required=False, default=SettingType.STRING)
    required = serializers.BooleanField(required=False, default=False)
    sensitive = serializers.BooleanField(required=False, default=False)


class UpdateFunctionSerializer(StrictSerializer):
    """The editable fields (catalog.models.FUNCTION_EDITABLE_FIELDS) and settings, all optional."""

    code = serializers.CharField(required=False, trim_whitespace=False)
    displayName = serializers.CharField(required=False, max_length=120)
    settings = FunctionSettingSerializer(many=True, required=False)
    logoUrl = serializers.URLField(required=False, allow_blank=True, max_length=500)
    description = serializers.CharField(required=False, allow_blank=True)
    batchMaxCount = serializers.IntegerField(required=False, min_value=1, max_value=BATCH_MAX_COUNT_LIMIT)
    timeoutMs = serializers.IntegerField(required=False, min_value=TIMEOUT_MS_MIN, max_value=TIMEOUT_MS_MAX)


class CreateFunctionSerializer(UpdateFunctionSerializer):
    """A new function: its type, and the editable fields with code and displayName required."""

    REQUIRED = ("code", "displayName")

    resourceType = serializers.ChoiceField(choices=ResourceType.values)

    def get_fields(self):
        fields = super().get_fields()
        for name in self.REQUIRED:
            fields[name].required = True
        return fields


class ListFunctionItemSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id")
    workspaceId = serializers.CharField(source="workspace.slug")
    resourceType = serializers.CharField(source="resource_type")
    displayName = serializers.CharField(source="display_name")
    description = serializers.CharField()
    logoUrl = serializers.CharField(source="logo_url")
    catalogId = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at")
    createdBy = serializers.SerializerMethodField()

    @extend_schema_field(OpenApiTypes.STR)
    def get_catalogId(self, function) -> str:
        return catalog_id(function.public_id)

    @extend_schema_field({"type": "string", "nullable": True})
    def get_createdBy(self, function):
        return function.created_by.username if function.created_by_id else None


class FunctionSerializer(ListFunctionItemSerializer):
    code = serializers.CharField()
    settings = serializers.SerializerMethodField()
    deployedAt = serializers.SerializerMethodField()
    isLatestVersion = serializers.SerializerMethodField()
    previewWebhookUrl = serializers.SerializerMethodField()
    batchMaxCount = serializers.IntegerField(source="batch_max_count")
    timeoutMs = serializers.IntegerField(source="timeout_ms")
    buildpack = serializers.SerializerMethodField()

    @extend_schema_field(FunctionSettingSerializer(many=True))
    def get_settings(self, function):
        return [definition.as_schema() for definition in function.setting_defs.all()]

    @extend_schema_field({"type": "string", "format": "date-time", "nullable": True})
    def get_deployedAt(self, function):
        value = function.instances.aggregate(last=Max("deployed_at"))["last"]
        return serializers.DateTimeField().to_representation(value) if value else None

    @extend_schema_field(OpenApiTypes.STR)
    def get_previewWebhookUrl(self, function) -> str:
        # The test webhook runs the function's code with its owner's settings: a credential,
        # shown (as in the admin) only to those who may edit the function; "" to readers.
        user = self.context.get("user")
        return function.preview_webhook_url if user and can_admin_function(user, function) else ""

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_isLatestVersion(self, function) -> bool:
        # Segment: whether what is deployed is the latest version (true when nothing runs an older one).
        return not function.instances.exclude(deployed_version_id=function.latest_version_id).exists()

    @extend_schema_field(OpenApiTypes.STR)
    def get_buildpack(self, function) -> str:
        return "boreal"


class VersionSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id")
    number = serializers.IntegerField()
    code = serializers.CharField()
    author = serializers.SerializerMethodField()
    isDeployed = serializers.SerializerMethodField()
    isLatest = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="created_at")
    deployedAt = serializers.SerializerMethodField()
    restoredFrom = serializers.SerializerMethodField()

    @extend_schema_field({"type": "string", "nullable": True})
    def get_author(self, version):
        return version.author.username if version.author_id else None

    def _deployed_at(self, version):
        return version.function.instances.filter(deployed_version=version).aggregate(last=Max("deployed_at"))[
            "last"
        ]

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_isDeployed(self, version) -> bool:
        return self._deployed_at(version) is not None

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_isLatest(self, version) -> bool:
        return version.function.latest_version_id == version.pk

    @extend_schema_field({"type": "string", "format": "date-time", "nullable": True})
    def get_deployedAt(self, version):
        value = self._deployed_at(version)
        return serializers.DateTimeField().to_representation(value) if value else None

    @extend_schema_field({"type": "string", "nullable": True})
    def get_restoredFrom(self, version):
        return version.restored_from.public_id if version.restored_from_id else None


class RestoreVersionSerializer(StrictSerializer):
    versionId = serializers.CharField()


CANARY_PERCENT = "Choose a percentage from 1 to 50."  # the canary services' range and message


class DeployCanarySerializer(StrictSerializer):
    percent = serializers.IntegerField(
        min_value=1,
        max_value=50,
        error_messages={"min_value": CANARY_PERCENT, "max_value": CANARY_PERCENT},
        help_text="Share of each instance's events (by messageId) the new version takes, 1 to 50.",
    )
    durationSeconds = serializers.IntegerField(
        required=False,
        min_value=60,
        max_value=settings.CANARY_MAX_DURATION_S,
        help_text="How long the canary runs (give this or maxEvents).",
    )
    maxEvents = serializers.IntegerField(
        required=False,
        min_value=50,
        max_value=10_000_000,
        help_text="Events after which the canary ends (give this or durationSeconds).",
    )


class DeploySerializer(StrictSerializer):
    instanceIds = serializers.ListField(child=serializers.CharField(), required=False, allow_empty=False)
    canary = DeployCanarySerializer(
        required=False,
        help_text="Deploy as a canary (destination functions): the new version takes a share of the "
        "events and is rolled back automatically if it fails more (docs/safe-change.md).",
    )
    overrideTestCases = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Deploy although saved test cases fail (Workspace Owners only; audited).",
    )


class PreviewSerializer(StrictSerializer):
    payload = serializers.JSONField()
    settings = serializers.DictField(required=False, default=dict)
    code = serializers.CharField(required=False, trim_whitespace=False)


class AdHocPreviewSerializer(StrictSerializer):
    code = serializers.CharField(trim_whitespace=False)
    resourceType = serializers.ChoiceField(choices=ResourceType.values)
    payload = serializers.JSONField()
    settings = serializers.DictField(required=False, default=dict)


class PreviewResultSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["success", "error"])
    error = serializers.DictField(allow_null=True)
    returned = serializers.JSONField(allow_null=True)
    events = serializers.ListField(child=serializers.JSONField())
    objects = serializers.ListField(child=serializers.JSONField())
    logs = serializers.ListField(child=serializers.JSONField())
    requests = serializers.ListField(child=serializers.JSONField())
    durationMs = serializers.FloatField()
    cpuMs = serializers.FloatField()


class InstanceDeploymentSerializer(serializers.Serializer):
    instanceId = serializers.CharField()
    name = serializers.CharField()
    runningVersion = serializers.CharField(allow_null=True)
    deployedAt = serializers.DateTimeField(allow_null=True)
    deployment = serializers.DictField(allow_null=True)


class FunctionDeploymentSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["SUCCESS", "PENDING", "FAILED"])
    mode = serializers.ChoiceField(choices=["ALL", "CANARY"], required=False)
    versionId = serializers.CharField()
    instances = InstanceDeploymentSerializer(many=True)
    canaries = serializers.ListField(
        child=serializers.JSONField(), required=False, help_text="The canaries started (mode CANARY)."
    )
