"""Shared view helpers (owner scoping, pagination, the JSON-only base of every view and viewset) and the
small endpoints: tools, auth token (issue, revoke)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, Throttled, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import BaseParser, FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.schemas.inspectors import ViewInspector
from rest_framework.views import APIView
from rest_framework.viewsets import ViewSet

from tasks_app import login_guard, selectors, tokens
from tasks_app.models import Project, Task
from tools.registry import catalog

from .parsers import JSONParser
from .schema import APISchema, errors, obj
from .serializers import ToolActionSerializer

MAX_ID = 32  # ids are 25 characters; a longer (or NUL-bearing) path segment matches nothing


def valid_id(value: str) -> bool:
    return 0 < len(value) <= MAX_ID and "\x00" not in value


def user_of(request: Request) -> Any:
    """The authenticated user (every API view but the token one requires one)."""
    return request.user


def owned_task(request: Request, task_id: str) -> Task:
    """The user's task, else 404: another user's task is indistinguishable from a missing one."""
    task = selectors.task_of_user(user=user_of(request), task_id=task_id) if valid_id(task_id) else None
    if task is None:
        raise NotFound(f"task {task_id!r} not found")
    return task


def owned_project(request: Request, project_id: str) -> Project:
    project = (selectors.project_of_user(user=user_of(request), project_id=project_id)
               if valid_id(project_id) else None)
    if project is None:
        raise NotFound(f"project {project_id!r} not found")
    return project


def validated(serializer_class: type[serializers.Serializer], data: Any, **kwargs: Any) -> Any:
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer


class JSONAPIMixin:
    """The API speaks JSON only (no form bodies): one request format to validate and document.

    Its parser bounds nesting (tasks_app/json_depth.py): too deep is a 400, never a RecursionError.
    """

    # authentication, permissions and the error format are the project's DRF defaults (settings)
    parser_classes: Sequence[type[BaseParser]] = [JSONParser]
    schema: ViewInspector | None = APISchema()

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]  # APIView's, next in the MRO
        refuse_nul_in_query(request)


class JSONAPIView(JSONAPIMixin, APIView):
    pass  # a single endpoint (no docstring: the schema describes an operation by the mixin's)


class APIViewSet(JSONAPIMixin, ViewSet):
    # a resource: its routes come from the router (tasks_app/api/router.py)
    lookup_value_converter = "str"  # <str:...> as the seed's paths: a dot is part of an id, not a suffix


def refuse_nul_in_query(request: Request) -> None:
    """PostgreSQL text cannot hold NUL: a query parameter with one is a 400 naming it, for every view."""
    bad = sorted({name for name, values in request.query_params.lists()
                  if "\x00" in name or any("\x00" in value for value in values)})
    if bad:
        problem = ["must not contain NUL (\\u0000) characters"]
        raise ValidationError({name.replace("\x00", "\\u0000"): problem for name in bad})


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="send it as `Authorization: Token <token>`")


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
        return Response(ToolActionSerializer(catalog(), many=True).data)


class LoginRefused(Throttled):
    """429 with the guard's message (which says when) and Retry-After; DRF's would append a second 'when'."""

    def __init__(self, locked: login_guard.LoginLocked):
        super().__init__(detail=str(locked))
        self.wait = locked.retry_after


class TokenView(JSONAPIView):
    """POST username + password -> {"token": ...}; send it as `Authorization: Token <token>`.

    Every attempt passes tasks_app/login_guard.py (per address and per username, shared cache);
    DELETE revokes the caller's token. Tokens expire after AGENT_TOKEN_TTL_S (tasks_app/tokens.py).
    """

    parser_classes = [JSONParser, FormParser, MultiPartParser]  # as DRF's ObtainAuthToken accepts

    def _logging_in(self) -> bool:
        return getattr(self.request, "method", None) == "POST"  # no request while the schema is generated

    def get_authenticators(self) -> list[Any]:
        # a stale token or session must not stop anyone logging in
        return [] if self._logging_in() else super().get_authenticators()

    def get_permissions(self) -> list[Any]:
        return [] if self._logging_in() else list(super().get_permissions())

    @extend_schema(
        summary="Exchange a username and password for an API token",
        description="Over the login limits (per client address, and a username after repeated failures) "
                    "the answer is 429 with Retry-After, whether or not the username exists.",
        request=obj("TokenRequest", username=serializers.CharField(), password=serializers.CharField()),
        responses={200: TokenResponseSerializer, **errors(400, 429, authenticated=False)},
        auth=[],
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        credentials = validated(TokenRequestSerializer, request.data).validated_data
        try:
            user = login_guard.authenticate(request, credentials["username"], credentials["password"])
        except login_guard.LoginLocked as exc:
            raise LoginRefused(exc) from None
        if user is None:
            raise ValidationError({"non_field_errors": ["Unable to log in with provided credentials."]})
        return Response(TokenResponseSerializer({"token": tokens.token_issue(user=user).key}).data)

    @extend_schema(summary="Revoke the caller's API token (log out everywhere it is used)",
                   request=None, responses={204: None, **errors()})
    def delete(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        tokens.token_revoke(user=user_of(request))
        return Response(status=204)
