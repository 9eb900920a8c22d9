"""/api/workspace/: tasks (create, list, read, edit, delete, their steps) and projects."""
from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from tasks_app import selectors, services
from tasks_app.models import Project, Task, TaskExecution

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
from .views import JSONAPIView, Pagination, owned_project, owned_task, user_of, validated

ORDER_FIELDS = {"createdAt": "created_at", "updatedAt": "updated_at", "dueDate": "due_date", "title": "title",
                "status": "status", "priority": "priority"}


def filtered_tasks(user: Any, query: dict[str, Any]) -> QuerySet[Task]:
    tasks = selectors.task_list_for_user(user=user)
    if "status" in query:
        tasks = tasks.filter(status=query["status"])
    if "agentType" in query:
        tasks = tasks.filter(agent_type=query["agentType"])
    if "projectId" in query:
        tasks = tasks.filter(project_id=query["projectId"])
    if "tag" in query:
        if connection.vendor == "postgresql":
            tasks = tasks.filter(tags__contains=[query["tag"]])
        else:  # SQLite has no JSON containment: the embedded default filters in Python
            tasks = tasks.filter(id__in=[t.id for t in tasks.only("id", "tags") if query["tag"] in (t.tags or [])])
    ordering = query["ordering"]
    field = ("-" if ordering.startswith("-") else "") + ORDER_FIELDS[ordering.lstrip("-")]
    return tasks.order_by(field, "-created_at", "id")


class TaskListView(JSONAPIView):
    def get_throttles(self) -> list[Any]:
        return [TaskCreateThrottle()] if self.request.method == "POST" else []

    @extend_schema(summary="List your tasks", operation_id="workspace_tasks_list", parameters=[TaskListQuerySerializer],
                   responses={200: TaskPageSerializer, **errors(400, 404)})
    def get(self, request: Request) -> Response:
        query = validated(TaskListQuerySerializer, request.query_params).validated_data
        paginator = Pagination()
        page = paginator.paginate_queryset(filtered_tasks(request.user, query), request, view=self)
        return paginator.get_paginated_response(TaskSerializer(page, many=True).data)

    @extend_schema(summary="Create a task (stored in pending; nothing runs yet)", request=TaskInputSerializer,
                   responses={201: TaskSerializer, **errors(400, 429)})
    def post(self, request: Request) -> Response:
        body = validated(TaskInputSerializer, request.data, context={"request": request})
        task = services.task_create(user=user_of(request), **body.service_kwargs())
        return Response(TaskSerializer(task).data, status=status.HTTP_201_CREATED)


class TaskDetailView(JSONAPIView):
    @extend_schema(summary="Read a task", responses={200: TaskSerializer, **errors(404)})
    def get(self, request: Request, id: str) -> Response:
        return Response(TaskSerializer(owned_task(request, id)).data)

    @extend_schema(summary="Change a task (its agent fields only while no run is active)",
                   request=TaskInputSerializer(partial=True), responses={200: TaskSerializer, **errors(400, 404, 409)})
    def patch(self, request: Request, id: str) -> Response:
        task = owned_task(request, id)
        body = validated(TaskInputSerializer, request.data, partial=True, context={"request": request})
        task = services.task_update(task=task, changes=body.service_kwargs())
        return Response(TaskSerializer(task).data)

    @extend_schema(summary="Delete a task with its steps and events (not while a run is active)",
                   responses={204: None, **errors(404, 409)})
    def delete(self, request: Request, id: str) -> Response:
        services.task_delete(task=owned_task(request, id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class TaskExecutionsView(JSONAPIView):
    @extend_schema(summary="The task's recorded steps (TaskExecution rows), every run or one",
                   parameters=[ExecutionsQuerySerializer], responses={200: StepSerializer(many=True),
                                                                      **errors(400, 404)})
    def get(self, request: Request, id: str) -> Response:
        task = owned_task(request, id)
        query = validated(ExecutionsQuerySerializer, request.query_params).validated_data
        rows = TaskExecution.objects.filter(task=task).order_by("run", "step")
        if "run" in query:
            rows = rows.filter(run=query["run"])
        return Response([selectors.step_as_json(row) for row in rows])


class ProjectListView(JSONAPIView):
    @extend_schema(summary="List your projects", responses={200: ProjectSerializer(many=True), **errors()})
    def get(self, request: Request) -> Response:
        projects = Project.objects.filter(user=user_of(request)).order_by("-created_at", "id")
        return Response(ProjectSerializer(projects, many=True).data)

    @extend_schema(summary="Create a project", request=ProjectInputSerializer,
                   responses={201: ProjectSerializer, **errors(400)})
    def post(self, request: Request) -> Response:
        body = validated(ProjectInputSerializer, request.data).validated_data
        project = services.project_create(user=user_of(request), **body)
        return Response(ProjectSerializer(project).data, status=status.HTTP_201_CREATED)


class ProjectDetailView(JSONAPIView):
    @extend_schema(summary="Read a project", responses={200: ProjectSerializer, **errors(404)})
    def get(self, request: Request, id: str) -> Response:
        return Response(ProjectSerializer(owned_project(request, id)).data)

    @extend_schema(summary="Change a project", request=ProjectInputSerializer(partial=True),
                   responses={200: ProjectSerializer, **errors(400, 404)})
    def patch(self, request: Request, id: str) -> Response:
        project = owned_project(request, id)
        body = validated(ProjectInputSerializer, request.data, partial=True).validated_data
        return Response(ProjectSerializer(services.project_update(project=project, changes=dict(body))).data)

    @extend_schema(summary="Delete a project (its tasks stay, without a project)",
                   responses={204: None, **errors(404)})
    def delete(self, request: Request, id: str) -> Response:
        services.project_delete(project=owned_project(request, id))
        return Response(status=status.HTTP_204_NO_CONTENT)
