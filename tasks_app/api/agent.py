"""/api/agent/: run a task and watch it: execute, status, pause/resume/cancel, trace, replay, rollback,
events, metrics."""
from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from tasks_app import events, selectors, services
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
from .schema import errors
from .serializers import TaskSerializer
from .throttling import TaskExecuteThrottle
from .views import JSONAPIView, owned_task, user_of, validated

WAITING_FOR_PEOPLE = frozenset({TaskStatus.PAUSED, TaskStatus.AWAITING_APPROVAL})


def wait_for_outcome(task_id: str, *, wait_s: float, poll_s: float = 0.1) -> Task:
    """Poll the database until the run ends or needs a person, or `wait_s` passed."""
    deadline = time.monotonic() + wait_s
    while True:
        task = Task.objects.get(id=task_id)
        if task.status in TERMINAL or task.status in WAITING_FOR_PEOPLE or time.monotonic() >= deadline:
            return task
        time.sleep(poll_s)


class ExecuteView(JSONAPIView):
    throttle_classes = [TaskExecuteThrottle]

    @extend_schema(
        summary="Start a run: async answers 202 at once; sync waits (AGENT_SYNC_WAIT_S) for the result",
        request=ExecuteSerializer,
        responses={200: OpenApiResponse(ResultSerializer, description="sync: the run finished"),
                   202: OpenApiResponse(StatusSerializer, description="async, or sync and still running"),
                   **errors(400, 404, 409, 429)},
    )
    def post(self, request: Request, task_id: str) -> Response:
        task = owned_task(request, task_id)
        run_async = validated(ExecuteSerializer, request.data).validated_data["async"]
        task = services.task_execute(task=task)
        if not run_async:
            task = wait_for_outcome(task.id, wait_s=settings.AGENT_SYNC_WAIT_S)
            if task.status in TERMINAL:
                return Response(selectors.task_result(task))
        return Response(selectors.task_status(task), status=status.HTTP_202_ACCEPTED)


class StatusView(JSONAPIView):
    @extend_schema(summary="The task's execution status (the seed's response)",
                   responses={200: StatusSerializer, **errors(404)})
    def get(self, request: Request, task_id: str) -> Response:
        return Response(selectors.task_status(owned_task(request, task_id)))


class ControlView(JSONAPIView):
    """pause, resume or cancel: 409 naming the current status when the transition is not allowed."""

    def control(self, request: Request, task_id: str, service: Any) -> Response:
        return Response(selectors.task_status(service(task=owned_task(request, task_id))))


CONTROL_RESPONSES = {200: StatusSerializer, **errors(404, 409)}


class PauseView(ControlView):
    @extend_schema(summary="Pause at the next step boundary", request=None, responses=CONTROL_RESPONSES)
    def post(self, request: Request, task_id: str) -> Response:
        return self.control(request, task_id, services.task_pause)


class ResumeView(ControlView):
    @extend_schema(summary="Resume a paused task", request=None, responses=CONTROL_RESPONSES)
    def post(self, request: Request, task_id: str) -> Response:
        return self.control(request, task_id, services.task_resume)


class CancelView(ControlView):
    @extend_schema(summary="Cancel (a step in flight finishes first)", request=None, responses=CONTROL_RESPONSES)
    def post(self, request: Request, task_id: str) -> Response:
        return self.control(request, task_id, services.task_cancel)


class TraceView(JSONAPIView):
    @extend_schema(summary="The execution trace: each step's reasoning, action, input and output",
                   responses={200: TraceSerializer, **errors(404)})
    def get(self, request: Request, task_id: str) -> Response:
        task = owned_task(request, task_id)
        return Response(selectors.task_trace(task))


class ReplayView(JSONAPIView):
    throttle_classes = [TaskExecuteThrottle]

    @extend_schema(summary="Re-run a finished task as a new task, copying the steps before fromStep",
                   request=ReplaySerializer, responses={201: TaskSerializer, **errors(400, 404, 409, 429)})
    def post(self, request: Request, task_id: str) -> Response:
        task = owned_task(request, task_id)
        from_step = validated(ReplaySerializer, request.data).validated_data["fromStep"]
        replay = services.task_replay(task=task, from_step=from_step)
        return Response(TaskSerializer(replay).data, status=status.HTTP_201_CREATED)


class RollbackView(JSONAPIView):
    @extend_schema(summary="Undo the last run's reversible changes, newest first; list what cannot be undone",
                   description="Only for a finished task (completed, failed, cancelled): else 409. Each "
                               "compensation runs once, however often this is called; `dryRun` changes nothing. "
                               "Compensations an approval policy gates run only when `approve` lists their ids; "
                               "until then nothing runs: 409 `approval_required` with the report as `rollback`.",
                   request=RollbackSerializer, responses={200: RollbackReportSerializer, **errors(400, 404, 409)})
    def post(self, request: Request, task_id: str) -> Response:
        task = owned_task(request, task_id)
        data = validated(RollbackSerializer, request.data).validated_data
        return Response(services.task_rollback(task=task, dry_run=data["dryRun"], approve=data["approve"],
                                               user=user_of(request)))


class EventsView(JSONAPIView):
    @extend_schema(summary="Stored progress events after seq `after` (refill after a websocket gap)",
                   parameters=[EventsQuerySerializer], responses={200: EventsSerializer, **errors(400, 404)})
    def get(self, request: Request, task_id: str) -> Response:
        task = owned_task(request, task_id)
        after = validated(EventsQuerySerializer, request.query_params).validated_data["after"]
        return Response({"taskId": task.id, "lastSeq": task.event_seq, "events": events.since(task.id, after)})


class MetricsView(JSONAPIView):
    @extend_schema(summary="Dashboard metrics of your runs", parameters=[MetricsQuerySerializer],
                   responses={200: MetricsSerializer, **errors(400)})
    def get(self, request: Request) -> Response:
        window = validated(MetricsQuerySerializer, request.query_params).validated_data["window"]
        return Response(dashboard_metrics(user=request.user, window=window))
