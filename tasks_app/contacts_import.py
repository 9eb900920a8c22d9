"""Contacts from a CSV file: encoding detected, delimiter sniffed, every bad row reported by line.

Known columns (email, name, signup_date/signupDate, plan, unsubscribed) fill the contact's
fields; every other column goes into its attributes. A bad row never stops the good ones.
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import Any

from tools import tabular
from tools.errors import ToolInputError

from . import contacts, uploads

DELIMITERS = (",", ";", "\t")
COLUMNS = {"email": "email", "e_mail": "email", "email_address": "email", "name": "name", "full_name": "name",
           "signup_date": "signupDate", "signupdate": "signupDate", "signed_up": "signupDate",
           "plan": "plan", "unsubscribed": "unsubscribed"}
csv.field_size_limit(1024 * 1024)


class CSVImportError(ValueError):
    """The file as a whole cannot be read (no header, no email column, too large)."""


def decode(content: bytes) -> tuple[str, str]:
    """(text, encoding), read as the data tool reads files (tools.tabular.decode: a BOM, strict
    UTF-8, then charset-normalizer with ties to cp1252); what it cannot read is taken as cp1252
    with replacement characters, so a contact file is never refused for its encoding alone."""
    try:
        return tabular.decode(content)
    except (ToolInputError, UnicodeDecodeError):
        return content.decode("cp1252", errors="replace"), "cp1252"


def sniff(header_line: str) -> str:
    """The delimiter among , ; tab that the header line holds most often (outside quotes)."""
    unquoted = re.sub(r'"[^"]*"', "", header_line)
    return max(DELIMITERS, key=unquoted.count)


def rows(text: str) -> Iterator[tuple[int, list[str]]]:
    """(first line number, fields) of each record; blank lines are left out."""
    lines = text.splitlines(keepends=True)
    delimiter = sniff(lines[0] if lines else "")
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    start = 1
    try:
        for record in reader:
            if any(cell.strip() for cell in record):
                yield start, record
            start = reader.line_num + 1
    except csv.Error as exc:  # an unclosed quote at the end, a field over the size limit
        raise CSVImportError(f"line {start}: the file cannot be read as CSV from here on: {exc}") from None


def _header(record: list[str]) -> list[str]:
    names = [re.sub(r"[\s\-]+", "_", cell.strip().lower()) for cell in record]
    if "email" not in {COLUMNS.get(name) for name in names}:
        raise CSVImportError(f"the header has no email column (it has: {', '.join(c.strip() for c in record)[:300]})")
    return [COLUMNS.get(name, original.strip()) for name, original in zip(names, record, strict=True)]


def _contact(header: list[str], record: list[str]) -> dict[str, Any]:
    data: dict[str, Any] = {"attributes": {}}
    for column, cell in zip(header, record, strict=True):
        value = cell.strip()
        if column in contacts.WIRE:
            data[column] = value
        elif value:  # an empty cell is a missing attribute, not an empty one
            data["attributes"][column] = value
    if not data["attributes"]:
        del data["attributes"]
    return data


def import_csv(*, owner_id: int, content: bytes) -> tuple[contacts.Upserted, str]:
    """Upsert every good row of the file; bad ones reported with their line number and reason."""
    if len(content) > uploads.max_bytes():
        raise CSVImportError(f"the file is {len(content)} bytes; the limit is {uploads.max_bytes()}")
    text, encoding = decode(content)
    records = rows(text)
    first = next(records, None)
    if first is None:
        raise CSVImportError("the file is empty: expected a header line such as email,name,signup_date,plan")
    header = _header(first[1])
    good: list[tuple[Any, Any]] = []
    bad: list[dict[str, Any]] = []
    for line, record in records:
        if len(record) != len(header):
            problem = f"has {len(record)} fields, the header has {len(header)}"
            bad.append({"position": line, "fields": {"line": [problem]}, "message": f"line: {problem}"})
            continue
        good.append((line, _contact(header, record)))
    done = contacts.upsert_many(owner_id=owner_id, rows=good)
    done.errors = sorted([*bad, *done.errors], key=lambda error: error["position"])
    return done, encoding
