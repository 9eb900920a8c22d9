"""/api/workspace/: tasks (create, list, read, edit, delete, their steps) and projects, as viewsets."""
from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from tasks_app import selectors, services

from .schema import errors
from .serializers import (
    ExecutionsQuerySerializer,
    ProjectInputSerializer,
    ProjectSerializer,
    StepSerializer,
    TaskInputSerializer,
    TaskListQuerySerializer,
    TaskPageSerializer,
    TaskSerializer,
)
from .throttling import TaskCreateThrottle
from .views import APIViewSet, Pagination, owned_project, owned_task, user_of, validated

ORDER_FIELDS = {"createdAt": "created_at", "updatedAt": "updated_at", "dueDate": "due_date", "title": "title",
                "status": "status", "priority": "priority"}


def order_by(ordering: str) -> str:
    """The list's `ordering` (a wire name, `-` for descending) as a model field to order by."""
    return ("-" if ordering.startswith("-") else "") + ORDER_FIELDS[ordering.lstrip("-")]


class TaskViewSet(APIViewSet):
    # /api/workspace/tasks[/{id}[/executions]]: a task's record; running it is the agent viewset's

    lookup_url_kwarg = "id"

    def get_throttles(self) -> list[Any]:
        return [TaskCreateThrottle()] if self.action == "create" else []

    @extend_schema(summary="List your tasks", operation_id="workspace_tasks_list", parameters=[TaskListQuerySerializer],
                   responses={200: TaskPageSerializer, **errors(400, 404)})
    def list(self, request: Request) -> Response:
        query = validated(TaskListQuerySerializer, request.query_params).validated_data
        tasks = selectors.tasks_filtered(user=user_of(request), status=query.get("status"),
                                         agent_type=query.get("agentType"), project_id=query.get("projectId"),
                                         tag=query.get("tag"), order_by=order_by(query["ordering"]))
        paginator = Pagination()
        page = paginator.paginate_queryset(tasks, request, view=self)
        return paginator.get_paginated_response(TaskSerializer(page, many=True).data)

    @extend_schema(summary="Create a task (stored in pending; nothing runs yet)", request=TaskInputSerializer,
                   responses={201: TaskSerializer, **errors(400, 429)})
    def create(self, request: Request) -> Response:
        body = validated(TaskInputSerializer, request.data, context={"request": request})
        task = services.task_create(user=user_of(request), **body.service_kwargs())
        return Response(TaskSerializer(task).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Read a task", responses={200: TaskSerializer, **errors(404)})
    def retrieve(self, request: Request, id: str) -> Response:
        return Response(TaskSerializer(owned_task(request, id)).data)

    @extend_schema(summary="Change a task (its agent fields only while no run is active)",
                   request=TaskInputSerializer(partial=True), responses={200: TaskSerializer, **errors(400, 404, 409)})
    def partial_update(self, request: Request, id: str) -> Response:
        task = owned_task(request, id)
        body = validated(TaskInputSerializer, request.data, partial=True, context={"request": request})
        task = services.task_update(task=task, changes=body.service_kwargs())
        return Response(TaskSerializer(task).data)

    @extend_schema(summary="Delete a task with its steps and events (not while a run is active)",
                   responses={204: None, **errors(404, 409)})
    def destroy(self, request: Request, id: str) -> Response:
        services.task_delete(task=owned_task(request, id))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="The task's recorded steps (TaskExecution rows), every run or one",
                   parameters=[ExecutionsQuerySerializer], responses={200: StepSerializer(many=True),
                                                                      **errors(400, 404)})
    @action(detail=True, methods=["get"])
    def executions(self, request: Request, id: str) -> Response:
        task = owned_task(request, id)
        query = validated(ExecutionsQuerySerializer, request.query_params).validated_data
        return Response(StepSerializer(selectors.task_executions(task, run=query.get("run")), many=True).data)


class ProjectViewSet(APIViewSet):
    # /api/workspace/projects[/{id}]

    lookup_url_kwarg = "id"

    @extend_schema(summary="List your projects", responses={200: ProjectSerializer(many=True), **errors()})
    def list(self, request: Request) -> Response:
        return Response(ProjectSerializer(selectors.projects_for_user(user=user_of(request)), many=True).data)

    @extend_schema(summary="Create a project", request=ProjectInputSerializer,
                   responses={201: ProjectSerializer, **errors(400)})
    def create(self, request: Request) -> Response:
        body = validated(ProjectInputSerializer, request.data).validated_data
        project = services.project_create(user=user_of(request), **body)
        return Response(ProjectSerializer(project).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Read a project", responses={200: ProjectSerializer, **errors(404)})
    def retrieve(self, request: Request, id: str) -> Response:
        return Response(ProjectSerializer(owned_project(request, id)).data)

    @extend_schema(summary="Change a project", request=ProjectInputSerializer(partial=True),
                   responses={200: ProjectSerializer, **errors(400, 404)})
    def partial_update(self, request: Request, id: str) -> Response:
        project = owned_project(request, id)
        body = validated(ProjectInputSerializer, request.data, partial=True).validated_data
        return Response(ProjectSerializer(services.project_update(project=project, changes=dict(body))).data)

    @extend_schema(summary="Delete a project (its tasks stay, without a project)",
                   responses={204: None, **errors(404)})
    def destroy(self, request: Request, id: str) -> Response:
        services.project_delete(project=owned_project(request, id))
        return Response(status=status.HTTP_204_NO_CONTENT)
