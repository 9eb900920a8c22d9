"""/api/agent/{taskId}/plans: every plan version of a run (the first, each replan and refinement).

Read only; versions are written by the engine (agents/plan_record.py). Another user's task is a 404.
"""
# ruff: noqa: N815  (field names are the wire names)
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from tasks_app import selectors

from .schema import errors
from .serializers import AnyJSONField, ExecutionsQuerySerializer, IsoDateTimeField
from .views import owned_task, validated


class PlanVersionSerializer(serializers.Serializer):
    run = serializers.IntegerField()
    version = serializers.IntegerField(help_text="1 is the plan the run started with")
    kind = serializers.ChoiceField(choices=["initial", "replan", "refine"])
    atStep = serializers.IntegerField(source="at_step",
                                      help_text="the step after which it was made (0: before the first)")
    reason = serializers.CharField(help_text="why: the step's error or empty result, and what the model did")
    plan = AnyJSONField(help_text="the whole plan of this version: the steps that ran, then the new ones")
    tokens = serializers.IntegerField(help_text="model tokens spent making it")
    credits = serializers.IntegerField()
    model = serializers.CharField(allow_blank=True)
    createdAt = IsoDateTimeField(source="created_at")

    def get_fields(self) -> dict[str, serializers.Field]:
        # `source` is a Field attribute in DRF, so the wire name is declared here
        return {**super().get_fields(), "source": serializers.CharField(
            help_text="who wrote it: model, template, user (an explicit plan) or react")}


class PlanVersionsSerializer(serializers.Serializer):
    taskId = serializers.CharField()
    run = serializers.IntegerField()
    versions = PlanVersionSerializer(many=True)


class PlanVersionsActions:
    # GET /api/agent/{taskId}/plans, an action of the agent viewset (tasks_app/api/agent.py).

    @extend_schema(summary="Every plan version of a run (default: the latest run), oldest first",
                   parameters=[ExecutionsQuerySerializer], responses={200: PlanVersionsSerializer, **errors(400, 404)})
    @action(detail=True, methods=["get"])
    def plans(self, request: Request, task_id: str) -> Response:
        task = owned_task(request, task_id)
        run = validated(ExecutionsQuerySerializer, request.query_params).validated_data.get("run")
        run = run or max(task.attempts, 1)
        versions = selectors.task_plan_versions(task, run=run)
        return Response(PlanVersionsSerializer({"taskId": task.id, "run": run, "versions": versions}).data)
