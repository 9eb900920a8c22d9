"""/api/files: the user's files (leads.csv to process, the exports and reports tasks made).

Upload (multipart field `file`), list, describe, download, delete, all through
tasks_app.uploads; another user's file is a 404, like a missing one.
"""
# ruff: noqa: N815  (field names are the wire names)
from __future__ import annotations

from django.http import FileResponse
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from tasks_app import account_selectors, uploads
from tasks_app.agent_data import Upload

from .errors import error_body
from .schema import ErrorSerializer, errors, obj, page_of
from .views import JSONAPIView, Pagination, user_of, valid_id


class FileSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    size = serializers.IntegerField(help_text="bytes")
    contentType = serializers.CharField()
    createdAt = serializers.CharField(help_text="ISO 8601, UTC")
    taskId = serializers.CharField(required=False, help_text="the task that made it, for a task's output")


FilePageSerializer = page_of(FileSerializer)


def owned_file(request: Request, file_id: str) -> Upload:
    upload = account_selectors.file_of_user(user=user_of(request), file_id=file_id) if valid_id(file_id) else None
    if upload is None:
        raise NotFound(f"file {file_id!r} not found")
    return upload


class FileListView(JSONAPIView):
    parser_classes = [MultiPartParser]  # an upload is the only body this view reads

    @extend_schema(summary="Your files, newest first (?name= filters by part of the name)", operation_id="files_list",
                   parameters=[OpenApiParameter("name", str, required=False),
                               OpenApiParameter("page", int, required=False),
                               OpenApiParameter("pageSize", int, required=False)],
                   responses={200: FilePageSerializer, **errors(400, 404)})
    def get(self, request: Request) -> Response:
        files = account_selectors.files_for_user(user=user_of(request), name=request.query_params.get("name", "")[:255])
        paginator = Pagination()
        page = paginator.paginate_queryset(files, request, view=self)
        return paginator.get_paginated_response([uploads.describe(u) for u in page or []])

    @extend_schema(
        summary="Upload a file (multipart field `file`); a name already used makes a newer version",
        request={"multipart/form-data": obj("FileUpload", file=serializers.FileField(
            help_text="at most AGENT_UPLOAD_MAX_BYTES (default 25 MiB)"))},
        responses={201: FileSerializer, **errors(400),
                   413: OpenApiResponse(ErrorSerializer, description="the file is over AGENT_UPLOAD_MAX_BYTES")},
    )
    def post(self, request: Request) -> Response:
        given = request.FILES.get("file")
        if given is None:
            raise ValidationError({"file": ["attach the file as the multipart field `file`"]})
        if given.size is not None and given.size > uploads.max_bytes():
            message = (f"{given.name} is {given.size} bytes; the limit is {uploads.max_bytes()} bytes "
                       "(AGENT_UPLOAD_MAX_BYTES)")
            return Response(error_body("too_large", message, {"file": [message]}),
                            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        try:
            upload = uploads.save(owner_id=user_of(request).id, name=given.name or "", content=given.read(),
                                  content_type=given.content_type)
        except uploads.UploadError as exc:
            raise ValidationError({"file": [str(exc)]}) from None
        return Response(uploads.describe(upload), status=status.HTTP_201_CREATED)


class FileDetailView(JSONAPIView):
    @extend_schema(summary="Describe a file", responses={200: FileSerializer, **errors(404)})
    def get(self, request: Request, file_id: str) -> Response:
        return Response(uploads.describe(owned_file(request, file_id)))

    @extend_schema(summary="Delete a file (its bytes too)",
                   responses={204: OpenApiResponse(description="deleted"), **errors(404)})
    def delete(self, request: Request, file_id: str) -> Response:
        uploads.delete(owned_file(request, file_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class FileDownloadView(JSONAPIView):
    @extend_schema(summary="The file's bytes, as an attachment",
                   responses={(200, "application/octet-stream"): OpenApiResponse(description="the file"),
                              **errors(404)})
    def get(self, request: Request, file_id: str) -> FileResponse:
        upload = owned_file(request, file_id)
        return FileResponse(upload.file.open("rb"), as_attachment=True, filename=upload.name,
                            content_type=upload.content_type)


urlpatterns = [
    path("files", FileListView.as_view(), name="file-list"),
    path("files/<str:file_id>", FileDetailView.as_view(), name="file-detail"),
    path("files/<str:file_id>/download", FileDownloadView.as_view(), name="file-download"),
]
