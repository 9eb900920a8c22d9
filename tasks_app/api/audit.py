"""/api/audit: the log of what was done to your tasks, approvals, credits, credentials and webhooks.

Read only (entries are append-only); the entries whose owner is you, whoever acted (you from
the API or a page, an operator in the admin, a command, the agent engine). The full log is in the admin.
"""
# ruff: noqa: N815  (field names are the wire names)
from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from tasks_app import account_selectors

from .schema import errors, page_of
from .views import JSONAPIView, Pagination, user_of


class AuditEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    createdAt = serializers.DateTimeField(source="created_at")
    verb = serializers.CharField(help_text="task.created, task.executed, approval.decided, webhook.added …")
    actorKind = serializers.CharField(source="actor_kind", help_text="api, page, admin, command or agent")
    userId = serializers.IntegerField(source="user_id", allow_null=True, help_text="who acted (null: the engine)")
    username = serializers.CharField(allow_blank=True)
    address = serializers.CharField(allow_blank=True, help_text="the client's address, for a request")
    targetType = serializers.CharField(source="target_type", allow_blank=True)
    targetId = serializers.CharField(source="target_id", allow_blank=True)
    details = serializers.JSONField(help_text="what changed, secrets masked")


AuditPageSerializer = page_of(AuditEntrySerializer)


class AuditListView(JSONAPIView):
    @extend_schema(
        summary="Your audit log, newest first (filters: verb, targetType, targetId)",
        parameters=[OpenApiParameter("verb", str, required=False, description="e.g. task.cancelled, or task.* "),
                    OpenApiParameter("targetType", str, required=False),
                    OpenApiParameter("targetId", str, required=False),
                    OpenApiParameter("page", int, required=False), OpenApiParameter("pageSize", int, required=False)],
        responses={200: AuditPageSerializer, **errors(400, 404)},
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        rows = account_selectors.audit_entries_for_owner(
            owner_id=user_of(request).id, verb=params.get("verb", "")[:50],
            target_type=params.get("targetType", "")[:30], target_id=params.get("targetId", "")[:64])
        paginator = Pagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(AuditEntrySerializer(page or [], many=True).data)


urlpatterns = [path("audit", AuditListView.as_view(), name="audit-list")]
