"""/api/approvals/policies: the approval policies that apply to you, and your overrides (per user or project).

A rule is data (agents/policies.py): conditions on the side-effect class and facts about the
input. PUT replaces the default of that name or adds one; {"enabled": false} drops it.
"""
# ruff: noqa: N815  (field names are the wire names)
from __future__ import annotations

import re
from typing import Any

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from tasks_app import account_selectors
from tasks_app import policy_overrides as policy_service
from tasks_app.models import Project

from .fields import JSONObjectField, StrictCharField, StrictSerializer
from .schema import errors
from .serializers import AnyJSONField
from .views import MAX_ID, JSONAPIView, owned_project, user_of, validated

NAME = r"^[A-Za-z0-9_.-]{1,50}$"


class OverrideSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    projectId = serializers.CharField(source="project_id", allow_null=True)
    enabled = serializers.BooleanField()
    rule = AnyJSONField()
    updatedAt = serializers.DateTimeField(source="updated_at")


class PoliciesSerializer(serializers.Serializer):
    effective = serializers.ListField(child=AnyJSONField(), help_text="the rules that apply, defaults overridden")
    overrides = OverrideSerializer(many=True)


class PoliciesQuerySerializer(serializers.Serializer):
    projectId = StrictCharField(max_length=MAX_ID, required=False)


class PolicySetSerializer(StrictSerializer):
    enabled = serializers.BooleanField(default=True)
    rule = JSONObjectField(required=False, help_text="actions, side_effects, outside, deletion, min_recipients, "
                                                     "except_hosts, except_connections, reason")
    projectId = StrictCharField(max_length=MAX_ID, required=False, help_text="override for this project only")


def _project(request: Request, project_id: str | None) -> Project | None:
    return owned_project(request, project_id) if project_id else None


def _name(name: str) -> str:
    if not re.match(NAME, name):
        raise serializers.ValidationError({"name": "1-50 letters, digits, '.', '_' or '-'"})
    return name


class PoliciesView(JSONAPIView):
    @extend_schema(summary="The approval policies that apply to your tasks (in a project), and your overrides",
                   parameters=[PoliciesQuerySerializer], responses={200: PoliciesSerializer, **errors(400, 404)})
    def get(self, request: Request) -> Response:
        query = validated(PoliciesQuerySerializer, request.query_params).validated_data
        project = _project(request, query.get("projectId"))
        rows = account_selectors.policy_overrides_for_user(user=user_of(request))
        return Response(PoliciesSerializer({
            "effective": policy_service.effective(user=user_of(request), project=project),
            "overrides": rows}).data)


class PolicyView(JSONAPIView):
    @extend_schema(summary="Override the policy of this name (or add one); enabled false drops it",
                   request=PolicySetSerializer, responses={200: OverrideSerializer, **errors(400, 404)})
    def put(self, request: Request, name: str) -> Response:
        body: dict[str, Any] = validated(PolicySetSerializer, request.data).validated_data
        try:
            row = policy_service.policy_set(user=user_of(request), name=_name(name), enabled=body["enabled"],
                                               rule=body.get("rule"), project=_project(request, body.get("projectId")))
        except policy_service.InvalidPolicy as exc:
            raise serializers.ValidationError({"rule": str(exc)}) from None
        return Response(OverrideSerializer(row).data)

    @extend_schema(summary="Drop your override of this policy: its default applies again",
                   parameters=[PoliciesQuerySerializer], responses={204: None, **errors(400, 404)})
    def delete(self, request: Request, name: str) -> Response:
        query = validated(PoliciesQuerySerializer, request.query_params).validated_data
        if not policy_service.policy_delete(user=user_of(request), name=_name(name),
                                               project=_project(request, query.get("projectId"))):
            raise NotFound(f"you have no override of policy {name!r}")
        return Response(status=204)


urlpatterns = [
    path("approvals/policies", PoliciesView.as_view(), name="approval-policies"),
    path("approvals/policies/<str:name>", PolicyView.as_view(), name="approval-policy"),
]
