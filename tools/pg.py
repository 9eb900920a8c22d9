"""PostgreSQL plumbing for the database tool: named connections, timeouts, error translation,
table metadata and primary-key-pinned row changes.

Identifiers reach SQL only validated and quoted (psycopg.sql.Identifier), values only as
parameters, and at most one statement goes per call. It must never reveal a connection's URL.
"""
from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import islice
from typing import Any, LiteralString, cast

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from . import pg_connections
from .errors import ToolError, ToolInputError, TransientToolError
from .pg_connections import Caller, Connection

IDENT = r"[A-Za-z_][A-Za-z0-9_$]{0,62}"
TABLE_RE = re.compile(rf"^{IDENT}(\.{IDENT})?$")
COLUMN_RE = re.compile(rf"^{IDENT}$")
Params = list[Any] | dict[str, Any] | None
Row = dict[str, Any]
Cursor = psycopg.Cursor[Row]


def connections() -> dict[str, str]:
    """name -> URL of every configured connection (AGENT_DATABASES), whoever may use it."""
    return {name: conn.url for name, conn in pg_connections.configured().items()}


def _open(conn: Connection) -> psycopg.Connection[Row]:
    try:
        return psycopg.connect(conn.url, connect_timeout=10, application_name="xantuus-agent", row_factory=dict_row)
    except psycopg.OperationalError as exc:  # names host and port; the URL is masked in case libpq echoes it
        reason = first_line(exc).replace(conn.url, "<url>")
        raise TransientToolError(f"could not connect to database {conn.name!r}: {reason}") from None
    except psycopg.Error:  # a parse error quotes the URL, password included: say nothing of it
        raise ToolError(f"the URL configured for database {conn.name!r} in AGENT_DATABASES is invalid") from None


def check_role(cur: Cursor, conn: Connection) -> None:
    """Refuse a role that could reach the server's files or programs, whatever the transaction allows."""
    cur.execute(pg_connections.ROLE_CHECK)
    answer = cur.fetchone() or {}
    problems = pg_connections.role_problems(answer)
    if problems:
        raise ToolError(pg_connections.refusal(conn.name, str(answer.get("role")), problems))


@contextmanager
def connect(name: str, who: Caller, *, read_only: bool, timeout_s: float) -> Iterator[Cursor]:
    """A fresh connection's cursor inside one transaction with both timeouts set; closing rolls back.

    Only for a caller the connection is open to, and only once its role has passed check_role."""
    conn = pg_connections.for_caller(name, who)
    ms = pg_connections.statement_timeout_ms(who.remaining(timeout_s))  # within the task's deadline
    db = _open(conn)
    db.read_only = read_only  # BEGIN READ ONLY: the server refuses every write
    with translated(ms / 1000), db:  # commits on success, rolls back on any error
        cur = db.cursor()
        # Session-wide (false), so no statement of this connection runs longer, the role check included.
        # Times come back in UTC whatever the server's TimeZone, so results read the same everywhere.
        cur.execute("SELECT set_config('statement_timeout', %s, false), set_config('lock_timeout', %s, false),"
                    " set_config('TimeZone', 'UTC', true)", [f"{ms}ms", f"{ms}ms"])
        check_role(cur, conn)
        yield cur


def role_refusal(conn: Connection) -> str | None:
    """Why `conn` is refused (its role's powers), or None; for the startup check, outside any call."""
    db = _open(conn)
    with db, translated(pg_connections.statement_timeout_ms(10)):
        try:
            check_role(db.cursor(), conn)
        except ToolError as exc:
            return str(exc)
    return None


def first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


@contextmanager
def translated(timeout_s: float) -> Iterator[None]:
    """psycopg errors -> tool errors the agent can act on."""
    try:
        yield
    except pg_errors.QueryCanceled:
        raise ToolError(f"the statement ran past its {timeout_s:g}s statement timeout and was cancelled") from None
    except pg_errors.LockNotAvailable:
        raise TransientToolError("the rows are locked by another transaction; try again later") from None
    except pg_errors.ReadOnlySqlTransaction as exc:
        raise ToolError(f"database.query is read only ({first_line(exc)}); "
                        "use database.execute or database.delete to change data") from None
    except psycopg.OperationalError as exc:
        raise TransientToolError(f"database connection failed: {first_line(exc)}") from None
    except psycopg.Error as exc:
        raise ToolError(f"database error: {first_line(exc)}") from None


def fetch(cur: Cursor, query: sql.Composed | str, args: Params, limit: int) -> list[Row]:
    """At most limit + 1 rows. stream() always uses the extended protocol: one statement only."""
    statement = cast(LiteralString, query) if isinstance(query, str) else query  # agent SQL by design
    rows = cast(Generator[Row, None, None], cur.stream(statement, args))
    try:
        return list(islice(rows, limit + 1))
    finally:
        rows.close()  # cancels the rest of a long result on the server


def jsonable(value: Any) -> Any:
    """A database value as JSON that PostgreSQL parses back into the same value."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return f"{value.total_seconds()} seconds"
    if isinstance(value, bytes | memoryview):
        return "\\x" + bytes(value).hex()
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)  # Decimal, UUID, inet, ...: their text form round-trips


def rows_json(rows: list[Row]) -> list[Row]:
    return [{k: jsonable(v) for k, v in row.items()} for row in rows]


@dataclass(frozen=True)
class Table:
    name: str
    ident: sql.Identifier
    types: dict[str, str]  # column -> type name
    generated: frozenset[str]
    key: tuple[str, ...]  # primary key columns

    def check_columns(self, columns: list[str]) -> None:
        for column in columns:
            if not COLUMN_RE.match(column) or column not in self.types:
                raise ToolInputError(f"table {self.name!r} has no column {column!r}; "
                                     f"its columns: {', '.join(self.types)}")

    def adapt(self, column: str, value: Any) -> Any:
        return Jsonb(value) if value is not None and self.types[column] in ("json", "jsonb") else value


def load_table(cur: Cursor, name: str) -> Table:
    if not TABLE_RE.match(name):
        raise ToolInputError(f"invalid table name {name!r}: use name or schema.name (letters, digits, _)")
    ident = sql.Identifier(*name.split("."))
    cur.execute("SELECT to_regclass(%s)::oid AS oid", [ident.as_string(cur)])
    oid = (cur.fetchone() or {}).get("oid")
    if oid is None:
        raise ToolInputError(f"no table {name!r} in this database")
    cur.execute(
        "SELECT a.attname AS name, format_type(a.atttypid, NULL) AS type, a.attgenerated <> '' AS generated,"
        " coalesce(a.attnum = ANY(i.indkey), false) AS is_key"
        " FROM pg_attribute a LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary"
        " WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum", [oid])
    columns = cur.fetchall()
    key = tuple(c["name"] for c in columns if c["is_key"])
    if not key:  # without one, a change cannot be pinned to rows nor undone
        raise ToolInputError(f"table {name!r} has no primary key; the database tool only changes tables with one")
    return Table(name, ident, {c["name"]: c["type"] for c in columns},
                 frozenset(c["name"] for c in columns if c["generated"]), key)


def by_key(table: Table, keys: list[Row]) -> tuple[sql.Composable, list[Any]]:
    """WHERE clause matching exactly these primary keys."""
    one = sql.SQL("(") + sql.SQL(" AND ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in table.key) \
        + sql.SQL(")")
    return sql.SQL(" OR ").join([one] * len(keys)), [k[c] for k in keys for c in table.key]


def check_keys(table: Table, keys: list[Row]) -> None:
    for key in keys:
        if not isinstance(key, dict) or set(key) != set(table.key):
            raise ToolInputError(f"each key of {table.name!r} must have exactly its primary key columns: "
                                 f"{', '.join(table.key)}")


def key_of(table: Table, row: Row) -> Row:
    return {c: row[c] for c in table.key}


def insert_rows(cur: Cursor, table: Table, rows: list[Row], *, restore: bool = False) -> list[Row]:
    inserted = []
    for row in rows:
        columns = [c for c in row if not (restore and c in table.generated)]
        table.check_columns(columns)
        statement = sql.SQL("INSERT INTO {} ").format(table.ident)
        if columns:
            statement += sql.SQL("({}) {}VALUES ({}) RETURNING *").format(
                sql.SQL(", ").join(map(sql.Identifier, columns)),
                sql.SQL("OVERRIDING SYSTEM VALUE " if restore else ""),  # put back the very same ids
                sql.SQL(", ").join(sql.Placeholder() * len(columns)))
        else:
            statement += sql.SQL("DEFAULT VALUES RETURNING *")
        cur.execute(statement, [table.adapt(c, row[c]) for c in columns])
        inserted += cur.fetchall()
    return inserted


def update_by_key(cur: Cursor, table: Table, keys: list[Row], values: Row) -> list[Row]:
    table.check_columns(list(values))
    assignments = sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in values)
    match, key_args = by_key(table, keys)
    cur.execute(sql.SQL("UPDATE {} SET {} WHERE {} RETURNING *").format(table.ident, assignments, match),
                [table.adapt(c, v) for c, v in values.items()] + key_args)
    return cur.fetchall()


def delete_by_key(cur: Cursor, table: Table, keys: list[Row]) -> int:
    match, key_args = by_key(table, keys)
    cur.execute(sql.SQL("DELETE FROM {} WHERE {}").format(table.ident, match), key_args)
    return cur.rowcount


