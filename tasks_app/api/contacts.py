"""/api/contacts: the audience campaigns select from (upsert by email, CSV import, list, edit).

Views validate the query, call tasks_app.contacts / contacts_import, and serialize; only the
requesting user's contacts are ever read or written (another user's id is a 404).
"""
# ruff: noqa: N815  (field names are the wire names)
from __future__ import annotations

from typing import Any

from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from tasks_app import contacts, contacts_import
from tasks_app.agent_data import Contact

from .errors import error_body, summary
from .fields import StrictCharField
from .schema import errors, obj, page_of
from .views import JSONAPIView, Pagination, user_of, validated

MAX_BATCH = 1000


class ContactSerializer(serializers.Serializer):
    id = serializers.CharField()
    email = serializers.EmailField()
    name = serializers.CharField()
    signupDate = serializers.DateField(source="signup_date", allow_null=True)
    plan = serializers.CharField(help_text="e.g. trial, paid")
    attributes = serializers.DictField(help_text="free fields, e.g. {\"features_used\": [\"browser\"]}")
    unsubscribed = serializers.BooleanField()
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")


class ContactInputSerializer(serializers.Serializer):
    """For the schema: the service (contacts.clean) validates, naming each bad field."""

    email = serializers.EmailField(help_text="unique per user; stored lower-cased")
    name = serializers.CharField(required=False, max_length=200)
    signupDate = serializers.DateField(required=False, allow_null=True)
    plan = serializers.CharField(required=False, max_length=50)
    attributes = serializers.DictField(required=False, help_text="merged key by key into the stored ones")
    unsubscribed = serializers.BooleanField(required=False)


class RowErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField(required=False, help_text="the row's position in the posted list (from 0)")
    line = serializers.IntegerField(required=False, help_text="the row's line in the CSV file (from 1)")
    message = serializers.CharField()
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))  # type: ignore[assignment]


class UpsertResultSerializer(serializers.Serializer):
    created = ContactSerializer(many=True)
    updated = ContactSerializer(many=True)
    errors = RowErrorSerializer(many=True,  # type: ignore[assignment]  # the wire name
                                help_text="the rows refused, each with its problems; the others are kept")
    encoding = serializers.CharField(required=False, help_text="CSV import: the encoding the file was read in")


ContactPageSerializer = page_of(ContactSerializer)


class ContactQuerySerializer(serializers.Serializer):
    plan = StrictCharField(max_length=50, required=False)
    unsubscribed = serializers.BooleanField(required=False, allow_null=True, default=None)
    signupAfter = serializers.DateField(required=False, help_text="signupDate on or after this day")
    signupBefore = serializers.DateField(required=False, help_text="signupDate on or before this day")
    search = StrictCharField(max_length=200, required=False, help_text="part of the email or the name")
    page = serializers.IntegerField(min_value=1, max_value=100_000, required=False)
    pageSize = serializers.IntegerField(min_value=1, max_value=100, required=False)


def _answer(done: contacts.Upserted, key: str, **extra: Any) -> Response:
    body = {"created": done.created, "updated": done.updated,
            "errors": [{key: e["position"], "message": e["message"], "fields": e["fields"]} for e in done.errors],
            **extra}
    code = status.HTTP_201_CREATED if done.created else status.HTTP_200_OK
    return Response(UpsertResultSerializer(body).data, status=code)


def _rows(data: Any) -> list[tuple[Any, Any]]:
    if isinstance(data, list):
        if not data or len(data) > MAX_BATCH:
            raise ValidationError({"body": [f"give 1 to {MAX_BATCH} contacts, got {len(data)}"]})
        return list(enumerate(data))
    return [(None, data)]


def owned_contact(request: Request, contact_id: str) -> Contact:
    contact = contacts.find(owner_id=user_of(request).id, contact_id=contact_id)
    if contact is None:
        raise NotFound(f"contact {contact_id[:40]!r} not found")
    return contact


class ContactListView(JSONAPIView):
    @extend_schema(summary="List your contacts (filters: plan, unsubscribed, signupAfter/signupBefore, search)",
                   operation_id="contacts_list", parameters=[ContactQuerySerializer],
                   responses={200: ContactPageSerializer, **errors(400, 404)})
    def get(self, request: Request) -> Response:
        query = validated(ContactQuerySerializer, request.query_params).validated_data
        paginator = Pagination()
        page = paginator.paginate_queryset(contacts.filtered(owner_id=user_of(request).id, query=query),
                                           request, view=self)
        return paginator.get_paginated_response(ContactSerializer(page, many=True).data)

    @extend_schema(
        summary="Upsert contacts by email: one contact or a list (bad rows reported by index, the others kept)",
        request=ContactInputSerializer,
        responses={201: UpsertResultSerializer, 200: UpsertResultSerializer, **errors(400)},
        description="The body is one contact object or a JSON list of up to 1000. A single invalid contact, or a "
                    "list where every row is invalid, is a 400 naming each field (`3.email` for row 3 of a list).",
    )
    def post(self, request: Request) -> Response:
        rows = _rows(request.data)
        done = contacts.upsert_many(owner_id=user_of(request).id, rows=rows)
        if not done.created and not done.updated:
            fields = {(f"{e['position']}.{name}" if e["position"] is not None else name): problems
                      for e in done.errors for name, problems in e["fields"].items()}
            return Response(error_body("invalid", summary(fields), fields), status=status.HTTP_400_BAD_REQUEST)
        return _answer(done, "index")


class ContactImportView(JSONAPIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        summary="Import contacts from a CSV file (multipart field `file`): upsert by email, bad lines reported",
        request={"multipart/form-data": obj("ContactImport", file=serializers.FileField(
            help_text="CSV with a header line: email, name, signup_date, plan, unsubscribed; other columns "
                      "become attributes. UTF-8 (with or without BOM) or cp1252; , ; or tab separated"))},
        responses={201: UpsertResultSerializer, 200: UpsertResultSerializer, **errors(400)},
    )
    def post(self, request: Request) -> Response:
        upload = request.FILES.get("file")
        if upload is None:
            raise ValidationError({"file": ["attach the CSV file as the multipart field `file`"]})
        try:
            done, encoding = contacts_import.import_csv(owner_id=user_of(request).id, content=upload.read())
        except contacts_import.CSVImportError as exc:
            raise ValidationError({"file": [str(exc)]}) from None
        return _answer(done, "line", encoding=encoding)


class ContactDetailView(JSONAPIView):
    @extend_schema(summary="Read a contact", responses={200: ContactSerializer, **errors(404)})
    def get(self, request: Request, contact_id: str) -> Response:
        return Response(ContactSerializer(owned_contact(request, contact_id)).data)

    @extend_schema(summary="Change a contact's given fields (attributes are replaced whole)",
                   request=ContactInputSerializer(partial=True),
                   responses={200: ContactSerializer, **errors(400, 404)})
    def patch(self, request: Request, contact_id: str) -> Response:
        contact = owned_contact(request, contact_id)
        try:
            contact = contacts.update(contact=contact, data=request.data)
        except contacts.ContactError as exc:
            raise ValidationError(exc.fields) from None
        return Response(ContactSerializer(contact).data)

    @extend_schema(summary="Delete a contact (its delivery history stays, without the contact)",
                   responses={204: OpenApiResponse(description="deleted"), **errors(404)})
    def delete(self, request: Request, contact_id: str) -> Response:
        contacts.delete(contact=owned_contact(request, contact_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


urlpatterns = [
    path("contacts", ContactListView.as_view(), name="contact-list"),
    path("contacts/import", ContactImportView.as_view(), name="contact-import"),
    path("contacts/<str:contact_id>", ContactDetailView.as_view(), name="contact-detail"),
]
