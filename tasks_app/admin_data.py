"""Admin for the data agents' rows: uploaded and produced files, CRM leads, cached enrichment answers.

Files are added through tasks_app.uploads (the API); here they are listed, downloaded and
deleted. Leads are read-only apart from deletion (they are written by runs, upserted by email).
"""
from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from . import uploads
from .agent_data import EnrichmentLookup, Lead, PriceObservation, Upload


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Upload)
class UploadAdmin(ReadOnly):
    list_display = ("name", "owner", "size", "content_type", "task", "created_at", "download")
    list_filter = ("content_type",)
    search_fields = ("name", "owner__username", "sha256")
    readonly_fields = ("id", "owner", "name", "file", "size", "content_type", "sha256", "task", "run", "created_at")
    actions = ["delete_files"]

    @admin.display(description="download")
    def download(self, obj: Upload) -> str:
        return format_html('<a href="{}">download</a>', reverse("admin:tasks_app_upload_download", args=[obj.id]))

    def get_urls(self) -> list[URLPattern]:
        download = path("<str:upload_id>/download/", self.admin_site.admin_view(self.download_view),
                        name="tasks_app_upload_download")
        return [download, *super().get_urls()]

    def download_view(self, request: HttpRequest, upload_id: str) -> FileResponse:
        upload = get_object_or_404(Upload, id=upload_id)
        return FileResponse(upload.file.open("rb"), as_attachment=True, filename=upload.name,
                            content_type=upload.content_type)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        found = super().get_actions(request)
        found.pop("delete_selected", None)  # the bytes go too: through uploads.delete
        return found

    @admin.action(description="Delete the selected files (and their bytes)")
    def delete_files(self, request: HttpRequest, queryset: QuerySet[Upload]) -> None:
        for upload in queryset:
            uploads.delete(upload)

    def delete_model(self, request: HttpRequest, obj: Upload) -> None:
        uploads.delete(obj)


@admin.register(Lead)
class LeadAdmin(ReadOnly):
    list_display = ("email", "owner", "name", "company", "title", "task", "updated_at")
    search_fields = ("email", "owner__username")
    list_filter = ("updated_at",)
    readonly_fields = ("id", "owner", "email", "fields", "enrichment", "task", "created_at", "updated_at")

    @admin.display(description="name")
    def name(self, obj: Lead) -> str:
        return str((obj.fields or {}).get("name") or "")

    @admin.display(description="company")
    def company(self, obj: Lead) -> str:
        fields = obj.fields or {}
        return str(fields.get("company") or fields.get("Company") or "")

    @admin.display(description="title")
    def title(self, obj: Lead) -> str:
        return str((obj.fields or {}).get("title") or "")


@admin.register(EnrichmentLookup)
class EnrichmentLookupAdmin(ReadOnly):
    list_display = ("email", "owner", "provider", "status", "fetched_at")
    list_filter = ("provider", "status")
    search_fields = ("email", "owner__username")
    readonly_fields = ("owner", "email", "provider", "status", "data", "fetched_at")


@admin.register(PriceObservation)
class PriceObservationAdmin(ReadOnly):
    """Every reading of a watched page; what a monitor compares its next run with."""

    list_display = ("url", "price", "currency", "error", "task", "run", "owner", "observed_at")
    list_filter = ("currency",)
    search_fields = ("url", "owner__username", "task__id", "task__title")
    readonly_fields = ("id", "owner", "task", "run", "url", "price", "currency", "text", "error", "observed_at")
