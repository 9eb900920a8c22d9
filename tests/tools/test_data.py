"""The data tool: tables read robustly (encodings, delimiters, XLSX, JSON, bad rows by line), and
enrichment from a People Data Labs-shaped server (matches, no match, refused key, 429, pacing)."""
from __future__ import annotations

import io
import json
from datetime import date

import openpyxl
import pytest

from tests.fakes.pages import Site
from tests.fakes.pdl_server import KEY, FakePDL
from tools import data, enrichment, tabular
from tools.errors import ToolError, ToolInputError

ROWS = [{"Name": "José Müller", "Email": "jose@example.com", "Company": "Café; Zoë"},
        {"Name": "Renée", "Email": "renee@example.org", "Company": "Société\nGénérale"}]


def read(content: bytes, name: str = "leads.csv", **kwargs):
    table = tabular.read(content, name=name, **kwargs)
    column = tabular.key_column(table.columns, "email")
    if column:
        tabular.check_emails(table, column)
    return table


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "utf-16"])
@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_csv_in_any_usual_encoding_and_delimiter_reads_the_same(encoding, delimiter):
    def quoted(value: str) -> str:
        return f'"{value}"' if delimiter in value or "\n" in value or ";" in value else value

    lines = [delimiter.join(["Name", "Email", "Company"])]
    lines += [delimiter.join(quoted(v) for v in row.values()) for row in ROWS]
    table = read("\r\n".join(lines).encode(encoding))
    assert table.rows == ROWS and table.lines == [2, 3] and table.rejected == []
    assert table.delimiter == delimiter


def test_bad_rows_are_reported_with_their_line_and_the_good_ones_kept():
    text = ("name,email,company\n"
            "Ada,ADA@example.com,\"Analytical, Engines\"\n"
            "too,many,fields,here\n"
            "short,only\n"
            ",,\n"
            "\n"
            "No Mail,,Acme\n"
            "Bad,ada@,Acme\n"
            "Again,ada@example.com,Acme\n"
            "Bob,bob@x.io,Bits\n")
    table = read(text.encode())
    assert [(line, row["email"]) for line, row in zip(table.lines, table.rows, strict=True)] == [
        (2, "ada@example.com"), (10, "bob@x.io")]
    assert table.rejected == [
        {"line": 3, "reason": "has 4 fields, the header has 3"},
        {"line": 4, "reason": "has 2 fields, the header has 3"},
        {"line": 5, "reason": "empty row"}, {"line": 7, "reason": "missing email"},
        {"line": 8, "reason": "invalid email 'ada@'"},
        {"line": 9, "reason": "duplicate email ada@example.com (first on line 2)"}]


def test_xlsx_reads_its_first_sheet_with_numbers_and_dates():
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Name", "Email", "Employees", "Signed up"])
    sheet.append(["Ada", "ada@example.com", 12, date(2026, 1, 5)])
    sheet.append([None, None, None, None])
    sheet.append(["Nope", "nope", 3, None])
    out = io.BytesIO()
    book.save(out)
    table = read(out.getvalue(), "leads.xlsx")
    assert table.rows == [{"Name": "Ada", "Email": "ada@example.com", "Employees": 12,
                           "Signed up": "2026-01-05T00:00:00"}]
    assert table.rejected == [{"line": 4, "reason": "invalid Email 'nope'"}]


def test_json_lists_or_objects_holding_rows():
    table = read(json.dumps({"rows": [{"email": "a@b.co", "n": 1}, "oops", {"email": "bad"}]}).encode(), "x.json")
    assert table.rows == [{"email": "a@b.co", "n": 1}]
    assert table.rejected == [{"line": 2, "reason": "item 2 is not an object"},
                              {"line": 3, "reason": "invalid email 'bad'"}]


def test_unreadable_inputs_are_clear_errors():
    with pytest.raises(ToolInputError, match=r"leads\.csv is empty"):
        tabular.read(b"  \n", name="leads.csv")
    with pytest.raises(ToolInputError, match="no data rows"):
        tabular.read(b"name,email\n", name="leads.csv")
    with pytest.raises(ToolInputError, match="column 'Email' appears twice"):
        tabular.read(b"email,Email\na@b.co,c@d.co\n", name="leads.csv")
    with pytest.raises(ToolInputError, match="not a readable XLSX"):
        tabular.read(b"PK\x03\x04 broken", name="leads.xlsx")


def test_read_a_url_through_the_egress_policy(tool_context):
    with Site({"/leads.csv": "email,name\nada@example.com,Ada\n"}) as site:
        result = data.tool.actions["read"].run({"source": f"{site.url}/leads.csv"}, tool_context)
    assert result["rows"] == [{"email": "ada@example.com", "name": "Ada"}] and result["source"]["name"] == "leads.csv"
    from tools.base import ToolContext
    from tools.egress import EgressPolicy

    with pytest.raises(ToolInputError, match="private, loopback"):
        data.tool.actions["read"].run({"source": "http://127.0.0.1:9/leads.csv"},
                                      ToolContext(egress=EgressPolicy.from_entries([])))


def test_a_file_reference_outside_a_task_says_it_needs_one(tool_context):
    with pytest.raises(ToolError, match="no files store"):
        data.tool.actions["read"].run({"source": "leads.csv"}, tool_context)


@pytest.fixture
def provider(settings, loopback_allowed):
    with FakePDL() as server:
        settings.AGENT_ENRICHMENT_URL, settings.AGENT_ENRICHMENT_KEY = server.url, KEY
        yield server


def fast() -> enrichment.Pacer:
    return enrichment.Pacer(1000.0)


def test_a_known_email_is_matched_with_pdl_fields_and_an_unknown_one_not(provider, tool_context):
    answer = enrichment.lookup("jose@example.com", tool_context, fast())
    assert answer.status == "matched" and answer.likelihood == 9
    assert answer.values["linkedin_url"] == "https://linkedin.com/in/jose-muller"
    assert answer.values["job_title_levels"] == "director"
    assert enrichment.lookup("who@nowhere.test", tool_context, fast()).status == "not_matched"
    assert provider.requests[0]["query"] == {"email": ["jose@example.com"]}
    assert provider.requests[0]["headers"]["x-api-key"] == KEY


def test_a_refused_key_stops_the_lookups(provider, settings, tool_context):
    settings.AGENT_ENRICHMENT_KEY = "wrong-key-123"
    with pytest.raises(enrichment.ProviderRefused, match="refused the request \\(401\\)"):
        enrichment.lookup("jose@example.com", tool_context, fast())


def test_a_429_waits_its_retry_after_then_asks_again(provider, tool_context):
    provider.rate_limit_once()
    waits: list[float] = []
    pacer = enrichment.Pacer(1000.0, sleep=waits.append)
    assert enrichment.lookup("jose@example.com", tool_context, pacer).status == "matched"
    assert provider.lookups("jose@example.com") == 2


def test_the_pacer_keeps_to_the_rate_with_an_injected_clock():
    now, slept = [100.0], []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 3))
        now[0] += seconds

    pacer = enrichment.Pacer(4.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        pacer.wait()
    assert slept == [0.25, 0.25]
    pacer.wait(extra_s=2.0)  # a Retry-After on top of the pace
    assert slept[-1] == 2.25


def test_enrich_without_a_provider_reports_every_field_unavailable(tool_context, settings):
    settings.AGENT_ENRICHMENT_URL = ""
    result = data.tool.actions["enrich"].run({"rows": [{"email": "jose@example.com"}], "fields": ["title"]},
                                             tool_context)
    assert result["enrichment"] == [{"title": "unavailable"}] and result["rows"] == [
        {"email": "jose@example.com", "title": None}]
    assert result["provider"] is None and "AGENT_ENRICHMENT_URL" in result["stoppedBecause"]


def test_an_unreachable_provider_is_an_error_per_row_not_a_guess(tool_context, settings):
    settings.AGENT_ENRICHMENT_URL, settings.AGENT_ENRICHMENT_RATE = "http://127.0.0.1:9", 1000.0
    rows = [{"email": f"p{i}@example.com"} for i in range(5)]
    result = data.tool.actions["enrich"].run({"rows": rows, "fields": ["title", "company_size"]}, tool_context)
    assert result["errors"] == 5 and result["enriched"] == 0
    assert result["lookups"] == enrichment.MAX_TRANSPORT_FAILURES, "it stopped asking a provider that is down"
    assert all(row["title"] is None for row in result["rows"])


def test_unknown_enrichment_fields_are_refused_with_the_known_ones(tool_context):
    with pytest.raises(ToolInputError, match=r"unknown enrichment field.*salary.*known: linkedin_profile"):
        data.tool.actions["enrich"].run({"rows": [], "fields": ["salary"]}, tool_context)
