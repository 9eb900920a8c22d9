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
from .config import setting
from .errors import ToolError, ToolInputError

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


def task_folder(context: ToolContext) -> Path:
    """artifacts_dir/<task id>/: where this task's tools write their files."""
    return context.artifacts_dir / safe_filename(context.task_id, "untasked")


def check_artifact_budget(context: ToolContext, adding: int) -> None:
    """Refuse, before anything is written, a file that would take the task's artifacts over their budget."""
    limit = setting("AGENT_TASK_ARTIFACT_MAX_BYTES", 200 * 1024 * 1024)
    folder = task_folder(context)
    used = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else 0
    if used + adding > limit:
        raise ToolError(f"the task's artifacts would be {used + adding} bytes ({used} kept, {adding} more), over "
                        f"the {limit}-byte limit (AGENT_TASK_ARTIFACT_MAX_BYTES); nothing was written")


def write_artifact(context: ToolContext, name: str, data: bytes) -> Path:
    """Keep `data` as `name` in the task's folder, within the task's artifact budget."""
    check_artifact_budget(context, len(data))
    folder = task_folder(context)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / safe_filename(name)
    path.write_bytes(data)
    return path


class FileStore(Protocol):
    """The owner's files (context.store("files")): uploads to read, results to keep."""

    def open(self, ref: str) -> tuple[dict[str, Any], bytes]:
        """(description, bytes) of the owner's file with id `ref` or newest named `ref`;
        ToolInputError when there is none."""

    def save(self, name: str, content: bytes, content_type: str | None = None) -> dict[str, Any]:
        """Keep `content` as a file of the owner, made by this task's run; its description
        ({"id", "name", "size", "contentType", "createdAt"})."""
