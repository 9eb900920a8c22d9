"""OpenAPI helpers: the error format as a component, the error responses of each view, and the
schema class of the API's views (it adds what every view with a body can answer)."""
from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, extend_schema_serializer, inline_serializer
from rest_framework import serializers

ERROR_DESCRIPTIONS = {
    400: "Invalid request: `fields` names each invalid field (dotted for nested ones, e.g. agentConfig.schedule)",
    401: "Not authenticated: send `Authorization: Token <token>` or a session cookie",
    404: "No such object for this user (another user's objects are not found either)",
    405: "Method not allowed: the path is another operation's (a word such as `execute` or `status` "
         "where an id goes)",
    409: "The task's status does not allow this (e.g. resume a completed task)",
    415: "The body's content type is not one this operation reads (application/json, or the multipart form "
         "it names)",
    429: "Rate limited: retry after the number of seconds in the Retry-After header",
}


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="machine-readable: invalid, parse_error, not_authenticated, "
                                           "not_found, conflict, throttled, ...")
    message = serializers.CharField(help_text="what went wrong, for people")
    fields = serializers.DictField(  # type: ignore[assignment]  # the wire name; DRF pops declared fields
        child=serializers.ListField(child=serializers.CharField()),
        help_text="field name -> problems (validation errors only; else empty)")


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


def errors(*codes: int, authenticated: bool = True) -> dict[int, Any]:
    """Error responses for extend_schema(responses=...): 401 too where a user is needed."""
    wanted = {*codes, 401} if authenticated else set(codes)
    return {code: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[code]) for code in sorted(wanted)}


class APISchema(AutoSchema):
    """Every operation that reads a body documents the 415 its parsers answer to another content type,
    and one with an id in its path the 405 of a path that is another operation's (an id `execute`:
    GET /api/agent/execute/trace is the execute action's path, which only takes POST)."""

    def get_operation(self, path: str, *args: Any, **kwargs: Any) -> Any:
        operation = super().get_operation(path, *args, **kwargs)
        if not operation:
            return operation
        responses = operation["responses"]
        if "requestBody" in operation and "415" not in responses:
            responses["415"] = self._get_response_for_code(errors(415, authenticated=False)[415], "415")
        if "{" in path and "405" not in responses:
            responses["405"] = self._get_response_for_code(errors(405, authenticated=False)[405], "405")
        return operation


def obj(name: str, **fields: serializers.Field) -> Any:
    return inline_serializer(name=name, fields=fields)


def page_of(item: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The schema of one page of `item`s as Pagination answers it (count, next, previous, results)."""
    name = item.__name__.removesuffix("Serializer") + "PageSerializer"
    fields = {"count": serializers.IntegerField(), "next": serializers.URLField(allow_null=True),
              "previous": serializers.URLField(allow_null=True), "results": item(many=True)}
    # a page is one object, also as a viewset's `list` answer (which the schema would make a list)
    return extend_schema_serializer(many=False)(type(name, (serializers.Serializer,), fields))
