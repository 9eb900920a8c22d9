"""A query the hot path runs on every step, compiled to SQL once per thread instead of per call.

Building and compiling a queryset with a dozen annotations costs Django several milliseconds of
CPU, more than PostgreSQL takes to run it. A CompiledQuery builds the queryset once with
placeholder values, keeps the SQL, and on each call runs it with the call's values, turning
rows into model instances the way QuerySet iteration does (converters, select_related,
annotations): one cursor execute and the row's conversion per call.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from django.db import connections
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators

M = TypeVar("M", bound=Model)


class CompiledQuery(Generic[M]):
    def __init__(self, build: Callable[..., QuerySet[M]], *names: str):
        """`build(**values)` makes the queryset; each of `names` must reach the SQL as one parameter."""
        self._build, self._names, self._local = build, names, threading.local()

    def first(self, **values: Any) -> M | None:
        sql, template, positions, compiler, db = self._compiled()
        params = list(template)
        for name, position in positions.items():
            params[position] = values[name]
        with connections[db].cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchmany(1)
        for row in compiler.results_iter([rows]):
            return self._instance(compiler, db, row)
        return None

    def _compiled(self) -> tuple[str, tuple[Any, ...], dict[str, int], Any, str]:
        compiled = getattr(self._local, "compiled", None)
        if compiled is None:  # this thread's connection: a compiler holds the connection it compiled for
            placeholders = {name: f"\x1f{name}-placeholder\x1f" for name in self._names}
            queryset = self._build(**placeholders)
            compiler = queryset.query.get_compiler(using=queryset.db)
            sql, params = compiler.as_sql()
            positions = {name: list(params).index(value) for name, value in placeholders.items()}
            compiled = self._local.compiled = (sql, tuple(params), positions, compiler, queryset.db)
        return compiled

    @staticmethod
    def _instance(compiler: Any, db: str, row: tuple[Any, ...]) -> M:
        """What ModelIterable makes of a row: the model, its select_related objects, its annotations."""
        klass_info, select = compiler.klass_info, compiler.select
        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        init_list = [column[0].target.attname for column in select[start:end]]
        instance = klass_info["model"].from_db(db, init_list, row[start:end])
        for populator in get_related_populators(klass_info, select, db):  # type: ignore[call-arg]  # stubs: 6.0
            populator.populate(row, instance)
        for name, position in compiler.annotation_col_map.items():
            setattr(instance, name, row[position])
        return instance  # type: ignore[no-any-return]
