"""/api/credentials: the user's connected accounts (Google OAuth tokens, the email provider).

Stored encrypted through tasks_app.credentials; every answer names the provider and when
it was stored, never the secret. Only the requesting user's rows are ever read or written.
"""
# ruff: noqa: N815  (field names are the wire names)
from __future__ import annotations

from typing import Any

from django.urls import path
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from tasks_app import credentials
from tools.config import setting
from tools.google import DEFAULT_TOKEN_URI

from .fields import StrictCharField, StrictSerializer
from .schema import errors
from .views import JSONAPIView, user_of, validated


class ConnectedSerializer(serializers.Serializer):
    provider = serializers.CharField()
    updatedAt = serializers.DateTimeField(source="updated_at")


class GoogleCredentialSerializer(StrictSerializer):
    """google-auth's authorized-user fields (what `Credentials.to_json()` writes)."""

    token = StrictCharField(required=False, max_length=4096, help_text="an access token")
    refresh_token = StrictCharField(required=False, max_length=4096)
    token_uri = serializers.URLField(required=False, max_length=2048,
                                     help_text="default GOOGLE_TOKEN_URI; another needs your own client_id/secret")
    client_id = StrictCharField(required=False, max_length=512, help_text="default GOOGLE_CLIENT_ID")
    client_secret = StrictCharField(required=False, max_length=512, help_text="default GOOGLE_CLIENT_SECRET")
    scopes = serializers.ListField(child=StrictCharField(max_length=512), required=False, max_length=50)
    expiry = serializers.DateTimeField(required=False, help_text="when the access token expires (ISO 8601)")
    email = serializers.EmailField(required=False, help_text="the account's address (Gmail's From)")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("token") and not attrs.get("refresh_token"):
            raise serializers.ValidationError("give a token, a refresh_token or both")
        configured = setting("GOOGLE_TOKEN_URI", DEFAULT_TOKEN_URI)
        own_client = attrs.get("client_id") and attrs.get("client_secret")
        if attrs.get("token_uri", configured) != configured and not own_client:
            # a refresh sends the client secret to token_uri: the operator's must go nowhere else
            raise serializers.ValidationError(
                {"token_uri": [f"must be {configured} unless you give your own client_id and client_secret"]})
        return attrs

    def secret(self) -> dict[str, Any]:
        data = dict(self.validated_data)
        if "expiry" in data:
            data["expiry"] = data["expiry"].isoformat()
        return data


class EmailProviderSerializer(StrictSerializer):
    provider = serializers.ChoiceField(choices=["smtp", "gmail"],
                                       help_text="how email.send sends when a step names no provider")

    def secret(self) -> str:
        return str(self.validated_data["provider"])  # the email tool reads a plain string


PROVIDERS: dict[str, type[GoogleCredentialSerializer | EmailProviderSerializer]] = {
    "google": GoogleCredentialSerializer, "email_provider": EmailProviderSerializer,
}
CREDENTIAL_BODY = PolymorphicProxySerializer(
    component_name="CredentialBody", serializers=[GoogleCredentialSerializer, EmailProviderSerializer],
    resource_type_field_name=None)
PROVIDER_PARAM = OpenApiParameter("provider", str, OpenApiParameter.PATH, enum=sorted(PROVIDERS))


def _known(provider: str) -> str:
    if provider not in PROVIDERS:
        raise NotFound(f"no credential provider {provider[:50]!r}; known: {', '.join(sorted(PROVIDERS))}")
    return provider


def _connected(user_id: int, provider: str) -> dict[str, Any]:
    return next(row for row in credentials.connected(user_id=user_id) if row["provider"] == provider)


class CredentialListView(JSONAPIView):
    @extend_schema(summary="Your connected providers and when each was stored (never the secrets)",
                   responses={200: ConnectedSerializer(many=True), **errors()})
    def get(self, request: Request) -> Response:
        return Response(ConnectedSerializer(credentials.connected(user_id=user_of(request).id), many=True).data)


class CredentialDetailView(JSONAPIView):
    @extend_schema(
        summary="Store a provider's credential, encrypted (google: OAuth fields; email_provider: smtp or gmail)",
        parameters=[PROVIDER_PARAM], request=CREDENTIAL_BODY,
        responses={200: ConnectedSerializer, **errors(400, 404)},
    )
    def put(self, request: Request, provider: str) -> Response:
        body = validated(PROVIDERS[_known(provider)], request.data)
        user_id = user_of(request).id
        credentials.store(user_id=user_id, provider=provider, secret=body.secret())
        return Response(ConnectedSerializer(_connected(user_id, provider)).data)

    @extend_schema(summary="Forget a provider's credential", parameters=[PROVIDER_PARAM],
                   responses={204: OpenApiResponse(description="removed"), **errors(404)})
    def delete(self, request: Request, provider: str) -> Response:
        if not credentials.remove(user_id=user_of(request).id, provider=_known(provider)):
            raise NotFound(f"no {provider} credential is stored")
        return Response(status=status.HTTP_204_NO_CONTENT)


urlpatterns = [
    path("credentials", CredentialListView.as_view(), name="credential-list"),
    path("credentials/<str:provider>", CredentialDetailView.as_view(), name="credential-detail"),
]
