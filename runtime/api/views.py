"""Segment Public API insert-function instances, plus our source/destination instances,
their error logs and delivery figures."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count
from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema

from catalog.choices import INSERT_TYPES, ResourceType
from functions_platform.api.exceptions import UnprocessableEntity
from functions_platform.api.pagination import paginate
from functions_platform.api.schema import (
    PAGINATION_PARAMETERS,
    PaginationSerializer,
    envelope,
    page_envelope,
    responses,
)
from functions_platform.api.views import ApiView
from runtime import selectors, services
from runtime.models import FunctionInstance
from runtime.pipeline.records import COUNTERS
from workspaces import permissions

from . import serializers as s

INSERT_PREFIXES = ("ifnd_", "ifns_")
METRICS_WINDOW = timedelta(days=7)

InsertEnvelope = envelope("InsertFunctionInstance", insertFunctionInstance=s.InsertInstanceSerializer())
InsertListEnvelope = page_envelope("InsertFunctionInstanceList", "instances", s.InsertInstanceSerializer)
InstanceEnvelope = envelope("FunctionInstance", instance=s.InstanceSerializer())
InstanceListEnvelope = page_envelope("FunctionInstanceList", "instances", s.InstanceSerializer)
StatusEnvelope = envelope("InstanceDeleteStatus", status=s.serializers.CharField())
ErrorLogListEnvelope = page_envelope("ErrorLogList", "errorLogs", s.ErrorLogSerializer)
MetricsEnvelope = envelope("InstanceMetrics", metrics=s.MetricsSerializer())
RollbackEnvelope = envelope(
    "InstanceRollback", deployment=s.DeploymentSerializer(), instance=s.InstanceSerializer()
)
DropListEnvelope = envelope(
    "SourceDropList",
    drops=s.IngestDropSerializer(many=True),
    counts=s.serializers.DictField(child=s.serializers.IntegerField()),
    pagination=PaginationSerializer(),
)

RELATED = (
    "function__workspace",
    "function__latest_version",  # its sensitive flags decide what settings are masked
    "source",
    "destination",
    "deployed_version",
    "previous_version",
)


class InstanceScopedView(ApiView):
    """Lookups of functions, sources and instances limited to what the caller may see."""

    def instances(self):
        visible = permissions.instances_visible(self.user).filter(function__workspace=self.workspace)
        return visible.select_related(*RELATED)

    def instance(self, instance_id: str, insert: bool | None = None) -> FunctionInstance:
        queryset = self.instances()
        if insert is True:
            queryset = queryset.filter(function__resource_type__in=INSERT_TYPES)
        elif insert is False:
            queryset = queryset.exclude(function__resource_type__in=INSERT_TYPES)
        return self.get_in_scope(queryset, public_id=instance_id)

    def function(self, function_id: str, types=None):
        queryset = permissions.functions_visible(self.user).filter(workspace=self.workspace)
        if types:
            queryset = queryset.filter(resource_type__in=types)
        return self.get_in_scope(queryset, public_id=function_id)

    def source(self, source_id: str):
        visible = permissions.sources_visible(self.user).filter(workspace=self.workspace)
        return self.get_in_scope(visible, public_id=source_id)

    def configurable(self, instance: FunctionInstance) -> FunctionInstance:
        self.require(
            permissions.can_configure_instance(self.user, instance),
            "Configuring an instance needs Source Admin on its source.",
        )
        return instance


def _insert_function_ids(function_id: str) -> list[str]:
    """Segment wants insert function ids without their ifnd_/ifns_ prefix; accept both."""
    if function_id.startswith(INSERT_PREFIXES):
        return [function_id]
    return [prefix + function_id for prefix in INSERT_PREFIXES]


def insert_out(instance) -> dict:
    return s.InsertInstanceSerializer(instance).data


def instance_out(instance, user) -> dict:
    return s.InstanceSerializer(instance, context={"user": user}).data


class InsertInstanceListView(InstanceScopedView):
    @extend_schema(
        operation_id="listInsertFunctionInstances",
        parameters=[
            OpenApiParameter("functionId", str, required=True, description="With or without ifnd_/ifns_."),
            *PAGINATION_PARAMETERS,
        ],
        responses=responses(InsertListEnvelope),
    )
    def get(self, request):
        function_id = request.query_params.get("functionId")
        if not function_id:
            raise UnprocessableEntity({"functionId": ["This parameter is required."]})
        function = self._insert_function(function_id)
        queryset = self.instances().filter(function=function).order_by("created_at", "pk")
        return self.respond_page("instances", queryset, insert_out)

    @extend_schema(
        operation_id="createInsertFunctionInstance",
        request=s.CreateInsertInstanceSerializer,
        responses=responses(InsertEnvelope),
    )
    def post(self, request):
        data = self.input(s.CreateInsertInstanceSerializer)
        function = self._insert_function(data["functionId"])
        source, destination = self._integration(function, data["integrationId"])
        self.require(permissions.can_connect(self.user, function, source))
        instance = services.instance_create(
            function=function,
            name=data["name"],
            source=source if destination is None else None,
            destination=destination,
            settings=data["settings"],
            enabled=data["enabled"],
            created_by=self.user,
        )
        return self.respond({"insertFunctionInstance": insert_out(instance)})

    def _insert_function(self, function_id: str):
        queryset = permissions.functions_visible(self.user).filter(
            workspace=self.workspace, resource_type__in=INSERT_TYPES
        )
        function = queryset.filter(public_id__in=_insert_function_ids(function_id)).first()
        if function is None:
            raise Http404
        return function

    def _integration(self, function, integration_id: str):
        """(source, destination instance) the insert function is connected to."""
        if function.resource_type == ResourceType.INSERT_SOURCE:
            return self.source(integration_id), None
        destination = self.get_in_scope(
            self.instances().filter(function__resource_type=ResourceType.DESTINATION),
            public_id=integration_id,
        )
        return destination.source, destination


class InsertInstanceDetailView(InstanceScopedView):
    @extend_schema(operation_id="getInsertFunctionInstance", responses=responses(InsertEnvelope))
    def get(self, request, instance_id):
        return self.respond({"insertFunctionInstance": insert_out(self.instance(instance_id, insert=True))})

    @extend_schema(
        operation_id="updateInsertFunctionInstance",
        request=s.UpdateInsertInstanceSerializer,
        responses=responses(InsertEnvelope),
    )
    def patch(self, request, instance_id):
        instance = self.configurable(self.instance(instance_id, insert=True))
        data = self.input(s.UpdateInsertInstanceSerializer)
        instance = services.instance_update(instance=instance, actor=self.user, **data)
        return self.respond({"insertFunctionInstance": insert_out(instance)})

    @extend_schema(operation_id="deleteInsertFunctionInstance", responses=responses(StatusEnvelope))
    def delete(self, request, instance_id):
        instance = self.configurable(self.instance(instance_id, insert=True))
        services.instance_delete(instance=instance, actor=self.user)
        return self.respond({"status": "SUCCESS"})


class FunctionInstanceListView(InstanceScopedView):
    @extend_schema(
        operation_id="listFunctionInstances",
        parameters=PAGINATION_PARAMETERS,
        responses=responses(InstanceListEnvelope),
    )
    def get(self, request, function_id):
        function = self.function(function_id)
        queryset = self.instances().filter(function=function).order_by("created_at", "pk")
        return self.respond_page("instances", queryset, lambda item: instance_out(item, self.user))

    @extend_schema(
        operation_id="createFunctionInstance",
        request=s.CreateInstanceSerializer,
        responses=responses(InstanceEnvelope),
    )
    def post(self, request, function_id):
        function = self.function(function_id)
        data = self.input(s.CreateInstanceSerializer)
        source, destination = self._target(function, data)
        instance = services.instance_create(
            function=function,
            name=data["name"],
            source=source,
            destination=destination,
            settings=data["settings"],
            enabled=data["enabled"],
            created_by=self.user,
        )
        return self.respond({"instance": instance_out(instance, self.user)})

    def _target(self, function, data):
        """Where the instance connects, after the permission check for connecting there."""
        if function.resource_type == ResourceType.SOURCE:
            # A source function's instance creates its own source.
            self.require(
                permissions.can_admin_function(self.user, function)
                and permissions.can_create_source(self.user, self.workspace)
            )
            return None, None
        if function.resource_type == ResourceType.INSERT_DESTINATION:
            if not data.get("destinationId"):
                raise UnprocessableEntity({"destinationId": ["Required for destination insert functions."]})
            destination = self.get_in_scope(
                self.instances().filter(function__resource_type=ResourceType.DESTINATION),
                public_id=data["destinationId"],
            )
            self.require(permissions.can_connect(self.user, function, destination.source))
            return None, destination
        if not data.get("sourceId"):
            raise UnprocessableEntity({"sourceId": ["Choose the source this function receives events from."]})
        source = self.source(data["sourceId"])
        self.require(permissions.can_connect(self.user, function, source))
        return source, None


class FunctionInstanceDetailView(InstanceScopedView):
    @extend_schema(operation_id="getFunctionInstance", responses=responses(InstanceEnvelope))
    def get(self, request, instance_id):
        return self.respond({"instance": instance_out(self.instance(instance_id), self.user)})

    @extend_schema(
        operation_id="updateFunctionInstance",
        request=s.UpdateInstanceSerializer,
        responses=responses(InstanceEnvelope),
    )
    def patch(self, request, instance_id):
        instance = self.configurable(self.instance(instance_id))
        data = self.input(s.UpdateInstanceSerializer)
        instance = services.instance_update(instance=instance, actor=self.user, **data)
        return self.respond({"instance": instance_out(instance, self.user)})

    @extend_schema(operation_id="deleteFunctionInstance", responses=responses(StatusEnvelope))
    def delete(self, request, instance_id):
        instance = self.configurable(self.instance(instance_id))
        services.instance_delete(instance=instance, actor=self.user)
        return self.respond({"status": "SUCCESS"})


class InstanceRollbackView(InstanceScopedView):
    """Roll an instance back to the version it ran before (like a deploy: checked, then switched)."""

    @extend_schema(
        operation_id="rollbackFunctionInstance", request=None, responses=responses(RollbackEnvelope)
    )
    def post(self, request, instance_id):
        instance = self.instance(instance_id)
        self.require(
            permissions.can_rollback(self.user, instance),
            "Rolling back needs Functions Admin on the function and Source Admin on the instance's source.",
        )
        deployment = services.instance_rollback(instance=instance, requested_by=self.user)
        # Re-read: with eager Celery the deployment has already run by now.
        deployment = selectors.deployments_for_function(function=instance.function).get(pk=deployment.pk)
        instance = self.instance(instance_id)
        return self.respond(
            {
                "deployment": s.DeploymentSerializer(deployment).data,
                "instance": instance_out(instance, self.user),
            }
        )


class InstanceErrorsView(InstanceScopedView):
    @extend_schema(
        operation_id="listFunctionInstanceErrors",
        parameters=PAGINATION_PARAMETERS,
        responses=responses(ErrorLogListEnvelope),
    )
    def get(self, request, instance_id):
        instance = self.instance(instance_id)
        queryset = selectors.error_logs_for(instance=instance).select_related("version")
        return self.respond_page("errorLogs", queryset, lambda log: s.ErrorLogSerializer(log).data)


class InstanceMetricsView(InstanceScopedView):
    @extend_schema(operation_id="getFunctionInstanceMetrics", responses=responses(MetricsEnvelope))
    def get(self, request, instance_id):
        instance = self.instance(instance_id)
        return self.respond({"metrics": instance_metrics(instance)})


class SourceDropsView(InstanceScopedView):
    """Messages of a Tracking API source dropped at ingest: the kept ones and counts per code."""

    @extend_schema(
        operation_id="listSourceDrops",
        parameters=PAGINATION_PARAMETERS,
        responses=responses(DropListEnvelope),
    )
    def get(self, request, source_id):
        source = self.source(source_id)
        items, pagination = paginate(request, selectors.source_drops_recent(source=source))
        counts = selectors.source_drop_counts(source=source, since=timezone.now() - METRICS_WINDOW)
        return self.respond(
            {
                "drops": [s.IngestDropSerializer(drop).data for drop in items],
                "counts": counts,
                "pagination": pagination,
            }
        )


def instance_metrics(instance: FunctionInstance) -> dict:
    """Delivery figures over the last 7 days (the pipeline's counters) plus error-log counts."""
    since = timezone.now() - METRICS_WINDOW
    summary = selectors.delivery_summary(instance=instance, since=since)
    errors = (
        selectors.error_logs_for(instance=instance)
        .filter(created_at__gte=since)
        .order_by()
        .values("category")
        .annotate(n=Count("pk"))
    )
    by_category = {row["category"]: row["n"] for row in errors}
    series = selectors.delivery_series(instance=instance, since=since)
    return {
        "instanceId": instance.public_id,
        "since": since,
        **{name: summary[name] for name in COUNTERS},
        "p95LatencyMs": _finite(summary["p95_ms"]),
        "series": [
            {
                **{name: point[name] for name in ("bucket", *COUNTERS)},
                "p95LatencyMs": _finite(point["p95_ms"]),
            }
            for point in series
        ],
        "errorsByCategory": by_category,
        "errorsTotal": sum(by_category.values()),
    }


def _finite(value: float | None) -> float | None:
    # JSON has no infinity: "slower than the largest histogram bound" is reported as null.
    return None if value is None or value == float("inf") else value
