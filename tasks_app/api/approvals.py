"""/api/agent/{taskId}/approvals and /api/approvals/{id}/decide: the manual intervention points.

A person answers what the engine asked (a policy gate before an action, or an action whose
outcome is unknown) through services.approval_decide; another user's approval is a 404.
"""
# ruff: noqa: N815  (field names are the wire names)
from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from tasks_app import services
from tasks_app.models import Approval

from .fields import StrictSerializer
from .schema import errors
from .views import MAX_ID, JSONAPIView, owned_task, user_of, validated


class ApprovalSerializer(serializers.Serializer):
    id = serializers.CharField()
    taskId = serializers.CharField(source="task_id")
    run = serializers.IntegerField()
    step = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Approval.Kind.choices,
                                   help_text="policy: act only once approved; unknown_outcome: did it happen?")
    policy = serializers.CharField()
    action = serializers.CharField()
    question = serializers.CharField()
    status = serializers.ChoiceField(choices=Approval.Status.choices)
    done = serializers.BooleanField(allow_null=True)
    decidedBy = serializers.CharField(source="decided_by.username", allow_null=True, default=None)
    decidedAt = serializers.DateTimeField(source="decided_at", allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")


class DecideSerializer(StrictSerializer):
    approve = serializers.BooleanField(help_text="true lets the step go on; false cancels the task")
    done = serializers.BooleanField(required=False, allow_null=True, default=None,
                                    help_text="unknown outcome only: did the action happen?")


def owned_approval(request: Request, approval_id: str) -> Approval:
    rows = Approval.objects.select_related("decided_by").filter(task__user=user_of(request))
    approval = rows.filter(id=approval_id).first() if 0 < len(approval_id) <= MAX_ID and "\x00" not in approval_id \
        else None
    if approval is None:
        raise NotFound(f"approval {approval_id!r} not found")
    return approval


class TaskApprovalsView(JSONAPIView):
    @extend_schema(summary="The task's approvals (questions for a person), newest first",
                   responses={200: ApprovalSerializer(many=True), **errors(404)})
    def get(self, request: Request, task_id: str) -> Response:
        task = owned_task(request, task_id)
        rows = Approval.objects.select_related("decided_by").filter(task=task).order_by("-created_at")
        return Response(ApprovalSerializer(rows, many=True).data)


class DecideView(JSONAPIView):
    @extend_schema(summary="Approve or reject: approve continues the task (unknown outcome: with done), "
                           "reject cancels it",
                   request=DecideSerializer,
                   responses={200: ApprovalSerializer, **errors(400, 404, 409)})
    def post(self, request: Request, approval_id: str) -> Response:
        approval = owned_approval(request, approval_id)
        body: dict[str, Any] = validated(DecideSerializer, request.data).validated_data
        decided = services.approval_decide(approval=approval, approve=body["approve"], done=body["done"],
                                           user=user_of(request))
        return Response(ApprovalSerializer(decided).data)
