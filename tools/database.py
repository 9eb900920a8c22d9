"""database: read and change the operator's NAMED PostgreSQL connections (AGENT_DATABASES).

`query` runs one statement in a READ ONLY transaction under a statement timeout and a row
cap. `execute` and `delete` are structured (table, values/set, where + params): they lock
and record the affected rows' before-image first, change exactly those rows by primary key,
and record (through the ToolContext) and return the compensation that undoes the change
(`rollback`). This module must never put agent text into an identifier unvalidated or
unquoted, never send more than one statement per call, and never reveal a connection's
URL (it holds the password).
"""
from __future__ import annotations

from typing import Any, Literal, LiteralString, cast

from psycopg import sql
from pydantic import Field, model_validator

from .base import SideEffect, Tool, ToolContext, ToolInput
from .errors import ToolInputError
from .pg import (
    Cursor,
    Params,
    Row,
    Table,
    check_keys,
    connect,
    delete_by_key,
    fetch,
    insert_rows,
    jsonable,
    key_of,
    load_table,
    rows_json,
    update_by_key,
)

tool = Tool("database", "Query and change the operator's named PostgreSQL databases.", uses_groups=True)

MAX_ROWS = 1000


# --- query ------------------------------------------------------------------------------------


class QueryInput(ToolInput):
    connection: str = Field(description="A connection name from AGENT_DATABASES")
    sql: str = Field(min_length=1, max_length=20_000, description="One SQL statement; values as %s or %(name)s")
    params: Params = Field(default=None, description="Values for the placeholders (list or object)")
    max_rows: int = Field(default=100, ge=1, le=MAX_ROWS, alias="maxRows")
    timeout_s: float = Field(default=10, gt=0, le=300, alias="timeoutS")


@tool.action("query", credits=20)
def query(params: QueryInput, context: ToolContext) -> dict[str, Any]:
    """Run one read-only SQL statement on a named connection; values go in params, never in the SQL.

    Returns columns, rows (objects) and `truncated` when more than maxRows rows matched.
    """
    with connect(params.connection, context, read_only=True, timeout_s=params.timeout_s) as cur:
        rows = fetch(cur, params.sql, params.params, params.max_rows)
        columns = [c.name for c in cur.description or []]
    kept = rows[: params.max_rows]
    return {"columns": columns, "rows": rows_json(kept), "rowCount": len(kept), "truncated": len(rows) > len(kept)}


# --- writes: before-image, change by primary key, compensation -------------------------------


class _WriteInput(ToolInput):
    connection: str = Field(description="A connection name from AGENT_DATABASES")
    table: str = Field(max_length=130, description="Table name, optionally schema.table")
    where: str | None = Field(default=None, min_length=1, max_length=4000,
                              description="SQL condition choosing the rows; values as %s or %(name)s in params")
    params: Params = Field(default=None, description="Values for the WHERE placeholders")
    max_rows: int = Field(default=100, ge=1, le=MAX_ROWS, alias="maxRows",
                          description="Refuse the change if the WHERE clause matches more rows")
    timeout_s: float = Field(default=10, gt=0, le=300, alias="timeoutS")


class ExecuteInput(_WriteInput):
    values: Row | list[Row] | None = Field(default=None, description="INSERT: one row or a list of rows")
    set: Row | None = Field(default=None, description="UPDATE: column -> new value, for the rows WHERE matches")

    @model_validator(mode="after")
    def _one_operation(self) -> ExecuteInput:
        if (self.values is None) == (self.set is None):
            raise ValueError("give either values (insert) or set + where (update)")
        if self.set is not None and (not self.set or not self.where):
            raise ValueError("an update needs a non-empty set and a where clause")
        if self.values is not None and self.where:
            raise ValueError("an insert takes no where clause")
        return self


class DeleteInput(_WriteInput):
    where: str = Field(min_length=1, max_length=4000,
                       description="SQL condition choosing the rows; values as %s or %(name)s in params")


def _lock_rows(cur: Cursor, table: Table, params: _WriteInput) -> list[Row]:
    """The before-image: the matching rows, locked until commit so nobody changes them in between."""
    where = sql.SQL(cast(LiteralString, params.where))  # agent SQL by design, like query's; values are params
    statement = sql.SQL("SELECT * FROM {} WHERE (\n").format(table.ident) + where + sql.SQL("\n) FOR UPDATE")
    rows = fetch(cur, statement, params.params, params.max_rows)
    if len(rows) > params.max_rows:
        raise ToolInputError(f"the where clause matches more than {params.max_rows} rows of {table.name!r};"
                             " narrow it or raise maxRows")
    return rows


def _outcome(params: _WriteInput, operation: str, before: list[Row], after: list[Row], rowcount: int,
             undo: Row, context: ToolContext) -> dict[str, Any]:
    compensation = context.record_compensation(
        "database.rollback", {"connection": params.connection, "table": params.table, **undo})
    return {"operation": operation, "rowcount": rowcount, "beforeImage": rows_json(before), "rows": rows_json(after),
            "compensation": compensation}


@tool.action("execute", side_effect=SideEffect.WRITE, credits=50, inverses=("database.rollback",))
def execute(params: ExecuteInput, context: ToolContext) -> dict[str, Any]:
    """INSERT rows (table + values) or UPDATE rows (table + set + where + params) on a named connection.

    Returns rowcount, the before-image of updated rows, the rows as written, and the
    compensation (a database.rollback call) that undoes the change.
    """
    with connect(params.connection, context, read_only=False, timeout_s=params.timeout_s) as cur:
        table = load_table(cur, params.table)
        if params.values is not None:
            rows = params.values if isinstance(params.values, list) else [params.values]
            after = insert_rows(cur, table, rows)
            undo: Row = {"operation": "delete", "keys": rows_json([key_of(table, r) for r in after])}
            return _outcome(params, "insert", [], after, len(after), undo, context)
        assert params.set is not None  # checked by ExecuteInput
        table.check_columns(list(params.set))
        before = _lock_rows(cur, table, params)
        after = update_by_key(cur, table, [key_of(table, r) for r in before], params.set) if before else []
        undo = {"operation": "update", "updates": [
            {"key": jsonable(key_of(table, r)), "values": jsonable({c: r[c] for c in params.set})} for r in before]}
        return _outcome(params, "update", before, after, len(after), undo, context)


@tool.action("delete", side_effect=SideEffect.WRITE, credits=50, inverses=("database.rollback",))
def delete(params: DeleteInput, context: ToolContext) -> dict[str, Any]:
    """DELETE the rows matching where + params on a named connection, keeping their before-image.

    The compensation (a database.rollback call) re-inserts exactly those rows.
    """
    with connect(params.connection, context, read_only=False, timeout_s=params.timeout_s) as cur:
        table = load_table(cur, params.table)
        before = _lock_rows(cur, table, params)
        rowcount = delete_by_key(cur, table, [key_of(table, r) for r in before]) if before else 0
        undo = {"operation": "insert", "rows": rows_json([{c: v for c, v in r.items() if c not in table.generated}
                                                        for r in before])}
        return _outcome(params, "delete", before, [], rowcount, undo, context)


# --- rollback -----------------------------------------------------------------------------------------


class RollbackInput(ToolInput):
    connection: str
    table: str = Field(max_length=130)
    operation: Literal["delete", "update", "insert"] = Field(description="What undoes the change")
    keys: list[Row] = Field(default_factory=list, max_length=MAX_ROWS, description="delete: primary keys")
    updates: list[Row] = Field(default_factory=list, max_length=MAX_ROWS,
                               description="update: [{key: {...}, values: {...}}]")
    rows: list[Row] = Field(default_factory=list, max_length=MAX_ROWS, description="insert: whole rows")
    timeout_s: float = Field(default=10, gt=0, le=300, alias="timeoutS")


def _apply_updates(cur: Cursor, table: Table, updates: list[Row]) -> int:
    done = 0
    for update in updates:
        if not isinstance(update.get("values"), dict):
            raise ToolInputError("each update needs a key object and a values object")
        check_keys(table, [update.get("key") or {}])
        done += len(update_by_key(cur, table, [update["key"]], update["values"]))
    return done


@tool.action("rollback", side_effect=SideEffect.WRITE, credits=20)
def rollback_action(params: RollbackInput, context: ToolContext) -> dict[str, Any]:
    """Apply a compensation returned by database.execute or database.delete, in one transaction."""
    with connect(params.connection, context, read_only=False, timeout_s=params.timeout_s) as cur:
        table = load_table(cur, params.table)
        if params.operation == "delete":
            check_keys(table, params.keys)
            rowcount, expected = (delete_by_key(cur, table, params.keys) if params.keys else 0), len(params.keys)
        elif params.operation == "update":
            rowcount, expected = _apply_updates(cur, table, params.updates), len(params.updates)
        else:
            rowcount, expected = len(insert_rows(cur, table, params.rows, restore=True)), len(params.rows)
    return {"operation": params.operation, "rowcount": rowcount, "expected": expected}


def rollback(compensation: dict[str, Any], context: ToolContext) -> dict[str, Any]:
    """Undo a change: takes the `compensation` of an execute/delete result (or just its params)."""
    params = compensation.get("params", compensation)
    return tool.actions["rollback"].run(params, context)  # validated like any call
