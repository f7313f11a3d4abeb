"""Shapes of instances: Segment's InsertFunctionInstance and our source/destination instances.

Sensitive setting values are write-only: they come back masked, never in clear.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.api.serializers import catalog_id
from catalog.choices import ResourceType
from functions_platform.api.schema import StrictSerializer
from runtime.models import Deployment, FunctionInstance
from runtime.services import instance_settings_shown
from workspaces import permissions


def integration_id(instance: FunctionInstance) -> str:
    """Segment's integrationId: the destination instance for destination inserts, else the source."""
    if instance.destination_id:
        return instance.destination.public_id
    return instance.source.public_id


class CreateInsertInstanceSerializer(StrictSerializer):
    functionId = serializers.CharField()
    integrationId = serializers.CharField()
    name = serializers.CharField(max_length=200)
    settings = serializers.DictField()
    enabled = serializers.BooleanField(required=False, default=True)


class UpdateInsertInstanceSerializer(StrictSerializer):
    name = serializers.CharField(required=False, max_length=200)
    enabled = serializers.BooleanField(required=False)
    settings = serializers.DictField(required=False)


class InsertInstanceSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id")
    name = serializers.CharField()
    integrationId = serializers.SerializerMethodField()
    classId = serializers.SerializerMethodField()
    enabled = serializers.BooleanField()
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")
    settings = serializers.SerializerMethodField()
    encryptedSettings = serializers.SerializerMethodField()

    @extend_schema_field(OpenApiTypes.STR)
    def get_integrationId(self, instance) -> str:
        return integration_id(instance)

    @extend_schema_field(OpenApiTypes.STR)
    def get_classId(self, instance) -> str:
        return catalog_id(instance.function.public_id)

    @extend_schema_field({"type": "object", "additionalProperties": {"type": "string"}})
    def get_encryptedSettings(self, instance) -> dict:
        return instance_settings_shown(instance)[1]

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_settings(self, instance) -> dict:
        return instance_settings_shown(instance)[0]


class CreateInstanceSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    enabled = serializers.BooleanField(required=False, default=True)
    settings = serializers.DictField(required=False, default=dict)
    sourceId = serializers.CharField(required=False)
    destinationId = serializers.CharField(required=False)


class UpdateInstanceSerializer(StrictSerializer):
    name = serializers.CharField(required=False, max_length=200)
    enabled = serializers.BooleanField(required=False)
    settings = serializers.DictField(required=False)


class DeploymentSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    versionId = serializers.CharField(source="version.public_id")
    status = serializers.CharField()
    error = serializers.CharField()
    createdAt = serializers.DateTimeField(source="created_at")
    finishedAt = serializers.DateTimeField(source="finished_at", allow_null=True)


class InstanceSerializer(serializers.Serializer):
    """`context["user"]` decides whether the webhook URL is shown."""

    id = serializers.CharField(source="public_id")
    functionId = serializers.CharField(source="function.public_id")
    resourceType = serializers.CharField(source="function.resource_type")
    name = serializers.CharField()
    enabled = serializers.BooleanField()
    sourceId = serializers.CharField(source="source.public_id")
    destinationId = serializers.SerializerMethodField()
    webhookUrl = serializers.SerializerMethodField()
    settings = serializers.SerializerMethodField()
    deployedVersionId = serializers.SerializerMethodField()
    deployedAt = serializers.DateTimeField(source="deployed_at", allow_null=True)
    previousVersionId = serializers.SerializerMethodField()
    isLatestVersion = serializers.SerializerMethodField()
    deployment = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")

    @extend_schema_field({"type": "string", "nullable": True})
    def get_destinationId(self, instance):
        return instance.destination.public_id if instance.destination_id else None

    @extend_schema_field({"type": "string", "nullable": True})
    def get_webhookUrl(self, instance):
        # Only a source function's instance receives webhooks; the URL is a credential, shown
        # (like the write key) only to whoever may manage the source.
        if instance.function.resource_type != ResourceType.SOURCE:
            return None
        if not permissions.can_admin_source(self.context["user"], instance.source):
            return None
        return instance.source.webhook_url

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_settings(self, instance) -> dict:
        plain, masked = instance_settings_shown(instance)
        return {**plain, **masked}

    @extend_schema_field({"type": "string", "nullable": True})
    def get_deployedVersionId(self, instance):
        return instance.deployed_version.public_id if instance.deployed_version_id else None

    @extend_schema_field({"type": "string", "nullable": True})
    def get_previousVersionId(self, instance):
        # What POST /function-instances/{id}/rollback deploys (null: nothing to roll back to).
        return instance.previous_version.public_id if instance.previous_version_id else None

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_isLatestVersion(self, instance) -> bool:
        return instance.deployed_version_id == instance.function.latest_version_id

    @extend_schema_field(DeploymentSerializer(allow_null=True))
    def get_deployment(self, instance):
        latest = Deployment.objects.filter(instance=instance).select_related("version").first()
        return DeploymentSerializer(latest).data if latest else None


class ErrorLogSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    category = serializers.CharField()
    type = serializers.CharField(source="error_type")
    message = serializers.CharField()
    stack = serializers.CharField()
    input = serializers.JSONField()
    logs = serializers.JSONField()
    requests = serializers.JSONField()
    attempts = serializers.IntegerField()
    versionId = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at")

    @extend_schema_field({"type": "string", "nullable": True})
    def get_versionId(self, log):
        return log.version.public_id if log.version_id else None


class IngestDropSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    code = serializers.CharField()
    message = serializers.CharField()
    event = serializers.JSONField()
    createdAt = serializers.DateTimeField(source="created_at")


class DeliveryCountsSerializer(serializers.Serializer):
    delivered = serializers.IntegerField()
    retried = serializers.IntegerField()
    failed = serializers.IntegerField()
    filtered = serializers.IntegerField()
    unsupported = serializers.IntegerField()
    rejected = serializers.IntegerField()
    p95LatencyMs = serializers.FloatField(allow_null=True)


class DeliveryPointSerializer(DeliveryCountsSerializer):
    bucket = serializers.DateTimeField()


class MetricsSerializer(DeliveryCountsSerializer):
    instanceId = serializers.CharField()
    since = serializers.DateTimeField()
    series = DeliveryPointSerializer(many=True)
    errorsByCategory = serializers.DictField(child=serializers.IntegerField())
    errorsTotal = serializers.IntegerField()
