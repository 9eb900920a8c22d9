"""/api/approvals (the inbox), /api/agent/{taskId}/approvals and /api/approvals/{id}/decide.

A person answers what the engine asked (a policy gate before an exact call, the agent's own
question, or an action whose outcome is unknown) through services.approval_decide: approve,
approve with an edited input, reject with a reason, or answer. Another user's approval is a 404.
"""
# ruff: noqa: N815  (field names are the wire names)
from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from tasks_app import selectors, services
from tasks_app.models import Approval

from .fields import JSONObjectField, StrictCharField, StrictSerializer
from .schema import errors, page_of
from .serializers import AnyJSONField
from .views import MAX_ID, JSONAPIView, Pagination, owned_task, user_of, valid_id, validated

STATUSES = [*Approval.Status.values, "all"]


class ApprovalSerializer(serializers.Serializer):
    id = serializers.CharField()
    taskId = serializers.CharField(source="task_id")
    taskTitle = serializers.CharField(source="task.title")
    run = serializers.IntegerField()
    step = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Approval.Kind.choices,
                                   help_text="policy: act only once approved; question: the agent asks you; "
                                             "unknown_outcome: did it happen?")
    scope = serializers.ChoiceField(choices=Approval.Scope.choices,
                                    help_text="step: this one call; run: the run's calls to the listed recipients")
    policy = serializers.CharField(help_text="the matching policies, comma-separated")
    why = serializers.CharField(help_text="why each policy matched, from facts about the input")
    action = serializers.CharField()
    input = serializers.SerializerMethodField(
        help_text="the input that will be used (the edit, once approved with one); secrets masked")
    originalInput = AnyJSONField(source="input", allow_null=True, help_text="the input the step asked with")
    edited = serializers.SerializerMethodField(help_text="approved with an edited input")
    editedPolicies = serializers.ListField(child=serializers.CharField(), source="edited_policies",
                                           help_text="the policies the edit matched when checked again")
    recipients = serializers.ListField(child=serializers.CharField(),
                                       help_text="every address the call (a run-wide approval: the run) writes to")
    steps = serializers.ListField(child=serializers.IntegerField(), source="covers",
                                  help_text="the steps this approval lets act")
    irreversible = serializers.BooleanField(help_text="the action cannot be undone")
    warning = serializers.SerializerMethodField(help_text="said before an action that cannot be undone")
    decision = AnyJSONField(allow_null=True, help_text="a model-driven step: the model's action, params, reasoning")
    question = serializers.CharField()
    choices = serializers.ListField(child=serializers.CharField())
    answer = serializers.CharField(allow_blank=True)
    reason = serializers.CharField(allow_blank=True, help_text="why it was rejected")
    status = serializers.ChoiceField(choices=Approval.Status.choices)
    done = serializers.BooleanField(allow_null=True)
    decidedBy = serializers.CharField(source="decided_by.username", allow_null=True, default=None)
    decidedAt = serializers.DateTimeField(source="decided_at", allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")
    expiresAt = serializers.DateTimeField(source="expires_at", allow_null=True)

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_input(self, approval: Approval) -> Any:
        return approval.edited_input if approval.edited_input is not None else approval.input

    def get_edited(self, approval: Approval) -> bool:
        return approval.edited_input is not None

    def get_warning(self, approval: Approval) -> str | None:
        return "This action cannot be undone." if approval.irreversible else None


ApprovalPageSerializer = page_of(ApprovalSerializer)


class InboxQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=STATUSES, default="pending")
    taskId = StrictCharField(max_length=MAX_ID, required=False)
    page = serializers.IntegerField(min_value=1, max_value=100_000, required=False)
    pageSize = serializers.IntegerField(min_value=1, max_value=100, required=False)


class DecideSerializer(StrictSerializer):
    approve = serializers.BooleanField(help_text="true lets the step go on; false rejects it")
    done = serializers.BooleanField(required=False, allow_null=True, default=None,
                                    help_text="unknown outcome only: did the action happen?")
    input = JSONObjectField(required=False, help_text="approve with this input instead (validated against the "
                                                      "action's schema, checked against the policies again); "
                                                      'a run-wide approval: {"recipients": [those to keep]}')
    reason = StrictCharField(required=False, allow_blank=True, max_length=2000, default="",
                             help_text="why you reject: a model-driven run reads it, a plan's trace keeps it")
    answer = StrictCharField(required=False, max_length=10_000, help_text="the answer to the agent's question")


def owned_approval(request: Request, approval_id: str) -> Approval:
    approval = (selectors.approval_of_user(user=user_of(request), approval_id=approval_id)
                if valid_id(approval_id) else None)
    if approval is None:
        raise NotFound(f"approval {approval_id!r} not found")
    return approval


class InboxView(JSONAPIView):
    @extend_schema(summary="Your approvals across your tasks, newest first (status: pending by default, or all)",
                   parameters=[InboxQuerySerializer], responses={200: ApprovalPageSerializer, **errors(400, 404)})
    def get(self, request: Request) -> Response:
        query = validated(InboxQuerySerializer, request.query_params).validated_data
        rows = selectors.approvals_for_user(user=user_of(request), status=query["status"],
                                            task_id=query.get("taskId"))
        paginator = Pagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(ApprovalSerializer(page or [], many=True).data)


class TaskApprovalsActions:
    # GET /api/agent/{taskId}/approvals, an action of the agent viewset (tasks_app/api/agent.py).

    @extend_schema(summary="The task's approvals (questions for a person), newest first",
                   responses={200: ApprovalSerializer(many=True), **errors(404)})
    @action(detail=True, methods=["get"])
    def approvals(self, request: Request, task_id: str) -> Response:
        task = owned_task(request, task_id)
        rows = selectors.approvals_for_user(user=user_of(request), status="all", task_id=task.id)
        return Response(ApprovalSerializer(rows, many=True).data)


class DecideView(JSONAPIView):
    @extend_schema(summary="Approve (as asked, or with an edited input), reject with a reason, or answer",
                   request=DecideSerializer,
                   responses={200: ApprovalSerializer, **errors(400, 404, 409)})
    def post(self, request: Request, approval_id: str) -> Response:
        approval = owned_approval(request, approval_id)
        body: dict[str, Any] = validated(DecideSerializer, request.data).validated_data
        decided = services.approval_decide(approval=approval, approve=body["approve"], done=body["done"],
                                           user=user_of(request), input=body.get("input"),
                                           reason=body.get("reason") or "", answer=body.get("answer"))
        return Response(ApprovalSerializer(decided).data)
