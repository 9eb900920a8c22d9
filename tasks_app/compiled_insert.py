"""An INSERT the hot path runs every step, its SQL written once per connection instead of per call.

`Model.objects.create` builds a model instance, compiles an InsertQuery to SQL and reads the new id
back on every call: 0.28 ms for an event row against 0.19 ms for the same statement with its SQL
kept (1,000 inserts in one transaction; a `SELECT 1` takes 0.13 ms). A CompiledInsert writes every
concrete column of the model: the values given (by attname: `task_id`), else the field's default, and
`now` for auto_now(_add) fields, each prepared by its field as Django prepares it (JSON, datetimes).
It reads nothing back and sends no signals (none are connected to the models it writes); with
`ignore_conflicts` a row that breaks a unique constraint is not written, as bulk_create's option.
"""
from __future__ import annotations

from typing import Any

from django.db import connections
from django.db.models import DateField, Field, Model
from django.db.models.constants import OnConflict
from django.utils import timezone
from django.utils.functional import cached_property


class CompiledInsert:
    def __init__(self, model: type[Model], *, ignore_conflicts: bool = False, using: str = "default"):
        """Made at import (the model's fields are read at the first insert, once the apps are ready)."""
        self._model, self._using = model, using
        self._on_conflict = OnConflict.IGNORE if ignore_conflicts else None
        self._sql: dict[str, str] = {}  # per connection vendor

    @cached_property
    def _fields(self) -> list[Field[Any, Any]]:  # what the database fills itself (an auto id) is left out
        return [field for field in self._model._meta.concrete_fields if not getattr(field, "db_returning", False)]

    @cached_property
    def _names(self) -> set[str]:
        return {field.attname for field in self._fields}

    def insert(self, **values: Any) -> None:
        unknown = set(values) - self._names
        if unknown:
            raise TypeError(f"{self._model._meta.db_table}: no column {', '.join(sorted(unknown))}")
        connection = connections[self._using]
        now = timezone.now()
        params = [field.get_db_prep_save(self._value(field, values, now), connection) for field in self._fields]
        with connection.cursor() as cursor:
            cursor.execute(self._statement(connection), params)

    @staticmethod
    def _value(field: Field[Any, Any], values: dict[str, Any], now: Any) -> Any:
        if field.attname in values:
            return values[field.attname]
        if isinstance(field, DateField) and (field.auto_now or field.auto_now_add):
            return now
        return field.get_default()

    def _statement(self, connection: Any) -> str:
        sql = self._sql.get(connection.vendor)
        if sql is None:
            ops, table = connection.ops, connection.ops.quote_name(self._model._meta.db_table)
            columns = ", ".join(ops.quote_name(field.column) for field in self._fields)
            values = ", ".join(["%s"] * len(self._fields))
            conflict = self._on_conflict
            suffix = ops.on_conflict_suffix_sql(self._fields, conflict, None, None) if conflict else ""
            sql = self._sql[connection.vendor] = (f"{ops.insert_statement(on_conflict=conflict)} {table} "
                                                  f"({columns}) VALUES ({values}) {suffix}").rstrip()
        return sql
