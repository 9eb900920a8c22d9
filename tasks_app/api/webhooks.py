"""/api/webhooks: endpoints for task events (Standard Webhooks), their deliveries, and the
per-user notification preferences (which kinds by email, which by webhook).

The signing secret is in the answer to POST only; no other answer carries it. Only the
requesting user's endpoints are ever read or changed (another's is a 404).
"""
# ruff: noqa: N815  (field names are the wire names)
from __future__ import annotations

from typing import Any

from django.urls import path
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from tasks_app import account_selectors, notification_prefs, webhooks
from tasks_app.control_data import WEBHOOK_EVENTS, WebhookDelivery, WebhookEndpoint

from .fields import StrictCharField, StrictSerializer
from .schema import errors, page_of
from .views import MAX_ID, JSONAPIView, Pagination, user_of, validated

EVENTS = serializers.ListField(child=serializers.ChoiceField(choices=list(WEBHOOK_EVENTS)), max_length=10,
                               help_text=f"any of {', '.join(WEBHOOK_EVENTS)}")


class WebhookCreateSerializer(StrictSerializer):
    url = serializers.URLField(max_length=2048, help_text="http(s) URL the events are POSTed to")
    events = EVENTS
    description = StrictCharField(required=False, allow_blank=True, max_length=200, default="")


class WebhookPatchSerializer(StrictSerializer):
    url = serializers.URLField(required=False, max_length=2048)
    events = serializers.ListField(child=serializers.ChoiceField(choices=list(WEBHOOK_EVENTS)), max_length=10,
                                   required=False)
    description = StrictCharField(required=False, allow_blank=True, max_length=200)
    enabled = serializers.BooleanField(required=False)


class WebhookSerializer(serializers.Serializer):
    id = serializers.CharField()
    url = serializers.CharField()
    events = serializers.ListField(child=serializers.CharField())
    description = serializers.CharField(allow_blank=True)
    enabled = serializers.BooleanField()
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")


class WebhookWithSecretSerializer(WebhookSerializer):
    secret = serializers.SerializerMethodField(help_text="whsec_…: shown once, now; verify deliveries with it")

    def get_secret(self, endpoint: WebhookEndpoint) -> str:
        return str(self.context["secret"])  # given by the registration: no other answer carries it


class AttemptSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    startedAt = serializers.DateTimeField(source="started_at")
    durationMs = serializers.IntegerField(source="duration_ms")
    statusCode = serializers.IntegerField(source="status_code", allow_null=True)
    error = serializers.CharField(allow_blank=True)


class DeliverySerializer(serializers.Serializer):
    id = serializers.CharField(help_text="the webhook-id header is msg_ + this id")
    event = serializers.CharField()
    taskId = serializers.CharField(source="task_id", allow_null=True)
    status = serializers.CharField(help_text="pending, delivered or failed (given up)")
    attempts = serializers.IntegerField()
    nextAttemptAt = serializers.DateTimeField(source="next_attempt_at", allow_null=True)
    lastStatusCode = serializers.IntegerField(source="last_status_code", allow_null=True)
    lastError = serializers.CharField(source="last_error", allow_blank=True)
    createdAt = serializers.DateTimeField(source="created_at")
    deliveredAt = serializers.DateTimeField(source="delivered_at", allow_null=True)
    payload = serializers.JSONField(help_text="the body sent: type, timestamp, data")
    attemptLog = AttemptSerializer(source="attempt_rows.all", many=True)


DeliveryPageSerializer = page_of(DeliverySerializer)


def owned_webhook(request: Request, webhook_id: str) -> WebhookEndpoint:
    endpoint = (account_selectors.webhook_of_user(user=user_of(request), webhook_id=webhook_id)
                if 0 < len(webhook_id) <= MAX_ID else None)
    if endpoint is None:
        raise NotFound(f"webhook {webhook_id[:MAX_ID]!r} not found")
    return endpoint


class WebhookListView(JSONAPIView):
    @extend_schema(summary="Your webhooks (never their secrets)", responses={200: WebhookSerializer(many=True),
                                                                          **errors()})
    def get(self, request: Request) -> Response:
        return Response(WebhookSerializer(account_selectors.webhooks_for_user(user=user_of(request)), many=True).data)

    @extend_schema(summary="Register a URL for task events; the answer holds its signing secret, once",
                   request=WebhookCreateSerializer, responses={201: WebhookWithSecretSerializer, **errors(400)})
    def post(self, request: Request) -> Response:
        body = validated(WebhookCreateSerializer, request.data).validated_data
        endpoint, secret = webhooks.webhook_register(user=user_of(request), url=body["url"], events=body["events"],
                                                     description=body["description"])
        created = WebhookWithSecretSerializer(endpoint, context={"secret": secret}).data
        return Response(created, status=status.HTTP_201_CREATED)


class WebhookDetailView(JSONAPIView):
    @extend_schema(summary="One webhook (never its secret)", responses={200: WebhookSerializer, **errors(404)})
    def get(self, request: Request, webhook_id: str) -> Response:
        return Response(WebhookSerializer(owned_webhook(request, webhook_id)).data)

    @extend_schema(summary="Change a webhook's URL, events, description or enabled",
                   request=WebhookPatchSerializer, responses={200: WebhookSerializer, **errors(400, 404)})
    def patch(self, request: Request, webhook_id: str) -> Response:
        endpoint = owned_webhook(request, webhook_id)
        changes = dict(validated(WebhookPatchSerializer, request.data).validated_data)
        return Response(WebhookSerializer(webhooks.webhook_update(endpoint=endpoint, changes=changes)).data)

    @extend_schema(summary="Remove a webhook and its deliveries",
                   responses={204: OpenApiResponse(description="removed"), **errors(404)})
    def delete(self, request: Request, webhook_id: str) -> Response:
        webhooks.webhook_remove(endpoint=owned_webhook(request, webhook_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class DeliveryListView(JSONAPIView):
    @extend_schema(
        summary="A webhook's deliveries, newest first, each with its attempts (filter: status)",
        parameters=[OpenApiParameter("status", str, required=False, enum=list(WebhookDelivery.Status.values)),
                    OpenApiParameter("page", int, required=False), OpenApiParameter("pageSize", int, required=False)],
        responses={200: DeliveryPageSerializer, **errors(400, 404)},
    )
    def get(self, request: Request, webhook_id: str) -> Response:
        endpoint = owned_webhook(request, webhook_id)
        wanted = request.query_params.get("status") or None
        if wanted is not None and wanted not in WebhookDelivery.Status.values:
            raise ValidationError({"status": [f"must be one of {', '.join(WebhookDelivery.Status.values)}"]})
        rows = account_selectors.webhook_deliveries(endpoint, status=wanted)
        paginator = Pagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(DeliverySerializer(page or [], many=True).data)


class PreferencesSerializer(serializers.Serializer):
    emailKinds = serializers.ListField(child=serializers.CharField(),
                                       help_text=f"emailed: any of {', '.join(notification_prefs.EMAIL_KINDS)}")
    webhookKinds = serializers.ListField(child=serializers.CharField(),
                                         help_text=f"sent to your webhooks: any of {', '.join(WEBHOOK_EVENTS)}")


class PreferencesPatchSerializer(StrictSerializer):
    emailKinds = serializers.ListField(child=StrictCharField(max_length=30), required=False, max_length=10)
    webhookKinds = serializers.ListField(child=StrictCharField(max_length=30), required=False, max_length=10)


def _prefs(prefs: notification_prefs.Preferences) -> dict[str, Any]:
    wire = {"emailKinds": list(prefs.email_kinds), "webhookKinds": list(prefs.webhook_kinds)}
    return PreferencesSerializer(wire).data


class PreferencesView(JSONAPIView):
    @extend_schema(summary="Which notification kinds you get by email and which by webhook",
                   responses={200: PreferencesSerializer, **errors()})
    def get(self, request: Request) -> Response:
        return Response(_prefs(notification_prefs.for_user(user_of(request).id)))

    @extend_schema(summary="Choose which kinds are emailed and which go to your webhooks",
                   request=PreferencesPatchSerializer, responses={200: PreferencesSerializer, **errors(400)})
    def patch(self, request: Request) -> Response:
        body = validated(PreferencesPatchSerializer, request.data).validated_data
        try:
            prefs = notification_prefs.preferences_update(
                user_id=user_of(request).id, email_kinds=body.get("emailKinds"), webhook_kinds=body.get("webhookKinds"))
        except notification_prefs.InvalidPreferences as exc:
            raise ValidationError({exc.field: [str(exc)]}) from None
        return Response(_prefs(prefs))


urlpatterns = [
    path("webhooks", WebhookListView.as_view(), name="webhook-list"),
    path("webhooks/<str:webhook_id>", WebhookDetailView.as_view(), name="webhook-detail"),
    path("webhooks/<str:webhook_id>/deliveries", DeliveryListView.as_view(), name="webhook-deliveries"),
    path("notifications/preferences", PreferencesView.as_view(), name="notification-preferences"),
]
