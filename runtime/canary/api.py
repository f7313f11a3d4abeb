"""API of canary deploys: /api/function-instances/{id}/canary (+ /promote, /abort)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers

from catalog.models import FunctionVersion
from catalog.selectors import version_get
from functions_platform.api.exceptions import UnprocessableEntity
from functions_platform.api.schema import StrictSerializer, envelope, responses
from runtime.api.views import InstanceScopedView
from workspaces import permissions

from . import selectors, services
from .choices import CanaryStatus

CanaryEnvelope = envelope("Canary", canary=serializers.JSONField(allow_null=True))
DEPLOY_NEEDS = (
    "Canary deploys need Functions Admin on the function and Source Admin on the instance's source."
)


class RulesSerializer(StrictSerializer):
    minEvents = serializers.IntegerField(min_value=10, max_value=100_000, required=False)
    errorPoints = serializers.FloatField(min_value=0, max_value=100, required=False)
    errorRatio = serializers.FloatField(min_value=1, max_value=100, required=False)
    latencyRatio = serializers.FloatField(min_value=1, max_value=100, required=False)


class CanaryStartSerializer(StrictSerializer):
    versionId = serializers.CharField(required=False, help_text="Default: the function's LATEST version.")
    percent = serializers.IntegerField(min_value=services.PERCENT_MIN, max_value=services.PERCENT_MAX)
    durationSeconds = serializers.IntegerField(required=False, min_value=60)
    maxEvents = serializers.IntegerField(required=False, min_value=50)
    rules = RulesSerializer(required=False)


def rules_from(data: dict | None) -> services.Rules:
    base = services.default_rules()
    data = data or {}
    return services.Rules(
        min_events=data.get("minEvents", base.min_events),
        error_points=data.get("errorPoints", base.error_points),
        error_ratio=data.get("errorRatio", base.error_ratio),
        latency_ratio=data.get("latencyRatio", base.latency_ratio),
    )


class InstanceCanaryView(InstanceScopedView):
    @extend_schema(operation_id="getFunctionInstanceCanary", responses=responses(CanaryEnvelope))
    def get(self, request, instance_id):
        instance = self.instance(instance_id)
        return self.respond({"canary": selectors.canary_panel(instance=instance)})

    @extend_schema(
        operation_id="startFunctionInstanceCanary",
        request=CanaryStartSerializer,
        responses=responses(CanaryEnvelope),
    )
    def post(self, request, instance_id):
        instance = self.instance(instance_id)
        self.require(permissions.can_deploy(self.user, instance.function, [instance]), DEPLOY_NEEDS)
        data = self.input(CanaryStartSerializer)
        version = instance.function.latest_version
        if data.get("versionId"):
            try:
                version = version_get(function=instance.function, version_id=data["versionId"])
            except (FunctionVersion.DoesNotExist, ValueError, OverflowError):
                raise UnprocessableEntity({"versionId": ["No such version of this function."]}) from None
        canary = services.canary_start(
            instance=instance,
            version=version,
            percent=data["percent"],
            duration_s=data.get("durationSeconds"),
            max_events=data.get("maxEvents"),
            rules=rules_from(data.get("rules")),
            requested_by=self.user,
        )
        return self.respond({"canary": selectors.canary_out(canary)})


class CanaryDecisionView(InstanceScopedView):
    decision = ""

    @extend_schema(request=None, responses=responses(CanaryEnvelope))
    def post(self, request, instance_id):
        instance = self.instance(instance_id)
        self.require(permissions.can_deploy(self.user, instance.function, [instance]), DEPLOY_NEEDS)
        canary = selectors.canaries_of(instance=instance).filter(status=CanaryStatus.ACTIVE).first()
        if canary is None:
            raise UnprocessableEntity({"canary": ["This instance has no active canary."]})
        decide = services.canary_promote if self.decision == "promote" else services.canary_abort
        canary = decide(canary=canary, decided_by=self.user)
        return self.respond({"canary": selectors.canary_out(canary)})


class CanaryPromoteView(CanaryDecisionView):
    decision = "promote"

    @extend_schema(
        operation_id="promoteFunctionInstanceCanary", request=None, responses=responses(CanaryEnvelope)
    )
    def post(self, request, instance_id):
        return super().post(request, instance_id)


class CanaryAbortView(CanaryDecisionView):
    decision = "abort"

    @extend_schema(
        operation_id="abortFunctionInstanceCanary", request=None, responses=responses(CanaryEnvelope)
    )
    def post(self, request, instance_id):
        return super().post(request, instance_id)
