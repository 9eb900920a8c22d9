"""data.enrich's loop: each row's email looked up once (cache first), its fields filled from the
answer and given a status. Never a value the provider did not give.
"""
from __future__ import annotations

from typing import Any

from . import enrichment
from .base import ToolContext
from .errors import ToolError
from .tabular import EMAIL, key_column

MAX_PROBLEMS = 50  # reasons kept in the result; the counts cover every row
CACHE_DAYS = 30  # a provider's answer is reused this long: people change jobs slowly
MAX_LOOKUPS = 1000  # new provider calls per step; the rest wait for the next run (the cache keeps progress)


class Enricher:
    def __init__(self, rows: list[dict[str, Any]], fields: list[str], key: str, context: ToolContext):
        self.rows, self.fields, self.context = rows, fields, context
        self.column = key_column(list(dict.fromkeys(name for row in rows for name in row)), key)
        self.stopped = ""  # why the provider is no longer asked (refused key, unreachable)
        self.lookups = self.cache_hits = self.unreachable_in_a_row = 0
        self.problems: list[dict[str, str]] = []

    def _store(self) -> Any:
        try:
            return self.context.store("crm")
        except ToolError:
            return None  # run_tool outside a task: no cache, every email is asked

    def run(self) -> dict[str, Any]:
        if not enrichment.configured():
            self.stopped = "no enrichment provider is configured (AGENT_ENRICHMENT_URL)"
        store = None if self.stopped else self._store()
        emails = [self._email(row) for row in self.rows]
        cache = store.cached([e for e in emails if e], CACHE_DAYS * 86400) if store else {}
        pacer = enrichment.Pacer(enrichment.rate())
        out_rows, statuses = [], []
        for row, email in zip(self.rows, emails, strict=True):
            answer = self._answer(email, cache, store, pacer, MAX_LOOKUPS)
            filled, status = self._fill(row, answer)
            out_rows.append(filled)
            statuses.append(status)
            if answer.reason and len(self.problems) < MAX_PROBLEMS:
                self.problems.append({"email": email or "", "reason": answer.reason})
        return self._result(out_rows, statuses)

    def _email(self, row: dict[str, Any]) -> str:
        value = str(row.get(self.column) or "").strip().lower() if self.column else ""
        return value if EMAIL.match(value) else ""

    def _answer(self, email: str, cache: dict[str, Any], store: Any, pacer: enrichment.Pacer,
                max_lookups: int) -> enrichment.Answer:
        if self.stopped:
            return enrichment.Answer("unavailable" if not enrichment.configured() else "error", reason=self.stopped)
        if not email:
            return enrichment.Answer("unavailable", reason="no valid email to look up")
        if email in cache:
            self.cache_hits += 1
            hit = cache[email]["data"]
            return enrichment.Answer(cache[email]["status"], dict(hit.get("values") or {}), hit.get("likelihood"))
        if self.lookups >= max_lookups:
            return enrichment.Answer("unavailable", reason=f"over {max_lookups} new lookups in one run: run again")
        return self._ask(email, store, pacer)

    def _ask(self, email: str, store: Any, pacer: enrichment.Pacer) -> enrichment.Answer:
        self.lookups += 1
        try:
            answer = enrichment.lookup(email, self.context, pacer)
        except enrichment.ProviderRefused as exc:
            self.stopped = str(exc)
            return enrichment.Answer("error", reason=self.stopped)
        self.unreachable_in_a_row = self.unreachable_in_a_row + 1 if answer.unreachable else 0
        if self.unreachable_in_a_row >= enrichment.MAX_TRANSPORT_FAILURES:
            self.stopped = f"the enrichment provider could not be reached ({answer.reason})"
        if store is not None and answer.status in ("matched", "not_matched"):
            store.remember(email, answer.status, {"values": answer.values, "likelihood": answer.likelihood})
        return answer

    def _fill(self, row: dict[str, Any], answer: enrichment.Answer) -> tuple[dict[str, Any], dict[str, str]]:
        """The provider's value wins when it has one; otherwise the row keeps what it had."""
        filled, status = dict(row), {}
        for name in self.fields:
            value = answer.values.get(enrichment.FIELDS[name]) if answer.status == "matched" else None
            if value is not None:
                filled[name], status[name] = value, "matched"
            else:
                filled.setdefault(name, None)
                status[name] = "not_matched" if answer.status == "matched" else answer.status
        return filled, status

    def _result(self, rows: list[dict[str, Any]], statuses: list[dict[str, str]]) -> dict[str, Any]:
        def count(wanted: str) -> int:
            return sum(1 for s in statuses if s and wanted in s.values() and (
                wanted != "not_matched" or "matched" not in s.values()))

        return {"rows": rows, "enrichment": statuses, "fields": self.fields,
                "provider": enrichment.PROVIDER if enrichment.configured() else None,
                "enriched": count("matched"), "notMatched": count("not_matched"),
                "unavailable": count("unavailable"), "errors": count("error"),
                "lookups": self.lookups, "cached": self.cache_hits, "problems": self.problems,
                **({"stoppedBecause": self.stopped} if self.stopped else {})}
