"""API of dry-run replays: POST /api/functions/{id}/replays, GET .../replays/{replayId}."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers

from catalog.models import FunctionVersion
from catalog.selectors import version_get
from functions_platform.api.exceptions import UnprocessableEntity
from functions_platform.api.schema import StrictSerializer, envelope, responses
from runtime.api.views import InstanceScopedView
from workspaces import permissions

from . import selectors, services

ReplayEnvelope = envelope("Replay", replay=serializers.JSONField())
NEEDS = (
    "A replay runs code with the instances' settings: it needs Functions Admin on the function "
    "and Source Admin on the source of every instance it compares with."
)


class AnswerSerializer(StrictSerializer):
    urlPattern = serializers.CharField(max_length=2000)
    status = serializers.IntegerField(min_value=200, max_value=599, required=False, default=200)
    headers = serializers.DictField(child=serializers.CharField(), required=False)
    body = serializers.JSONField(required=False)


class ReplayStartSerializer(StrictSerializer):
    code = serializers.CharField(required=False, trim_whitespace=False, max_length=512 * 1024)
    versionId = serializers.CharField(required=False)
    count = serializers.IntegerField(min_value=1, required=False, default=100)
    instanceIds = serializers.ListField(child=serializers.CharField(), required=False, allow_empty=False)
    answers = AnswerSerializer(many=True, required=False)


class FunctionReplayListView(InstanceScopedView):
    @extend_schema(
        operation_id="replayFunction", request=ReplayStartSerializer, responses=responses(ReplayEnvelope, 202)
    )
    def post(self, request, function_id):
        function = self.function(function_id)
        data = self.input(ReplayStartSerializer)
        if "code" in data and "versionId" in data:
            raise UnprocessableEntity({"code": ["Give the draft as code or as versionId, not both."]})
        instances = services.replay_instances(function=function, instance_ids=data.get("instanceIds"))
        self.require(permissions.can_deploy(self.user, function, instances), NEEDS)
        run = services.replay_request(
            function=function,
            requested_by=self.user,
            code=data.get("code"),
            version=self._version(function, data.get("versionId")),
            limit=data["count"],
            instances=instances,
            answers=[dict(a) for a in data.get("answers", [])],
        )
        run.refresh_from_db()  # eager Celery: already carried out
        return self.respond({"replay": selectors.replay_out(run, results="none")}, status=202)

    def _version(self, function, version_id):
        if not version_id:
            return None
        try:
            return version_get(function=function, version_id=version_id)
        except (FunctionVersion.DoesNotExist, ValueError, OverflowError):
            raise UnprocessableEntity({"versionId": ["No such version of this function."]}) from None


class FunctionReplayDetailView(InstanceScopedView):
    @extend_schema(
        operation_id="getFunctionReplay",
        parameters=[OpenApiParameter("results", str, enum=["all", "different", "none"])],
        responses=responses(ReplayEnvelope),
    )
    def get(self, request, function_id, replay_id):
        function = self.function(function_id)
        run = self.get_in_scope(selectors.replays_of(function=function), public_id=replay_id)
        instances = services.replay_instances(function=function)
        self.require(permissions.can_deploy(self.user, function, instances), NEEDS)
        which = request.query_params.get("results", "all")
        if which not in ("all", "different", "none"):
            raise UnprocessableEntity({"results": ["One of all, different, none."]})
        return self.respond({"replay": selectors.replay_out(run, results=which)})
