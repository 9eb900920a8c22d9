"""drive: list, upload, download and delete the user's Google Drive files (API v3).

Uploads read only text, base64 or a file under the task's artifacts directory, and carry
a key derived from the step's idempotency key (an appProperty), so a retried upload finds
the first file instead of making a second; they record a compensation (drive.delete).
Downloads land in artifacts_dir/<task id>/ and are size-capped. It must never read or
write outside the artifacts directory, nor put a Google token in an output or an error.
"""
from __future__ import annotations

import hashlib
import json
import mimetypes
import os
import secrets
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pydantic import Field, model_validator

from .base import SideEffect, Tool, ToolContext, ToolInput
from .config import setting
from .errors import ToolError, ToolInputError
from .files import decode_base64, read_artifact, safe_filename
from .google import GoogleAPIError, GoogleSession

tool = Tool("drive", "Read and change the user's Google Drive files.", uses_credentials=True)
LABEL = "drive"
MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # Drive's limit for a multipart upload
DEFAULT_MAX_DOWNLOAD_BYTES = 25 * 1024 * 1024  # GOOGLE_DRIVE_MAX_BYTES
FILE_FIELDS = "id, name, mimeType, size, modifiedTime, parents, webViewLink"
KEY_PROPERTY = "xantuusUploadKey"


class ListInput(ToolInput):
    q: str | None = Field(default=None, max_length=2048,
                          description="Drive search query, e.g. name contains 'report' and trashed = false")
    page_size: int = Field(default=100, ge=1, le=1000, alias="pageSize")
    page_token: str | None = Field(default=None, alias="pageToken", max_length=1024)
    order_by: str | None = Field(default=None, alias="orderBy", max_length=256)


class UploadInput(ToolInput):
    name: str = Field(min_length=1, max_length=255)
    mime_type: str | None = Field(default=None, alias="mimeType", pattern=r"^[\w.+-]+/[\w.+-]+$")
    text: str | None = Field(default=None, description="Content as text (UTF-8)")
    content_base64: str | None = Field(default=None, alias="contentBase64")
    path: str | None = Field(default=None, max_length=4096, description="A file in the task's artifacts directory")
    parents: list[str] = Field(default_factory=list, max_length=10, description="Folder ids")
    description: str | None = Field(default=None, max_length=4096)

    @model_validator(mode="after")
    def one_source(self) -> UploadInput:
        if sum(v is not None for v in (self.text, self.content_base64, self.path)) != 1:
            raise ValueError("give exactly one of text, contentBase64 or path")
        return self


class FileInput(ToolInput):
    file_id: str = Field(alias="fileId", min_length=1, max_length=1024)


def _file_path(file_id: str) -> str:
    return f"/drive/v3/files/{quote(file_id, safe='')}"


@tool.action("list", credits=10)
def list_files(params: ListInput, context: ToolContext) -> dict[str, Any]:
    """List files matching the Drive query `q` (default: everything not in the trash)."""
    query = {"q": params.q or "trashed = false", "pageSize": params.page_size, "pageToken": params.page_token,
             "orderBy": params.order_by, "fields": f"nextPageToken, files({FILE_FIELDS})"}
    with GoogleSession(context, LABEL) as google:
        page = google.request(
            "GET", "/drive/v3/files", params={k: v for k, v in query.items() if v is not None}).json() or {}
    result: dict[str, Any] = {"files": page.get("files", [])}
    if page.get("nextPageToken"):
        result["nextPageToken"] = page["nextPageToken"]
    return result


def _content(params: UploadInput, context: ToolContext) -> bytes:
    if params.text is not None:
        content = params.text.encode("utf-8")
        if len(content) > MAX_UPLOAD_BYTES:
            raise ToolInputError(f"text is larger than the {MAX_UPLOAD_BYTES}-byte upload limit")
        return content
    if params.content_base64 is not None:
        return decode_base64(params.content_base64, MAX_UPLOAD_BYTES, "contentBase64")
    return read_artifact(context, params.path or "", MAX_UPLOAD_BYTES)[1]


def _multipart(metadata: dict[str, Any], content: bytes, mime_type: str) -> tuple[bytes, str]:
    boundary = "xantuus-" + secrets.token_hex(16)
    body = b"".join([
        f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n".encode(),
        json.dumps(metadata).encode(),
        f"\r\n--{boundary}\r\nContent-Type: {mime_type}\r\n\r\n".encode(),
        content,
        f"\r\n--{boundary}--\r\n".encode(),
    ])
    return body, f"multipart/related; boundary={boundary}"


def _uploaded(file: dict[str, Any], context: ToolContext) -> dict[str, Any]:
    return {"file": file, "compensation": context.record_compensation("drive.delete", {"fileId": file["id"]})}


@tool.action("upload", side_effect=SideEffect.WRITE, credits=20, inverses=("drive.delete",))
def upload(params: UploadInput, context: ToolContext) -> dict[str, Any]:
    """Upload a file (at most 5 MB) named `name` from `text`, `contentBase64` or `path` (a file
    in the task's artifacts directory), optionally into folders `parents`."""
    content = _content(params, context)
    with GoogleSession(context, LABEL) as google:
        metadata: dict[str, Any] = {"name": params.name}
        if context.idempotency_key:
            key = hashlib.sha256(context.idempotency_key.encode()).hexdigest()[:32]
            metadata["appProperties"] = {KEY_PROPERTY: key}
            found = google.request("GET", "/drive/v3/files", params={
                "q": f"appProperties has {{ key='{KEY_PROPERTY}' and value='{key}' }} and trashed = false",
                "fields": f"files({FILE_FIELDS})", "pageSize": 1}).json() or {}
            if found.get("files"):  # a retry: the first attempt made it
                return _uploaded(found["files"][0], context)
        mime_type = params.mime_type or mimetypes.guess_type(params.name)[0] or "application/octet-stream"
        metadata.update({"mimeType": mime_type, "parents": params.parents or None, "description": params.description})
        body, content_type = _multipart({k: v for k, v in metadata.items() if v is not None}, content, mime_type)
        file = google.request("POST", "/upload/drive/v3/files", data=body, headers={"Content-Type": content_type},
                              params={"uploadType": "multipart", "fields": FILE_FIELDS}).json()
        return _uploaded(file, context)


@tool.action("download", credits=20)
def download(params: FileInput, context: ToolContext) -> dict[str, Any]:
    """Download file `fileId` into the task's artifacts directory; returns its path and size."""
    limit = int(setting("GOOGLE_DRIVE_MAX_BYTES", DEFAULT_MAX_DOWNLOAD_BYTES))
    with GoogleSession(context, LABEL) as google:
        meta = _metadata(google, params.file_id)
        if str(meta.get("mimeType", "")).startswith("application/vnd.google-apps."):
            raise ToolError(f"drive: {meta.get('name')!r} is a Google Docs editors file; it can be exported,"
                            " not downloaded, and export is not supported yet")
        if int(meta.get("size") or 0) > limit:
            raise ToolError(f"drive: {meta.get('name')!r} is larger than the {limit}-byte download limit")
        folder = (context.artifacts_dir / safe_filename(context.task_id, "adhoc")
                  / f"drive-{safe_filename(params.file_id)}")
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / safe_filename(str(meta.get("name") or params.file_id))
        size = _download_to(google, params.file_id, target, limit)
        return {"fileId": params.file_id, "name": meta.get("name"), "mimeType": meta.get("mimeType"),
                "path": str(target), "size": size}


def _metadata(google: GoogleSession, file_id: str) -> dict[str, Any]:
    try:
        return google.request("GET", _file_path(file_id), params={"fields": "id, name, mimeType, size"}).json()
    except GoogleAPIError as exc:
        if exc.status == 404:
            raise ToolError(f"drive: no file {file_id!r} (or no access to it)") from None
        raise


def _download_to(google: GoogleSession, file_id: str, target: Path, limit: int) -> int:
    """Write to a temporary file beside the target, renamed into place only when complete."""
    fd, partial = tempfile.mkstemp(dir=target.parent, prefix=".partial-")
    try:
        with os.fdopen(fd, "wb") as sink:
            size = google.download(_file_path(file_id), sink, max_bytes=limit, params={"alt": "media"})
        os.replace(partial, target)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return size


@tool.action("delete", side_effect=SideEffect.WRITE, credits=10)
def delete(params: FileInput, context: ToolContext) -> dict[str, Any]:
    """Delete file `fileId` permanently (it skips the trash; approval policies may ask a person first)."""
    try:
        with GoogleSession(context, LABEL) as google:
            google.request("DELETE", _file_path(params.file_id))
    except GoogleAPIError as exc:
        if exc.status == 404:
            raise ToolError(f"drive: no file {params.file_id!r} (it may be deleted already)") from None
        raise
    return {"deleted": True, "fileId": params.file_id}
