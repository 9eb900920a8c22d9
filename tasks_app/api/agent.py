"""/api/agent/: run a task and watch it, one viewset: execute, status, pause/resume/cancel, trace, replay,
rollback, events, metrics (and the task's approvals and plan versions, from their modules' mixins)."""
from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from tasks_app import selectors, services
from tasks_app.dashboard import dashboard_metrics
from tasks_app.lifecycle import TERMINAL
from tasks_app.models import Task, TaskStatus

from .agent_serializers import (
    EventsQuerySerializer,
    EventsSerializer,
    ExecuteSerializer,
    MetricsQuerySerializer,
    MetricsSerializer,
    ReplaySerializer,
    ResultSerializer,
    RollbackReportSerializer,
    RollbackSerializer,
    StatusSerializer,
    TraceSerializer,
)
from .approvals import TaskApprovalsActions
from .plans import PlanVersionsActions
from .router import id_last
from .schema import errors
from .serializers import TaskSerializer
from .throttling import TaskExecuteThrottle
from .views import APIViewSet, owned_task, user_of, validated

WAITING_FOR_PEOPLE = frozenset({TaskStatus.PAUSED, TaskStatus.AWAITING_APPROVAL})
CONTROL_RESPONSES = {200: StatusSerializer, **errors(404, 409)}


def wait_for_outcome(task_id: str, *, wait_s: float, poll_s: float = 0.1) -> Task:
    """Poll the database until the run ends or needs a person, or `wait_s` passed."""
    deadline = time.monotonic() + wait_s
    while True:
        task = selectors.task_by_id(task_id)
        if task.status in TERMINAL or task.status in WAITING_FOR_PEOPLE or time.monotonic() >= deadline:
            return task
        time.sleep(poll_s)


class AgentViewSet(TaskApprovalsActions, PlanVersionsActions, APIViewSet):
    # the task lifecycle: each transition goes through services, which refuse one the status does not allow

    lookup_url_kwarg = "task_id"

    @extend_schema(
        summary="Start a run: async answers 202 at once; sync waits (AGENT_SYNC_WAIT_S) for the result",
        request=ExecuteSerializer,
        responses={200: OpenApiResponse(ResultSerializer, description="sync: the run finished"),
                   202: OpenApiResponse(StatusSerializer, description="async, or sync and still running"),
                   **errors(400, 404, 409, 429)},
    )
    @id_last
    @action(detail=True, methods=["post"], throttle_classes=[TaskExecuteThrottle])
    def execute(self, request: Request, task_id: str) -> Response:
        task = owned_task(request, task_id)
        run_async = validated(ExecuteSerializer, request.data).validated_data["async"]
        task = services.task_execute(task=task)
        if not run_async:
            task = wait_for_outcome(task.id, wait_s=settings.AGENT_SYNC_WAIT_S)
            if task.status in TERMINAL:
                return Response(ResultSerializer(task).data)
        return Response(StatusSerializer(task).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(summary="The task's execution status (the seed's response)",
                   responses={200: StatusSerializer, **errors(404)})
    @id_last
    @action(detail=True, methods=["get"])
    def status(self, request: Request, task_id: str) -> Response:
        return Response(StatusSerializer(owned_task(request, task_id)).data)

    def _control(self, request: Request, task_id: str, service: Any) -> Response:
        return Response(StatusSerializer(service(task=owned_task(request, task_id))).data)

    @extend_schema(summary="Pause at the next step boundary", request=None, responses=CONTROL_RESPONSES)
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, task_id: str) -> Response:
        """pause, resume or cancel: 409 naming the current status when the transition is not allowed."""
        return self._control(request, task_id, services.task_pause)

    @extend_schema(summary="Resume a paused task", request=None, responses=CONTROL_RESPONSES)
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, task_id: str) -> Response:
        """pause, resume or cancel: 409 naming the current status when the transition is not allowed."""
        return self._control(request, task_id, services.task_resume)

    @extend_schema(summary="Cancel (a step in flight finishes first)", request=None, responses=CONTROL_RESPONSES)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, task_id: str) -> Response:
        """pause, resume or cancel: 409 naming the current status when the transition is not allowed."""
        return self._control(request, task_id, services.task_cancel)

    @extend_schema(summary="The execution trace: each step's reasoning, action, input and output",
                   responses={200: TraceSerializer, **errors(404)})
    @action(detail=True, methods=["get"])
    def trace(self, request: Request, task_id: str) -> Response:
        return Response(TraceSerializer(selectors.task_trace(owned_task(request, task_id))).data)

    @extend_schema(summary="Re-run a finished task as a new task, copying the steps before fromStep",
                   request=ReplaySerializer, responses={201: TaskSerializer, **errors(400, 404, 409, 429)})
    @action(detail=True, methods=["post"], throttle_classes=[TaskExecuteThrottle])
    def replay(self, request: Request, task_id: str) -> Response:
        task = owned_task(request, task_id)
        from_step = validated(ReplaySerializer, request.data).validated_data["fromStep"]
        replay = services.task_replay(task=task, from_step=from_step)
        return Response(TaskSerializer(replay).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Undo the last run's reversible changes, newest first; list what cannot be undone",
                   description="Only for a finished task (completed, failed, cancelled): else 409. Each "
                               "compensation runs once, however often this is called; `dryRun` changes nothing. "
                               "Compensations an approval policy gates run only when `approve` lists their ids; "
                               "until then nothing runs: 409 `approval_required` with the report as `rollback`.",
                   request=RollbackSerializer, responses={200: RollbackReportSerializer, **errors(400, 404, 409)})
    @action(detail=True, methods=["post"])
    def rollback(self, request: Request, task_id: str) -> Response:
        task = owned_task(request, task_id)
        data = validated(RollbackSerializer, request.data).validated_data
        report = services.task_rollback(task=task, dry_run=data["dryRun"], approve=data["approve"],
                                        user=user_of(request))
        return Response(RollbackReportSerializer(report).data)

    @extend_schema(summary="Stored progress events after seq `after` (refill after a websocket gap)",
                   parameters=[EventsQuerySerializer], responses={200: EventsSerializer, **errors(400, 404)})
    @action(detail=True, methods=["get"])
    def events(self, request: Request, task_id: str) -> Response:
        task = owned_task(request, task_id)
        after = validated(EventsQuerySerializer, request.query_params).validated_data["after"]
        return Response(EventsSerializer(task, context={"after": after}).data)

    @extend_schema(summary="Dashboard metrics of your runs", parameters=[MetricsQuerySerializer],
                   responses={200: MetricsSerializer, **errors(400)})
    @action(detail=False, methods=["get"])
    def metrics(self, request: Request) -> Response:
        window = validated(MetricsQuerySerializer, request.query_params).validated_data["window"]
        return Response(MetricsSerializer(dashboard_metrics(user=user_of(request), window=window)).data)
