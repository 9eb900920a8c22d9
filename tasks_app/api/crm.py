"""/api/crm/leads: the built-in CRM (`"output": "crm_database"`), one lead per email per user.

Each lead's `fields` hold every column, enrichment fields under their config names, and
`enrichment` each field's status; read through tasks_app.crm. Another user's lead is a 404.
"""
# ruff: noqa: N815  (field names are the wire names)
from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from tasks_app import account_selectors, crm
from tasks_app.agent_data import Lead

from .schema import errors, page_of
from .views import MAX_ID, JSONAPIView, Pagination, user_of, valid_id

ORDERING = {"email": "email", "-email": "-email", "updatedAt": "updated_at", "-updatedAt": "-updated_at",
            "createdAt": "created_at", "-createdAt": "-created_at"}


class LeadSerializer(serializers.Serializer):
    id = serializers.CharField()
    email = serializers.EmailField()
    fields = serializers.DictField(help_text="every column; enrichment fields under their config names")  # type: ignore[assignment]
    enrichment = serializers.DictField(child=serializers.CharField(),
                                       help_text="field -> matched, not_matched, unavailable or error")
    taskId = serializers.CharField(allow_null=True, help_text="the task that last wrote the lead")
    createdAt = serializers.CharField()
    updatedAt = serializers.CharField()


LeadPageSerializer = page_of(LeadSerializer)


def owned_lead(request: Request, lead_id: str) -> Lead:
    lead = account_selectors.lead_of_user(user=user_of(request), lead_id=lead_id) if valid_id(lead_id) else None
    if lead is None:
        raise NotFound(f"lead {lead_id!r} not found")
    return lead


class LeadListView(JSONAPIView):
    @extend_schema(
        summary="Your CRM leads (filters: email (part of it), taskId; ordering: email, updatedAt, createdAt)",
        operation_id="crm_leads_list",
        parameters=[OpenApiParameter("email", str, required=False), OpenApiParameter("taskId", str, required=False),
                    OpenApiParameter("ordering", str, required=False, enum=sorted(ORDERING)),
                    OpenApiParameter("page", int, required=False), OpenApiParameter("pageSize", int, required=False)],
        responses={200: LeadPageSerializer, **errors(400, 404)},
    )
    def get(self, request: Request) -> Response:
        query = request.query_params
        ordering = query.get("ordering", "email")
        if ordering not in ORDERING:
            raise ValidationError({"ordering": [f"use one of {', '.join(sorted(ORDERING))}"]})
        leads = crm.leads_for(owner_id=user_of(request).id, email=query.get("email", "")[:254] or None,
                              task_id=query.get("taskId", "")[:MAX_ID] or None).order_by(ORDERING[ordering], "id")
        paginator = Pagination()
        page = paginator.paginate_queryset(leads, request, view=self)
        return paginator.get_paginated_response([crm.describe(lead) for lead in page or []])


class LeadDetailView(JSONAPIView):
    @extend_schema(summary="One lead", responses={200: LeadSerializer, **errors(404)})
    def get(self, request: Request, lead_id: str) -> Response:
        return Response(crm.describe(owned_lead(request, lead_id)))

    @extend_schema(summary="Delete a lead", responses={204: OpenApiResponse(description="deleted"), **errors(404)})
    def delete(self, request: Request, lead_id: str) -> Response:
        crm.remove(owned_lead(request, lead_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


urlpatterns = [
    path("crm/leads", LeadListView.as_view(), name="crm-lead-list"),
    path("crm/leads/<str:lead_id>", LeadDetailView.as_view(), name="crm-lead-detail"),
]
