"""Reading a person's table (CSV, XLSX, JSON bytes) into rows, reporting every bad row.

Encodings are detected (UTF-8 with or without BOM, UTF-16, cp1252 and others through
charset-normalizer), the CSV delimiter is sniffed, and a row that cannot be used is
returned in `rejected` with its line and the reason: it is never silently dropped.
"""
from __future__ import annotations

import codecs
import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, Literal

import charset_normalizer

from .errors import ToolInputError

Format = Literal["csv", "json", "xlsx"]
DELIMITERS = (",", ";", "\t", "|")
EMAIL = re.compile(r"^[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[A-Za-z0-9-]{2,}$")
MAX_ROWS = 100_000
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


@dataclass
class Table:
    """What was read: good rows (with the line each came from), columns, and the rejected lines."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    encoding: str | None = None
    delimiter: str | None = None

    def reject(self, line: int, reason: str) -> None:
        self.rejected.append({"line": line, "reason": reason})


def guess_format(name: str, content: bytes, content_type: str = "") -> Format:
    lowered, kind = name.lower(), content_type.lower()
    if lowered.endswith((".xlsx", ".xlsm")) or "spreadsheetml" in kind or content[:4] == b"PK\x03\x04":
        return "xlsx"
    if lowered.endswith(".json") or "json" in kind or content.lstrip()[:1] in (b"[", b"{"):
        return "json"
    return "csv"


def decode(content: bytes) -> tuple[str, str]:
    """(text, encoding): a BOM decides; then strict UTF-8; then charset-normalizer, where a
    tie among equally plausible single-byte encodings goes to cp1252 (what Excel writes)."""
    for bom, encoding in _BOMS:
        if content.startswith(bom):
            return content.decode(encoding), encoding
    try:
        return content.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    matches = list(charset_normalizer.from_bytes(content))
    if not matches:
        raise ToolInputError("the file is not text in any encoding we know (is it a spreadsheet or a binary file?)")
    calmest = min(m.chaos for m in matches)
    if any(m.chaos <= calmest + 0.02 and "cp1252" in m.could_be_from_charset for m in matches):
        try:
            return content.decode("cp1252"), "cp1252"
        except UnicodeDecodeError:
            pass
    best = matches[0]
    return str(best), best.encoding


def sniff_delimiter(text: str) -> str:
    """The delimiter that splits the first lines into the same number (>1) of fields, most fields first."""
    sample = text[:64 * 1024].splitlines()[:50]
    best, best_score = ",", (0, 0)
    for delimiter in DELIMITERS:
        try:
            counts = [len(r) for r in csv.reader(sample, delimiter=delimiter) if r]
        except csv.Error:
            continue
        if not counts or counts[0] < 2:
            continue
        score = (sum(1 for c in counts if c == counts[0]), counts[0])
        if score > best_score:
            best, best_score = delimiter, score
    return best


def header_names(raw: list[Any]) -> list[str]:
    names = []
    for index, cell in enumerate(raw, start=1):
        name = str(cell if cell is not None else "").strip().lstrip("\ufeff")
        names.append(name or f"column_{index}")
    seen = set()
    for name in names:
        if name.lower() in seen:
            raise ToolInputError(f"column {name!r} appears twice in the header; give each column its own name")
        seen.add(name.lower())
    return names


def cell(value: Any) -> Any:
    """A spreadsheet or JSON value as the CRM keeps it: trimmed text, numbers, ISO dates."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict | list):
        return value
    return value


def _add(table: Table, line: int, columns: list[str], values: list[Any]) -> None:
    if len(values) > len(columns) and any(str(v or "").strip() for v in values[len(columns):]):
        table.reject(line, f"has {len(values)} fields, the header has {len(columns)}")
        return
    if len(values) < len(columns):
        table.reject(line, f"has {len(values)} fields, the header has {len(columns)}")
        return
    row = {name: cell(value) for name, value in zip(columns, values, strict=False)}
    if all(v in (None, "") for v in row.values()):
        table.reject(line, "empty row")
        return
    if len(table.rows) >= MAX_ROWS:
        raise ToolInputError(f"the file has more than {MAX_ROWS} rows; split it")
    table.rows.append(row)
    table.lines.append(line)


def read_csv(content: bytes) -> Table:
    text, encoding = decode(content)
    delimiter = sniff_delimiter(text)
    table = Table(encoding=encoding, delimiter=delimiter)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    start = 1
    try:
        for record in reader:
            line, start = start, reader.line_num + 1  # a quoted field may span lines: report where it began
            if not record or (len(record) == 1 and not record[0].strip()):
                continue  # a blank line is no row
            if not table.columns:
                table.columns = header_names(record)
                continue
            _add(table, line, table.columns, record)
    except csv.Error as exc:
        table.reject(start, f"unreadable CSV ({exc}); the rest of the file was not read")
    return table


def read_xlsx(content: bytes, sheet: str | None = None) -> Table:
    import openpyxl  # only spreadsheets need it

    try:
        book = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged or foreign file
        raise ToolInputError(f"not a readable XLSX workbook: {exc.__class__.__name__}") from None
    if sheet is not None and sheet not in book.sheetnames:
        raise ToolInputError(f"the workbook has no sheet {sheet!r}; its sheets: {', '.join(book.sheetnames)}")
    table = Table(encoding=None)
    try:
        chosen = book[sheet] if sheet else book.worksheets[0]
        for line, values in enumerate(chosen.iter_rows(values_only=True), start=1):
            cells = list(values)
            while cells and cells[-1] in (None, ""):
                cells.pop()
            if not cells:
                continue
            if not table.columns:
                table.columns = header_names(cells)
                continue
            _add(table, line, table.columns, cells + [None] * (len(table.columns) - len(cells)))
    finally:
        book.close()
    return table


def read_json(content: bytes) -> Table:
    text, encoding = decode(content)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ToolInputError(f"not valid JSON: {exc}") from None
    if isinstance(data, dict):
        data = next((data[k] for k in ("rows", "data", "items", "leads", "records") if isinstance(data.get(k), list)),
                    [data])
    if not isinstance(data, list):
        raise ToolInputError("JSON input must be a list of objects (or an object with a 'rows' list)")
    return from_items(data, encoding=encoding)


def from_items(items: list[Any], *, encoding: str | None = None) -> Table:
    """Rows given as objects (JSON, inline rows): `line` is the item's position, from 1."""
    table = Table(encoding=encoding)
    for line, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            table.reject(line, f"item {line} is not an object")
            continue
        for name in item:
            if str(name).strip() not in table.columns:
                table.columns.append(str(name).strip())
        row = {str(k).strip(): v for k, v in item.items()}
        _add(table, line, list(row), list(row.values()))
    return table


def read(content: bytes, *, name: str, fmt: Format | None = None, content_type: str = "",
         sheet: str | None = None) -> Table:
    if not content.strip():
        raise ToolInputError(f"{name} is empty")
    kind = fmt or guess_format(name, content, content_type)
    table = read_xlsx(content, sheet) if kind == "xlsx" else read_json(content) if kind == "json" else read_csv(content)
    if not table.rows and not table.rejected:
        raise ToolInputError(f"{name} has no data rows (only a header, or nothing)")
    return table


def _normal(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def key_column(columns: list[str], key: str) -> str | None:
    """The column holding `key` ("email" also matches "E-mail", "Email Address")."""
    wanted = _normal(key)
    aliases = {wanted, "emailaddress", "mail"} if wanted == "email" else {wanted}
    return next((c for c in columns if _normal(c) in aliases), None)


def check_emails(table: Table, column: str) -> None:
    """Keep the rows with a valid, first-seen email in `column` (lower-cased); reject the others."""
    rows: list[dict[str, Any]] = []
    lines: list[int] = []
    first: dict[str, int] = {}
    for row, line in zip(table.rows, table.lines, strict=True):
        value = str(row.get(column) if row.get(column) is not None else "").strip().lower()
        if not value:
            table.reject(line, f"missing {column}")
        elif not EMAIL.match(value):
            table.reject(line, f"invalid {column} {value!r}")
        elif value in first:
            table.reject(line, f"duplicate {column} {value} (first on line {first[value]})")
        else:
            first[value] = line
            rows.append({**row, column: value})
            lines.append(line)
    table.rows, table.lines = rows, lines
    table.rejected.sort(key=lambda r: r["line"])
