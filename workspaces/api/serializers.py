"""Shapes of sources; the write key only for whoever may manage the source."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from functions_platform.api.schema import StrictSerializer
from workspaces import permissions
from workspaces.choices import SourceKind


class CreateSourceSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=SourceKind.values, required=False, default=SourceKind.TRACKING_API)
    enabled = serializers.BooleanField(required=False, default=True)


class UpdateSourceSerializer(StrictSerializer):
    name = serializers.CharField(required=False, max_length=200)
    enabled = serializers.BooleanField(required=False)


class ConnectedInstanceSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id")
    functionId = serializers.CharField(source="function.public_id")
    resourceType = serializers.CharField(source="function.resource_type")
    name = serializers.CharField()
    enabled = serializers.BooleanField()


class SourceSerializer(serializers.Serializer):
    """`context["user"]` decides whether the write key is shown."""

    id = serializers.CharField(source="public_id")
    workspaceId = serializers.CharField(source="workspace.slug")
    name = serializers.CharField()
    kind = serializers.CharField()
    enabled = serializers.BooleanField()
    writeKey = serializers.SerializerMethodField()
    webhookUrl = serializers.SerializerMethodField()
    instances = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")

    @extend_schema_field({"type": "string", "nullable": True})
    def get_writeKey(self, source):
        if permissions.can_admin_source(self.context["user"], source):
            return source.write_key
        return None

    @extend_schema_field({"type": "string", "nullable": True})
    def get_webhookUrl(self, source):
        if permissions.can_admin_source(self.context["user"], source):
            return source.webhook_url
        return None

    @extend_schema_field(ConnectedInstanceSerializer(many=True))
    def get_instances(self, source):
        instances = source.instances.select_related("function").order_by("created_at", "pk")
        return ConnectedInstanceSerializer(instances, many=True).data
