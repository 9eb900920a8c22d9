"""data_processing: load rows (CSV or JSON), clean and transform them in the sandbox, enrich
them with the model, and write them to a named database or return them.

The seed's example {"input": "leads.csv", "enrichment": [...], "output": "crm_database"}
maps to: input an http(s) URL of the file (or inline `rows`), output a connection name
from AGENT_DATABASES (table `leads` unless `outputTable` says otherwise).
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..llm import get_provider
from ..plan import Plan, PlanError, parse_plan

# Runs in the code sandbox: parse the content into rows, drop blank and duplicate rows.
PARSE = """
import csv, io, json
content, fmt = inputs["content"], inputs["format"]
if inputs.get("rows") is not None:
    rows = inputs["rows"]
elif fmt == "json":
    rows = json.loads(content) if isinstance(content, str) else content
else:
    rows = list(csv.DictReader(io.StringIO(content)))
seen, clean = set(), []
for row in rows:
    row = {str(k).strip(): (v.strip() if isinstance(v, str) else v) for k, v in row.items() if k is not None}
    key = json.dumps(row, sort_keys=True)
    if any(v not in (None, "") for v in row.values()) and key not in seen:
        seen.add(key)
        clean.append(row)
result = {"rows": clean, "columns": sorted({k for r in clean for k in r}), "dropped": len(rows) - len(clean)}
"""

# Merge the model's JSON answer (a list, one object per row) into the rows.
MERGE = """
import json, re
text = inputs["answer"]["content"] if isinstance(inputs["answer"], dict) else inputs["answer"]
match = re.search(r"\\[.*\\]", text, re.S)
extra = json.loads(match.group(0)) if match else []
rows = [dict(row, **{k: v for k, v in (extra[i] if i < len(extra) else {}).items() if k in inputs["fields"]})
        for i, row in enumerate(inputs["rows"])]
result = {"rows": rows, "enriched": min(len(extra), len(rows))}
"""


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    input: str | None = Field(default=None, max_length=2048, description="http(s) URL of a CSV or JSON file")
    rows: list[dict[str, Any]] | None = Field(default=None, max_length=10_000)
    format: Literal["csv", "json"] | None = None
    transform: str | None = Field(default=None, max_length=50_000,
                                  description="Python run in the sandbox on `rows`; it sets result['rows']")
    enrichment: list[str] = Field(default_factory=list, max_length=20)
    output: str = Field(default="result", max_length=100,
                        description="'result' or a connection name from AGENT_DATABASES")
    output_table: str = Field(default="leads", alias="outputTable", pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$")
    schedule: str | None = None

    @model_validator(mode="after")
    def has_input(self) -> Config:
        if (self.input is None) == (self.rows is None):
            raise ValueError("give either input (a URL) or rows")
        if self.input and "://" not in self.input:
            raise ValueError(f"input {self.input!r} must be an http(s) URL of the file")
        return self


def build_plan(config: Config, *, goal: str) -> Plan:
    fmt = config.format or ("json" if (config.input or "").lower().endswith(".json") else "csv")
    steps: list[dict[str, Any]] = []
    if config.input:
        steps.append({"action": "http.get", "description": f"Download {config.input}", "params": {"url": config.input}})
    content = "{step1.result}" if config.input else ""
    steps.append({"action": "code.run", "description": "Parse and clean the rows",
                  "params": {"code": PARSE, "inputs": {"content": content, "format": fmt, "rows": config.rows}}})
    if config.transform:
        steps.append({"action": "code.run", "description": "Transform the rows",
                      "params": {"code": f"rows = inputs['rows']\nresult = {{'rows': rows}}\n{config.transform}",
                                 "inputs": {"rows": f"{{step{len(steps)}.result.result.rows}}"}}})
    if config.enrichment:
        steps += _enrichment_steps(config.enrichment, rows=f"{{step{len(steps)}.result.result.rows}}", first=len(steps))
    rows = f"{{step{len(steps)}.result.result.rows}}"
    if config.output != "result":
        steps.append({"action": "database.execute", "description": f"Save to {config.output}.{config.output_table}",
                      "params": {"connection": config.output, "table": config.output_table, "values": rows}})
    return parse_plan({"steps": steps, "estimatedDuration": 5_000 * len(steps)})


def _enrichment_steps(fields: list[str], *, rows: str, first: int) -> list[dict[str, Any]]:
    if get_provider().name == "offline":
        raise PlanError("enrichment needs a language model: set ANTHROPIC_API_KEY or leave out agentConfig.enrichment")
    ask = (f"For each row below, find {', '.join(fields)}. Answer with only a JSON array holding one object per "
           f"row, in the same order, with exactly these keys: {', '.join(fields)} (null when unknown).\n\nRows: "
           f"{rows}")
    return [
        {"action": "ai.chat", "description": f"Enrich with {', '.join(fields)}", "params": {"prompt": ask}},
        {"action": "code.run", "description": "Merge the enrichment into the rows",
         "params": {"code": MERGE, "inputs": {"answer": f"{{step{first + 1}.result}}", "rows": rows,
                                              "fields": fields}}},
    ]


def shape_result(outputs: dict[str, Any]) -> dict[str, Any]:
    last_rows = [o["result"] for o in outputs.values() if isinstance(o, dict) and isinstance(o.get("result"), dict)
                 and "rows" in o["result"]]
    saved = next((o for o in outputs.values() if isinstance(o, dict) and "rowcount" in o), None)
    rows = last_rows[-1]["rows"] if last_rows else []
    return {"rows": rows, "count": len(rows), **({"saved": saved["rowcount"]} if saved else {})}
