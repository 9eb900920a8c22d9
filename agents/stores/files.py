"""The owner's files for tools (tools.files.FileStore), over tasks_app.uploads."""
from __future__ import annotations

from typing import Any

from tasks_app import uploads
from tools.errors import ToolInputError

from . import Scope


class Store:
    def __init__(self, scope: Scope):
        self.scope = scope

    def open(self, ref: str) -> tuple[dict[str, Any], bytes]:
        try:
            upload = uploads.find(owner_id=self.scope.owner_id, ref=ref)
        except uploads.UploadError as exc:
            raise ToolInputError(str(exc)) from None
        return uploads.describe(upload), uploads.read(upload)

    def save(self, name: str, content: bytes, content_type: str | None = None) -> dict[str, Any]:
        try:
            upload = uploads.save(owner_id=self.scope.owner_id, name=name, content=content,
                                  content_type=content_type, task_id=self.scope.task_id, run=self.scope.run)
        except uploads.UploadError as exc:
            raise ToolInputError(str(exc)) from None
        return uploads.describe(upload)
