"""Shared view helpers (owner scoping, pagination) and the small endpoints: tools, auth token."""
from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tasks_app.models import Project, Task
from tools.registry import catalog

from .schema import errors, obj
from .serializers import ToolActionSerializer
from .throttling import LoginThrottle

MAX_ID = 32  # ids are 25 characters; a longer (or NUL-bearing) path segment matches nothing


def _valid_id(value: str) -> bool:
    return 0 < len(value) <= MAX_ID and "\x00" not in value


def user_of(request: Request) -> Any:
    """The authenticated user (every API view but the token one requires one)."""
    return request.user


def owned_task(request: Request, task_id: str) -> Task:
    """The user's task, else 404: another user's task is indistinguishable from a missing one."""
    task = Task.objects.filter(id=task_id, user=user_of(request)).first() if _valid_id(task_id) else None
    if task is None:
        raise NotFound(f"task {task_id!r} not found")
    return task


def owned_project(request: Request, project_id: str) -> Project:
    project = Project.objects.filter(id=project_id, user=user_of(request)).first() if _valid_id(project_id) else None
    if project is None:
        raise NotFound(f"project {project_id!r} not found")
    return project


def validated(serializer_class: type[serializers.Serializer], data: Any, **kwargs: Any) -> Any:
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer


class JSONAPIView(APIView):
    """The API speaks JSON only (no form bodies): one request format to validate and document."""

    parser_classes = [JSONParser]


class Pagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "pageSize"
    max_page_size = 100


class ToolsView(JSONAPIView):
    @extend_schema(
        summary="Every tool action with its input schema, side-effect class and credit cost",
        responses={200: ToolActionSerializer(many=True), **errors()},
    )
    def get(self, request: Request) -> Response:
        return Response(catalog())


class TokenView(ObtainAuthToken):
    """POST username + password -> {"token": ...}; send it as `Authorization: Token <token>`."""

    authentication_classes = []  # a stale token or session must not stop anyone logging in
    throttle_classes = [LoginThrottle]

    @extend_schema(
        summary="Exchange a username and password for an API token",
        request=obj("TokenRequest", username=serializers.CharField(), password=serializers.CharField()),
        responses={200: obj("TokenResponse", token=serializers.CharField()), **errors(400, authenticated=False)},
        auth=[],
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().post(request, *args, **kwargs)
