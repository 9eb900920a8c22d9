"""/api/dead-letters: runs that failed for good (retries exhausted, fatal errors), to inspect and requeue.

A requeued run waits for a slot and continues at the step that failed (services.dead_letter_requeue);
another user's dead letter is a 404.
"""
# ruff: noqa: N815  (field names are the wire names)
from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from tasks_app import account_selectors, services
from tasks_app.models import DeadLetter

from .schema import errors, page_of
from .views import JSONAPIView, Pagination, user_of, valid_id


class DeadLetterSerializer(serializers.Serializer):
    id = serializers.CharField()
    taskId = serializers.CharField(source="task_id")
    taskTitle = serializers.CharField(source="task.title")
    taskStatus = serializers.CharField(source="task.status")
    run = serializers.IntegerField()
    step = serializers.IntegerField()
    action = serializers.CharField()
    error = serializers.CharField()
    trace = serializers.JSONField(help_text="the execution trace when the run failed")
    createdAt = serializers.DateTimeField(source="created_at")
    requeuedAt = serializers.DateTimeField(source="requeued_at", allow_null=True)


DeadLetterPageSerializer = page_of(DeadLetterSerializer)


def owned_dead_letter(request: Request, dead_letter_id: str) -> DeadLetter:
    row = (account_selectors.dead_letter_of_user(user=user_of(request), dead_letter_id=dead_letter_id)
           if valid_id(dead_letter_id) else None)
    if row is None:
        raise NotFound(f"dead letter {dead_letter_id!r} not found")
    return row


class DeadLetterListView(JSONAPIView):
    @extend_schema(summary="The user's dead letters, newest first; ?requeued=false for those still waiting",
                   operation_id="dead_letters_list",
                   parameters=[OpenApiParameter("requeued", bool, required=False)],
                   responses={200: DeadLetterPageSerializer, **errors(400, 404)})
    def get(self, request: Request) -> Response:
        requeued = {"true": True, "false": False}.get(request.query_params.get("requeued", ""))
        rows = account_selectors.dead_letters_for_user(user=user_of(request), requeued=requeued)
        paginator = Pagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(DeadLetterSerializer(page, many=True).data)


class DeadLetterDetailView(JSONAPIView):
    @extend_schema(summary="One dead letter: the failed step, its error and the trace",
                   responses={200: DeadLetterSerializer, **errors(404)})
    def get(self, request: Request, dead_letter_id: str) -> Response:
        return Response(DeadLetterSerializer(owned_dead_letter(request, dead_letter_id)).data)


class DeadLetterRequeueView(JSONAPIView):
    @extend_schema(summary="Requeue the failed run: it continues at the step that failed",
                   request=None, responses={200: DeadLetterSerializer, **errors(400, 404, 409)})
    def post(self, request: Request, dead_letter_id: str) -> Response:
        row = services.dead_letter_requeue(dead_letter=owned_dead_letter(request, dead_letter_id))
        row.task.refresh_from_db()
        return Response(DeadLetterSerializer(row).data)


urlpatterns = [
    path("dead-letters", DeadLetterListView.as_view(), name="dead-letter-list"),
    path("dead-letters/<str:dead_letter_id>", DeadLetterDetailView.as_view(), name="dead-letter-detail"),
    path("dead-letters/<str:dead_letter_id>/requeue", DeadLetterRequeueView.as_view(), name="dead-letter-requeue"),
]
