"""files: the paths a tool may read from or write to, all under context.artifacts_dir.

A path that came from the LLM must never reach outside the artifacts directory: `..`
and symlinks are resolved before the check, and anything outside is refused.
"""
from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path
from typing import Any, Protocol

from .base import ToolContext
from .errors import ToolInputError

_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]+")


def artifact_path(context: ToolContext, path: str) -> Path:
    """Resolve `path` (absolute, or relative to the artifacts directory) and refuse it outside."""
    root = context.artifacts_dir.resolve()
    candidate = Path(path).expanduser()
    resolved = (candidate if candidate.is_absolute() else root / candidate).resolve()
    if not resolved.is_relative_to(root):
        raise ToolInputError(f"{path!r} is outside the task's artifacts directory; only files there may be used")
    return resolved


def read_artifact(context: ToolContext, path: str, max_bytes: int) -> tuple[Path, bytes]:
    """The bytes of a file under the artifacts directory, refused over max_bytes."""
    resolved = artifact_path(context, path)
    if not resolved.is_file():
        raise ToolInputError(f"no file at {path!r} in the task's artifacts directory")
    if resolved.stat().st_size > max_bytes:
        raise ToolInputError(f"{resolved.name} is larger than the {max_bytes}-byte limit")
    return resolved, resolved.read_bytes()


def decode_base64(data: str, max_bytes: int, what: str) -> bytes:
    """Standard or URL-safe base64, refused over max_bytes before decoding it all."""
    compact = "".join(data.split())
    if len(compact) * 3 // 4 > max_bytes + 2:
        raise ToolInputError(f"{what} is larger than the {max_bytes}-byte limit")
    try:
        raw = base64.b64decode(compact.replace("-", "+").replace("_", "/") + "=" * (-len(compact) % 4),
                               validate=True)
    except (binascii.Error, ValueError):
        raise ToolInputError(f"{what} is not valid base64") from None
    if len(raw) > max_bytes:
        raise ToolInputError(f"{what} is larger than the {max_bytes}-byte limit")
    return raw


def safe_filename(name: str, default: str = "file") -> str:
    """A bare file name: no directories, no control characters, at most 200 characters."""
    cleaned = _UNSAFE.sub("_", name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]).strip(" .")
    return cleaned[:200] or default


class FileStore(Protocol):
    """The owner's files (context.store("files")): uploads to read, results to keep."""

    def open(self, ref: str) -> tuple[dict[str, Any], bytes]:
        """(description, bytes) of the owner's file with id `ref` or newest named `ref`;
        ToolInputError when there is none."""

    def save(self, name: str, content: bytes, content_type: str | None = None) -> dict[str, Any]:
        """Keep `content` as a file of the owner, made by this task's run; its description
        ({"id", "name", "size", "contentType", "createdAt"})."""
