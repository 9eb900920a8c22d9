"""Where data.write puts rows besides the built-in CRM: a table of a named PostgreSQL connection
(created if missing, upserted by email when it has an email column) or a CSV/JSON/XLSX file.

Identifiers reach SQL only validated and quoted, values only as parameters (tools.pg).
"""
from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

from psycopg import sql

from .errors import ToolInputError
from .pg import TABLE_RE, Cursor, Table, connect, insert_rows, key_of, load_table, update_by_key
from .pg_connections import Caller

CONTENT_TYPES = {"csv": "text/csv", "json": "application/json",
                 "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
STATUS_COLUMN = "enrichment"


def column_name(name: str) -> str:
    """A header as a PostgreSQL column: "First Name" -> first_name, "2024 revenue" -> c_2024_revenue."""
    ident = re.sub(r"[^a-z0-9_]+", "_", name.strip().lower()).strip("_") or "column"
    return (f"c_{ident}" if ident[0].isdigit() else ident)[:63]


def _columns(rows: list[dict[str, Any]]) -> dict[str, str]:
    """header -> column name, in first-seen order, each column name once."""
    mapping: dict[str, str] = {}
    for row in rows:
        for header in row:
            if header not in mapping:
                base, n = column_name(header), 2
                ident = base
                while ident in mapping.values() or ident == "id":
                    ident, n = f"{base[:60]}_{n}", n + 1
                mapping[header] = ident
    return mapping


def _create(cur: Cursor, name: str, columns: list[str], key: str | None, statuses: bool) -> None:
    parts: list[sql.Composable] = [sql.SQL("id bigserial PRIMARY KEY")]
    parts += [sql.SQL("{} text{}").format(sql.Identifier(c), sql.SQL(" UNIQUE" if c == key else ""))
              for c in columns]
    if statuses:
        parts.append(sql.SQL("{} jsonb").format(sql.Identifier(STATUS_COLUMN)))
    parts.append(sql.SQL("created_at timestamptz NOT NULL DEFAULT now()"))
    cur.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(
        sql.Identifier(*name.split(".")), sql.SQL(", ").join(parts)))


def _as_text(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value)


def _existing(cur: Cursor, table: Table, key: str, emails: list[str]) -> dict[str, dict[str, Any]]:
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in (*table.key, key))
    cur.execute(sql.SQL("SELECT {} FROM {} WHERE lower({}) = ANY(%s) FOR UPDATE").format(
        columns, table.ident, sql.Identifier(key)), [emails])
    return {str(row[key]).lower(): key_of(table, row) for row in cur.fetchall()}


def write_table(connection: str, name: str, rows: list[dict[str, Any]], *, key: str | None,
                statuses: list[dict[str, str]] | None, who: Caller) -> dict[str, Any]:
    """Upsert rows into connection.name (created when missing); one transaction, all or nothing."""
    if not TABLE_RE.match(name):
        raise ToolInputError(f"invalid table name {name!r}: use name or schema.name (letters, digits, _)")
    mapping = _columns(rows)
    key_ident = mapping.get(key) if key else None
    with connect(connection, who, read_only=False, timeout_s=60) as cur:
        cur.execute("SELECT to_regclass(%s) IS NULL AS missing", [sql.Identifier(*name.split(".")).as_string(cur)])
        created = bool((cur.fetchone() or {}).get("missing"))
        if created:
            _create(cur, name, list(mapping.values()), key_ident, statuses is not None)
        table = load_table(cur, name)
        usable = {h: c for h, c in mapping.items() if c in table.types and c not in table.generated}
        existing = _existing(cur, table, key_ident, [str(r.get(key) or "").lower() for r in rows]) \
            if key and key_ident in table.types else {}
        written = updated = 0
        for index, row in enumerate(rows):
            values = {c: (_as_text(row.get(h)) if created else row.get(h)) for h, c in usable.items()}
            if statuses is not None and STATUS_COLUMN in table.types:
                values[STATUS_COLUMN] = statuses[index]
            match = existing.get(str(row.get(key) or "").lower()) if key else None
            if match:
                updated += len(update_by_key(cur, table, [match], values))
            else:
                written += len(insert_rows(cur, table, [values]))
    return {"connection": connection, "table": name, "createdTable": created, "written": written,
            "updated": updated, "columnsNotInTable": [h for h in mapping if h not in usable]}


def serialize(rows: list[dict[str, Any]], statuses: list[dict[str, str]] | None, fmt: str) -> bytes:
    """The rows as a file; with statuses, one `enrichment` column (JSON) or key per row."""
    records = [dict(row, **({STATUS_COLUMN: statuses[i]} if statuses is not None else {}))
               for i, row in enumerate(rows)]
    if fmt == "json":
        return json.dumps(records, ensure_ascii=False, indent=2, default=str).encode()
    headers = list(_columns(records))
    table = [[_cell(record.get(h)) for h in headers] for record in records]
    if fmt == "xlsx":
        return _xlsx(headers, table)
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(headers)
    writer.writerows(table)
    return out.getvalue().encode("utf-8-sig")  # the BOM makes Excel read UTF-8


def _cell(value: Any) -> Any:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value


def _xlsx(headers: list[str], table: list[list[Any]]) -> bytes:
    import openpyxl  # only spreadsheets need it

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("rows")
    sheet.append(headers)
    for values in table:
        sheet.append(values)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
