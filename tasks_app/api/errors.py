"""One error format for every API error: {"error": {"code", "message", "fields"}}.

The DRF exception handler maps validation errors, the services' exceptions (InvalidTask
-> 400, TransitionNotAllowed, TaskInUse and RollbackRefused -> 409; RollbackNeedsApproval -> 409
`approval_required` with the rollback report) and throttling (429, Retry-After);
the Django handlers answer 400/403/404/500 on /api/ paths in the same shape.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from tasks_app import lifecycle, services

DRF_CODES = {
    "parse_error": "parse_error", "not_authenticated": "not_authenticated",
    "authentication_failed": "authentication_failed", "permission_denied": "permission_denied",
    "not_found": "not_found", "method_not_allowed": "method_not_allowed", "not_acceptable": "not_acceptable",
    "unsupported_media_type": "unsupported_media_type", "throttled": "throttled",
}


def error_body(code: str, message: str, fields: dict[str, list[str]] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail -> {"agentConfig.schedule": ["..."], "tags.0": ["..."]}."""
    if isinstance(detail, Mapping):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            name = "body" if key in ("non_field_errors", "__all__") else str(key)
            out.update(flatten(value, f"{prefix}.{name}" if prefix else name))
        return out
    if isinstance(detail, list) and any(isinstance(item, Mapping | list) for item in detail):
        out = {}
        for index, item in enumerate(detail):
            if item:
                out.update(flatten(item, f"{prefix}.{index}" if prefix else str(index)))
        return out
    items = detail if isinstance(detail, list) else [detail]
    return {prefix or "body": [str(item) for item in items]}


def summary(fields: dict[str, list[str]]) -> str:
    return "; ".join(f"{name}: {' '.join(messages)}" for name, messages in fields.items())


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, services.InvalidTask):
        fields = {exc.field: [str(exc)]}
        return Response(error_body("invalid", summary(fields), fields), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, services.RollbackNeedsApproval):  # the report says which ids to approve
        body = {**error_body("approval_required", str(exc)), "rollback": exc.report}
        return Response(body, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, lifecycle.TransitionNotAllowed | services.TaskInUse | services.RollbackRefused):
        return Response(error_body("conflict", str(exc)), status=status.HTTP_409_CONFLICT)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("not found")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return None  # not an API error: Django answers 500 through server_error() below
    if isinstance(exc, exceptions.ValidationError):
        fields = flatten(exc.detail)
        response.data = error_body("invalid", summary(fields), fields)
    else:
        code = exc.get_codes()
        detail = exc.detail.get("detail", exc.detail) if isinstance(exc.detail, dict) else exc.detail
        response.data = error_body(DRF_CODES.get(code if isinstance(code, str) else "", "error"), str(detail))
    return response


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def bad_request(request: HttpRequest, exception: Exception, *args: Any, **kwargs: Any) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(error_body("bad_request", "bad request"), status=400)
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception, *args: Any, **kwargs: Any) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(error_body("permission_denied", str(exception) or "permission denied"), status=403)
    return defaults.permission_denied(request, exception)


def not_found(request: HttpRequest, exception: Exception, *args: Any, **kwargs: Any) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(error_body("not_found", f"no API endpoint at {request.path}"), status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(error_body("server_error", "internal server error"), status=500)
    return defaults.server_error(request)
