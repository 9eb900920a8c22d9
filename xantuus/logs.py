"""Structured logs: LOG_FORMAT=json writes one JSON object per line, carrying the task, run and step
being worked on (context variables the engine binds), so one run can be followed through the logs.

Never put a secret into a log call's message or `extra`: this module writes what it is given.
"""
from __future__ import annotations

import json
import logging
import os
import traceback
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

IDS: dict[str, ContextVar[Any]] = {name: ContextVar(f"xantuus_{name}", default=None)
                                   for name in ("taskId", "run", "step", "action")}
# LogRecord's own attributes; anything else on a record came from `extra={...}`
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskId", "run", "step", "action"}


def bind(**ids: Any) -> None:
    """Set the ids that every log line of this thread (or asyncio task) carries from now on."""
    for name, value in ids.items():
        IDS[name].set(value)


def clear() -> None:
    for var in IDS.values():
        var.set(None)


def current() -> dict[str, Any]:
    return {name: var.get() for name, var in IDS.items() if var.get() is not None}


class ContextFilter(logging.Filter):
    """Copies the bound ids onto each record (as attributes), for any formatter."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in current().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat().replace("+00:00", "Z"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage(),
            "process": record.process, "thread": record.threadName,
        }
        entry.update(current())
        entry.update({name: getattr(record, name) for name in IDS if getattr(record, name, None) is not None})
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        return json.dumps(entry, default=str, ensure_ascii=False)


def json_enabled() -> bool:
    return os.environ.get("LOG_FORMAT", "").strip().lower() == "json"


def use_json_if_configured(logger: Any) -> None:
    """Give the handlers of `logger` (Celery's, after it set them up) the JSON formatter and the filter."""
    if not json_enabled() or not isinstance(logger, logging.Logger):
        return
    for handler in logger.handlers:
        handler.setFormatter(JsonFormatter())
        if not any(isinstance(f, ContextFilter) for f in handler.filters):
            handler.addFilter(ContextFilter())


def logging_config(level: str) -> dict[str, Any]:
    """settings.LOGGING: plain text by default, JSON lines with LOG_FORMAT=json."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "xantuus.logs.ContextFilter"}},
        "formatters": {"json": {"()": "xantuus.logs.JsonFormatter"}},
        "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["context"],
                                 **({"formatter": "json"} if json_enabled() else {})}},
        "root": {"handlers": ["console"], "level": level},
    }
