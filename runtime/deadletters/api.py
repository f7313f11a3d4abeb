"""API: /api/function-instances/{id}/dead-letters (list, filters), .../replay, .../replays.

Readable by whoever may read the instance (like its error log); replaying needs what
deploying to it needs (Functions Admin on the function, Source Admin on its source).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers

from functions_platform.api.schema import PAGINATION_PARAMETERS, envelope, page_envelope, responses
from runtime.api.views import InstanceScopedView
from workspaces import permissions

from . import selectors, services


class DeadLetterSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    messageId = serializers.CharField(source="message_id")
    stage = serializers.CharField()
    event = serializers.JSONField()
    category = serializers.CharField()
    errorType = serializers.CharField(source="error_type")
    errorMessage = serializers.CharField(source="error_message")
    attempts = serializers.IntegerField()
    versionId = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at")

    def get_versionId(self, row) -> str | None:
        return row.version.public_id if row.version_id else None


class ReplaySerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    status = serializers.CharField()
    filters = serializers.JSONField()
    total = serializers.IntegerField()
    processed = serializers.IntegerField()
    delivered = serializers.IntegerField()
    failed = serializers.IntegerField()
    retrying = serializers.IntegerField()
    filtered = serializers.IntegerField()
    error = serializers.CharField()
    versionId = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at")
    finishedAt = serializers.DateTimeField(source="finished_at", allow_null=True)

    def get_versionId(self, replay) -> str | None:
        return replay.version.public_id if replay.version_id else None


class ReplayRequestSerializer(serializers.Serializer):
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)
    category = serializers.CharField(required=False, allow_blank=True)
    versionId = serializers.CharField(required=False, allow_blank=True)


FILTER_PARAMETERS = [
    OpenApiParameter("since", str, description="ISO 8601 date-time: kept at or after."),
    OpenApiParameter("until", str, description="ISO 8601 date-time: kept before."),
    OpenApiParameter(
        "category", str, description="Error category, e.g. bad_request, retry, gateway_timeout."
    ),
    OpenApiParameter("versionId", str, description="The function version that failed."),
]
DeadLetterListEnvelope = page_envelope("DeadLetterList", "deadLetters", DeadLetterSerializer)
ReplayEnvelope = envelope("DeadLetterReplay", replay=ReplaySerializer())
ReplayListEnvelope = page_envelope("DeadLetterReplayList", "replays", ReplaySerializer)


class DeadLetterListView(InstanceScopedView):
    @extend_schema(
        operation_id="listFunctionInstanceDeadLetters",
        parameters=[*FILTER_PARAMETERS, *PAGINATION_PARAMETERS],
        responses=responses(DeadLetterListEnvelope),
    )
    def get(self, request, instance_id):
        instance = self.instance(instance_id)
        raw = {k: v for k, v in request.query_params.items() if k in selectors.FILTER_NAMES}
        filters = selectors.dead_letter_filters_parse(instance=instance, raw=raw)
        queryset = selectors.dead_letters_for(instance=instance, **filters)
        return self.respond_page("deadLetters", queryset, lambda row: DeadLetterSerializer(row).data)


class DeadLetterReplayView(InstanceScopedView):
    @extend_schema(
        operation_id="replayFunctionInstanceDeadLetters",
        request=ReplayRequestSerializer,
        responses=responses(ReplayEnvelope, status=202),
    )
    def post(self, request, instance_id):
        instance = self.instance(instance_id)
        self.require(
            permissions.can_replay_dead_letters(self.user, instance),
            "Replaying needs Functions Admin on the function and Source Admin on the instance's source.",
        )
        if not isinstance(request.data, dict):
            raise ValidationError({"body": "A JSON object of filters (or {} for all)."})
        raw = {k: v for k, v in request.data.items() if v not in (None, "")}
        filters = selectors.dead_letter_filters_parse(instance=instance, raw=raw)
        replay = services.dead_letters_replay_request(
            instance=instance, requested_by=self.user, filters=filters
        )
        replay.refresh_from_db()  # embedded mode ran it already
        return self.respond({"replay": ReplaySerializer(replay).data}, status=202)


class DeadLetterReplayListView(InstanceScopedView):
    @extend_schema(
        operation_id="listFunctionInstanceDeadLetterReplays",
        parameters=PAGINATION_PARAMETERS,
        responses=responses(ReplayListEnvelope),
    )
    def get(self, request, instance_id):
        instance = self.instance(instance_id)
        queryset = selectors.replays_for(instance=instance)
        return self.respond_page("replays", queryset, lambda replay: ReplaySerializer(replay).data)


class DeadLetterReplayDetailView(InstanceScopedView):
    @extend_schema(operation_id="getFunctionInstanceDeadLetterReplay", responses=responses(ReplayEnvelope))
    def get(self, request, instance_id, replay_id):
        instance = self.instance(instance_id)
        replay = selectors.replays_for(instance=instance).filter(pk=replay_id).first()
        if replay is None:
            raise Http404
        return self.respond({"replay": ReplaySerializer(replay).data})
