"""Uploaded and produced files, per owner: save, find by id or name, read, describe.

The one place that writes Upload rows and their bytes (the API, the admin and the agents'
file store all come here). A file is only ever found among its owner's own.
"""
from __future__ import annotations

import hashlib
import mimetypes
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile

from .agent_data import Upload


class UploadError(ValueError):
    """The file is too large, has no name, or is not there (for this owner)."""


def max_bytes() -> int:
    return int(getattr(settings, "AGENT_UPLOAD_MAX_BYTES", 25 * 1024 * 1024))


def save(*, owner_id: int, name: str, content: bytes, content_type: str | None = None,
         task_id: str | None = None, run: int | None = None) -> Upload:
    """Store `content` as the owner's file `name` (a new version if the name exists)."""
    from tools.files import safe_filename  # a leaf helper of tools (no app imports there)

    clean = safe_filename(name, default="")
    if not clean:
        raise UploadError("the file needs a name")
    if len(content) > max_bytes():
        raise UploadError(f"{clean} is {len(content)} bytes; the limit is {max_bytes()} (AGENT_UPLOAD_MAX_BYTES)")
    guessed = content_type or mimetypes.guess_type(clean)[0] or "application/octet-stream"
    upload = Upload(owner_id=owner_id, name=clean, size=len(content), content_type=guessed[:255],
                    sha256=hashlib.sha256(content).hexdigest(), task_id=task_id, run=run)
    upload.file.save(clean, ContentFile(content), save=False)
    upload.save()
    return upload


def find(*, owner_id: int, ref: str) -> Upload:
    """The owner's file with id `ref`, else the owner's newest file named `ref`."""
    upload = (Upload.objects.filter(owner_id=owner_id, id=ref).first()
              or Upload.objects.filter(owner_id=owner_id, name=ref).order_by("-created_at").first())
    if upload is None:
        raise UploadError(f"no file {ref!r} among your uploads: upload it first (POST /api/files)")
    return upload


def read(upload: Upload) -> bytes:
    with upload.file.open("rb") as handle:
        return handle.read()


def delete(upload: Upload) -> None:
    upload.file.delete(save=False)
    upload.delete()


def describe(upload: Upload) -> dict[str, Any]:
    """The API's shape of a file."""
    return {"id": upload.id, "name": upload.name, "size": upload.size, "contentType": upload.content_type,
            "createdAt": upload.created_at.isoformat().replace("+00:00", "Z"),
            **({"taskId": upload.task_id} if upload.task_id else {})}
