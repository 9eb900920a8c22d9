"""data: read a table (an uploaded file, a URL or inline rows), enrich its people from a real
provider, and write it to the built-in CRM, a named database or a file.

Bad rows are returned with their line and reason, never dropped silently; a write that
cannot be done raises, so a task never ends `completed` with nothing saved. Enrichment
values come only from the provider's answer (tools.enrichment), never from a model.
"""
from __future__ import annotations

from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from . import data_sinks, enrichment, http, tabular
from .base import SideEffect, Tool, ToolContext, ToolInput
from .enrich_rows import Enricher  # the per-row loop, kept apart to keep this module small
from .errors import ToolError, ToolInputError

tool = Tool("data", "Read, enrich and save tables of rows (CSV, XLSX, JSON; the built-in CRM).")

MAX_ROWS = 10_000
Rows = list[dict[str, Any]]


class CrmStore(Protocol):
    """The owner's built-in CRM (context.store("crm")): leads by email, and cached provider answers."""

    def upsert(self, leads: list[tuple[str, dict[str, Any], dict[str, str]]]) -> dict[str, Any]:
        """Write (email, fields, enrichment statuses); {"created", "updated" (emails), "createdIds",
        "before" (the updated leads' earlier fields)}. Emails are valid, lower-cased and unique."""

    def undo(self, created_ids: list[str], before: list[dict[str, Any]]) -> dict[str, int]:
        """Delete the created leads and restore the updated ones; {"deleted", "restored"}."""

    def cached(self, emails: list[str], max_age_s: float) -> dict[str, dict[str, Any]]:
        """Fresh provider answers by email: {"status": "matched"|"not_matched", "data": {...}}."""

    def remember(self, email: str, status: str, data: dict[str, Any]) -> None:
        """Keep the provider's answer for an email."""


# --- read --------------------------------------------------------------------------------------


class ReadInput(ToolInput):
    source: str | None = Field(default=None, max_length=2048,
                               description="An uploaded file's name (the newest) or id, or an http(s) URL")
    rows: Rows | None = Field(default=None, max_length=MAX_ROWS, description="Rows given inline instead")
    format: Literal["csv", "json", "xlsx"] | None = Field(default=None, description="Default: from name and bytes")
    sheet: str | None = Field(default=None, max_length=100, description="XLSX: the sheet (default the first)")
    key: str = Field(default="email", max_length=100, description="The email column: checked, lower-cased, unique")
    require_key: bool = Field(default=False, alias="requireKey",
                              description="Refuse a table without the email column (the CRM needs it)")


def _load(params: ReadInput, context: ToolContext) -> tuple[tabular.Table, dict[str, Any]]:
    if params.rows is not None:
        return tabular.from_items(params.rows), {"kind": "inline", "name": "rows"}
    if not params.source:
        raise ToolInputError("data.read needs a source (a file name, id or URL) or rows")
    if "://" in params.source:
        answer = http.request("GET", params.source, context)
        name = urlsplit(answer["url"]).path.rsplit("/", 1)[-1] or "download"
        kind = next((v for k, v in answer["headers"].items() if k.lower() == "content-type"), "")
        table = tabular.read(answer["content"], name=name, fmt=params.format, content_type=kind, sheet=params.sheet)
        return table, {"kind": "url", "name": name, "url": answer["url"]}
    described, content = context.store("files").open(params.source)
    table = tabular.read(content, name=described["name"], fmt=params.format, content_type=described["contentType"],
                         sheet=params.sheet)
    return table, {"kind": "file", "name": described["name"], "id": described["id"]}


@tool.action("read", credits=5)
def read(params: ReadInput, context: ToolContext) -> dict[str, Any]:
    """Read a CSV (encoding and delimiter detected), XLSX or JSON table into rows.

    Rows with the wrong number of fields, empty rows, and rows whose email is missing,
    invalid or repeated are returned in `rejected` with their line and reason.
    """
    table, source = _load(params, context)
    column = tabular.key_column(table.columns, params.key)
    if column is None and params.require_key:
        raise ToolInputError(f"{source['name']} has no {params.key!r} column, which the CRM keeps leads by; "
                             f"its columns: {', '.join(table.columns) or 'none'}")
    if column is not None:
        tabular.check_emails(table, column)
    if len(table.rows) > MAX_ROWS:
        raise ToolInputError(f"{source['name']} has {len(table.rows)} rows; at most {MAX_ROWS} per task")
    return {"rows": table.rows, "lines": table.lines, "columns": table.columns, "key": column,
            "read": len(table.rows) + len(table.rejected), "rejected": table.rejected, "source": source,
            "encoding": table.encoding, "delimiter": table.delimiter}


# --- enrich ------------------------------------------------------------------------------------


class EnrichInput(ToolInput):
    rows: Rows = Field(max_length=MAX_ROWS)
    fields: list[str] = Field(min_length=1, max_length=len(enrichment.FIELDS),
                              description=f"Fields to fill: {', '.join(enrichment.FIELDS)}")
    key: str = Field(default="email", max_length=100, description="The email column")

    @field_validator("fields")
    @classmethod
    def _known(cls, fields: list[str]) -> list[str]:
        return enrichment.known_fields(fields)


@tool.action("enrich", credits=20)
def enrich(params: EnrichInput, context: ToolContext) -> dict[str, Any]:
    """Fill the fields of each row from the enrichment provider (People Data Labs' API), by email.

    Each row's fields get a status: matched, not_matched, unavailable (no provider, no
    email) or error. Answers are cached per email; nothing is ever guessed.
    """
    return Enricher(params.rows, params.fields, params.key, context).run()


# --- write -------------------------------------------------------------------------------------


class WriteInput(ToolInput):
    rows: Rows = Field(max_length=MAX_ROWS)
    lines: list[int] | None = Field(default=None, description="The line each row came from, for reporting")
    columns: list[str] = Field(default_factory=list, max_length=1000,
                               description="Column order (a file's, a new table's); other keys follow")
    fields: list[str] = Field(default_factory=list, max_length=100, description="Enrichment fields, after columns")
    enrichment: list[dict[str, str]] | None = Field(default=None, description="Per row: field -> status")
    target: Literal["crm", "database", "file"] = Field(description="crm: the built-in CRM (upsert by email)")
    connection: str | None = Field(default=None, max_length=100, description="database: an AGENT_DATABASES name")
    table: str = Field(default="leads", max_length=130, description="database: the table (created if missing)")
    name: str | None = Field(default=None, max_length=200, description="file: the file name")
    format: Literal["csv", "json", "xlsx"] = "csv"
    key: str = Field(default="email", max_length=100, description="The email column rows are upserted by")


def _columns(rows: Rows) -> list[str]:
    return list(dict.fromkeys(name for row in rows for name in row))


def _ordered(rows: Rows, columns: list[str]) -> Rows:
    """Rows with their keys in `columns` order (stored JSON keeps no order), the rest after."""
    if not columns:
        return rows
    return [{**{c: row[c] for c in columns if c in row}, **{k: v for k, v in row.items() if k not in columns}}
            for row in rows]


def _where(params: WriteInput, index: int) -> int:
    return params.lines[index] if params.lines and index < len(params.lines) else index + 1


Lead = tuple[str, dict[str, Any], dict[str, str]]


def _valid_leads(params: WriteInput, column: str | None) -> tuple[list[Lead], Rows]:
    leads: list[Lead] = []
    rejected: Rows = []
    seen: set[str] = set()
    for index, row in enumerate(params.rows):
        email = str(row.get(column) or "").strip().lower() if column else ""
        reason = ("missing email" if not email else f"invalid email {email!r}" if not tabular.EMAIL.match(email)
                  else f"duplicate email {email}" if email in seen else "")
        if reason:
            rejected.append({"line": _where(params, index), "reason": reason})
            continue
        seen.add(email)
        statuses = params.enrichment[index] if params.enrichment and index < len(params.enrichment) else {}
        leads.append((email, {**row, str(column): email}, statuses))
    return leads, rejected


def _to_crm(params: WriteInput, context: ToolContext) -> dict[str, Any]:
    column = tabular.key_column(_columns(params.rows), params.key)
    leads, rejected = _valid_leads(params, column)
    if params.rows and not leads:  # nothing saved is a failed step, never a completed one
        raise ToolError(f"no row could be saved to the CRM: all {len(params.rows)} were rejected "
                        f"(line {rejected[0]['line']}: {rejected[0]['reason']})")
    done = context.store("crm").upsert(leads)
    context.record_compensation("data.rollback", {"createdIds": done["createdIds"], "before": done["before"]})
    return {"target": "crm", "written": len(done["created"]), "updated": len(done["updated"]),
            "rejected": rejected, "output": {"crm": "/api/crm/leads", "leads": len(leads)}}


@tool.action("write", side_effect=SideEffect.WRITE, credits=50, inverses=("data.rollback",))
def write(params: WriteInput, context: ToolContext) -> dict[str, Any]:
    """Save rows: to the built-in CRM (upserted by email: a rerun updates, never duplicates), to a
    table of a named database (created if missing), or as a CSV/JSON/XLSX file the owner can download.
    """
    if params.enrichment is not None and len(params.enrichment) != len(params.rows):
        raise ToolInputError("enrichment must hold one entry per row")
    if not params.rows:  # every row was rejected or filtered out: nothing saved is no success
        raise ToolError("no row to save: every row was rejected when read, or the transform kept none")
    params.rows = _ordered(params.rows, [*params.columns, *params.fields])
    if params.target == "crm":
        return _to_crm(params, context)
    if params.target == "database":
        if not params.connection:
            raise ToolInputError("target database needs a connection (a name from AGENT_DATABASES)")
        column = tabular.key_column(_columns(params.rows), params.key)
        done = data_sinks.write_table(params.connection, params.table, params.rows, key=column,
                                      statuses=params.enrichment, who=context)
        return {"target": "database", "written": done.pop("written"), "updated": done.pop("updated"),
                "rejected": [], "output": done}
    name = params.name or f"rows.{params.format}"
    content = data_sinks.serialize(params.rows, params.enrichment, params.format)
    saved = context.store("files").save(name, content, data_sinks.CONTENT_TYPES[params.format])
    return {"target": "file", "written": len(params.rows), "updated": 0, "rejected": [],
            "output": {"file": saved, "download": f"/api/files/{saved['id']}/download"}}


class RollbackInput(ToolInput):
    created_ids: list[str] = Field(default_factory=list, alias="createdIds", max_length=MAX_ROWS)
    before: Rows = Field(default_factory=list, max_length=MAX_ROWS)


@tool.action("rollback", side_effect=SideEffect.WRITE, credits=20)
def rollback(params: RollbackInput, context: ToolContext) -> dict[str, Any]:
    """Undo a data.write to the CRM (its compensation): delete the leads it created, restore the ones it updated."""
    return context.store("crm").undo(params.created_ids, params.before)
