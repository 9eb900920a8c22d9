"""data_processing: read a table (an uploaded file, a URL or inline rows), optionally transform it
in the sandbox, enrich its people from a real provider, and save it.

The seed's example {"input": "leads.csv", "enrichment": [...], "output": "crm_database"} reads
the owner's uploaded leads.csv, enriches each email through the People Data Labs-shaped
provider (AGENT_ENRICHMENT_URL; without one the fields are reported unavailable) and upserts
the leads into the built-in CRM by email. Steps: data.read -> [code.run] -> [data.enrich] ->
[data.write]; the result counts rows read, written, updated, enriched, not matched and rejected.
"""
from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tools import enrichment, pg
from tools.errors import ToolError

from ..plan import Plan, parse_plan

BUILTIN_CRM = ("crm_database", "crm")  # crm_database is a named connection when AGENT_DATABASES has one
FORMATS = ("csv", "json", "xlsx")


def _connections() -> dict[str, str]:
    try:
        return pg.connections()
    except ToolError:
        return {}


def resolve_output(output: str, *, input_name: str, table: str) -> dict[str, Any] | None:
    """`output` as data.write params (None: the rows are the result); ValueError naming the choices."""
    if output == "result":
        return None
    if output in _connections():  # an operator's connection wins, even over crm_database
        return {"target": "database", "connection": output, "table": table}
    if output in BUILTIN_CRM:
        return {"target": "crm"}
    name = output[len("file:"):] if output.startswith("file:") else None
    if output in FORMATS:
        name = f"{PurePosixPath(input_name).stem or 'rows'}-processed.{output}"
    if name is not None:
        fmt = PurePosixPath(name).suffix.lstrip(".").lower()
        if fmt not in FORMATS or "/" in name:
            raise ValueError(f"output file {name!r} must be a plain name ending in .csv, .json or .xlsx")
        return {"target": "file", "name": name, "format": fmt}
    known = ", ".join(sorted(_connections())) or "none configured"
    raise ValueError(f"output {output!r} is not one we know: use crm_database (the built-in CRM), result, "
                     f"file:NAME.csv|json|xlsx, csv|json|xlsx, or a connection of AGENT_DATABASES ({known})")


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    input: str | None = Field(default=None, max_length=2048,
                              description="an uploaded file's name (the newest) or id, or an http(s) URL")
    rows: list[dict[str, Any]] | None = Field(default=None, max_length=10_000)
    format: Literal["csv", "json", "xlsx"] | None = None
    sheet: str | None = Field(default=None, max_length=100, description="XLSX: the sheet to read")
    key: str = Field(default="email", max_length=100, description="the email column leads are kept by")
    transform: str | None = Field(default=None, max_length=50_000,
                                  description="Python run in the sandbox on `rows`; it sets result['rows']")
    enrichment: list[str] = Field(default_factory=list, max_length=len(enrichment.FIELDS),
                                  description=f"fields from the enrichment provider: {', '.join(enrichment.FIELDS)}")
    output: str = Field(default="result", max_length=300,
                        description="crm_database (built-in CRM), result, file:NAME.csv|json|xlsx, or a connection")
    output_table: str = Field(default="leads", alias="outputTable", pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$")
    schedule: str | None = None

    @field_validator("enrichment")
    @classmethod
    def known_fields(cls, fields: list[str]) -> list[str]:
        return enrichment.known_fields(fields)

    @model_validator(mode="after")
    def has_input(self) -> Config:
        if (self.input is None) == (self.rows is None):
            raise ValueError("give either input (an uploaded file's name or id, or a URL) or rows")
        if self.input and "://" in self.input and not self.input.lower().startswith(("http://", "https://")):
            raise ValueError(f"input {self.input!r}: a URL must be http(s)")
        resolve_output(self.output, input_name=self.input or "rows", table=self.output_table)
        return self


def _rows_of(steps: list[dict[str, Any]]) -> str:
    """The reference to the rows the last step produced (code.run nests them one level deeper)."""
    last = steps[-1]["action"]
    return f"{{step{len(steps)}.result.result.rows}}" if last == "code.run" else f"{{step{len(steps)}.result.rows}}"


def build_plan(config: Config, *, goal: str) -> Plan:
    target = resolve_output(config.output, input_name=config.input or "rows", table=config.output_table)
    read: dict[str, Any] = {"key": config.key, "requireKey": bool(target and target["target"] == "crm"),
                            **({"source": config.input} if config.input else {"rows": config.rows}),
                            **({"format": config.format} if config.format else {}),
                            **({"sheet": config.sheet} if config.sheet else {})}
    steps: list[dict[str, Any]] = [{"action": "data.read", "description": f"Read {config.input or 'the rows'}",
                                    "params": read}]
    if config.transform:
        steps.append({"action": "code.run", "description": "Transform the rows",
                      "params": {"code": f"rows = inputs['rows']\nresult = {{'rows': rows}}\n{config.transform}",
                                 "inputs": {"rows": "{step1.result.rows}"}}})
    statuses = None
    if config.enrichment:
        steps.append({"action": "data.enrich", "description": f"Enrich with {', '.join(config.enrichment)}",
                      "params": {"rows": _rows_of(steps), "fields": config.enrichment, "key": config.key}})
        statuses = f"{{step{len(steps)}.result.enrichment}}"
    if target is not None:
        where = {"crm": "the CRM", "database": f"{target.get('connection')}.{target.get('table')}",
                 "file": target.get("name")}[target["target"]]
        lines: dict[str, Any] = {} if config.transform else {"lines": "{step1.result.lines}"}
        lines.update(columns="{step1.result.columns}", fields=config.enrichment)
        steps.append({"action": "data.write", "description": f"Save to {where}",
                      "params": {"rows": _rows_of(steps), **lines, **({"enrichment": statuses} if statuses else {}),
                                 "key": config.key, **target}})
    return parse_plan({"steps": steps, "estimatedDuration": 5_000 * len(steps)})


def _of(outputs: dict[str, Any], key: str) -> dict[str, Any]:
    """The output of the last step whose output has `key`."""
    found = [o for o in outputs.values() if isinstance(o, dict) and key in o]
    return found[-1] if found else {}


def shape_result(outputs: dict[str, Any]) -> dict[str, Any]:
    read, enriched = _of(outputs, "read"), _of(outputs, "fields")
    saved = _of(outputs, "target")
    transformed = [o["result"]["rows"] for o in outputs.values() if isinstance(o, dict)
                   and isinstance(o.get("result"), dict) and "rows" in o["result"]]
    rows = enriched.get("rows") or (transformed[-1] if transformed else read.get("rows", []))
    rejected = sorted([*read.get("rejected", []), *saved.get("rejected", [])], key=lambda r: r.get("line", 0))
    result: dict[str, Any] = {
        "read": read.get("read", 0), "written": saved.get("written", 0), "updated": saved.get("updated", 0),
        "enriched": enriched.get("enriched", 0), "notMatched": enriched.get("notMatched", 0),
        "unavailable": enriched.get("unavailable", 0), "rejected": rejected,
        "output": saved.get("output") if saved else "result", "count": len(rows)}
    if enriched:
        result["enrichment"] = {k: enriched.get(k) for k in ("provider", "fields", "errors", "lookups", "cached",
                                                              "problems", "stoppedBecause") if k in enriched}
    if not saved:
        result["rows"] = rows
    return result
