"""Sources: Tracking API write keys and source functions' webhooks."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema

from functions_platform.api.exceptions import UnprocessableEntity
from functions_platform.api.schema import PAGINATION_PARAMETERS, envelope, page_envelope, responses
from functions_platform.api.views import ApiView
from workspaces import permissions, services
from workspaces.choices import SourceKind

from . import serializers as s

SourceEnvelope = envelope("Source", source=s.SourceSerializer())
SourceListEnvelope = page_envelope("SourceList", "sources", s.SourceSerializer)
StatusEnvelope = envelope("SourceDeleteStatus", status=s.serializers.CharField())


class SourceViewBase(ApiView):
    def sources(self):
        visible = permissions.sources_visible(self.user).filter(workspace=self.workspace)
        return visible.select_related("workspace")

    def source_out(self, source) -> dict:
        return s.SourceSerializer(source, context={"user": self.user}).data

    def source_to_admin(self, source_id: str):
        source = self.get_in_scope(self.sources(), public_id=source_id)
        self.require(
            permissions.can_admin_source(self.user, source), "This needs Source Admin on the source."
        )
        return source


class SourceListView(SourceViewBase):
    @extend_schema(
        operation_id="listSources", parameters=PAGINATION_PARAMETERS, responses=responses(SourceListEnvelope)
    )
    def get(self, request):
        return self.respond_page("sources", self.sources().order_by("created_at", "pk"), self.source_out)

    @extend_schema(
        operation_id="createSource", request=s.CreateSourceSerializer, responses=responses(SourceEnvelope)
    )
    def post(self, request):
        self.require(permissions.can_create_source(self.user, self.workspace))
        data = self.input(s.CreateSourceSerializer)
        if data["kind"] == SourceKind.FUNCTION:
            # A FUNCTION source is the webhook of a source function's instance; it is made with it.
            raise UnprocessableEntity(
                {"kind": ["Source function sources are created by POST /functions/{id}/instances."]}
            )
        source = services.source_create(
            workspace=self.workspace,
            name=data["name"],
            kind=data["kind"],
            enabled=data["enabled"],
            actor=self.user,
        )
        return self.respond({"source": self.source_out(source)})


class SourceDetailView(SourceViewBase):
    @extend_schema(operation_id="getSource", responses=responses(SourceEnvelope))
    def get(self, request, source_id):
        return self.respond(
            {"source": self.source_out(self.get_in_scope(self.sources(), public_id=source_id))}
        )

    @extend_schema(
        operation_id="updateSource", request=s.UpdateSourceSerializer, responses=responses(SourceEnvelope)
    )
    def patch(self, request, source_id):
        source = self.source_to_admin(source_id)
        data = self.input(s.UpdateSourceSerializer)
        if data:
            source = services.source_update(source=source, actor=self.user, **data)
        return self.respond({"source": self.source_out(source)})

    @extend_schema(operation_id="deleteSource", responses=responses(StatusEnvelope))
    def delete(self, request, source_id):
        source = self.source_to_admin(source_id)
        services.source_delete(source=source, actor=self.user)
        return self.respond({"status": "SUCCESS"})
