"""The data_processing agent: the seed's example as written, end to end against local counterparts
(an uploaded cp1252 leads.csv, a People Data Labs-shaped provider, the built-in CRM, a scratch database)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tasks_app import services, uploads
from tasks_app.agent_data import EnrichmentLookup, Lead, Upload
from tasks_app.models import TaskEvent, TaskExecution
from tasks_app.selectors import task_trace
from tests.fakes.pages import Site
from tests.fakes.pdl_server import KEY
from tests.fakes.scratch_db import scratch_database
from tests.tasks_app.api.conftest import client_for

from ..helpers import run_inline

pytestmark = pytest.mark.usefixtures("inline_engine")

SEED = Path(__file__).resolve().parents[3] / "examples" / "seed" / "data_processing.json"
# What a person exports from Excel on Windows: cp1252, semicolons, a quoted field with the
# delimiter, a line with a missing field, an empty line, a bad and a repeated email.
LEADS_CSV = ("Name;Email;Company\r\n"
             "José Müller;Jose@Example.com;\"Café; Zoë\"\r\n"
             "Renée Dupont;renee@example.org;Société Générale\r\n"
             "Broken line;nobody-here\r\n"
             "Zoë Null;zoe@unknown.test;Nowhere Ltd\r\n"
             "\r\n"
             "Bad Email;not-an-email;X\r\n"
             "José again;jose@example.com;Dup\r\n").encode("cp1252")
REJECTED = [{"line": 4, "reason": "has 2 fields, the header has 3"},
            {"line": 7, "reason": "invalid Email 'not-an-email'"},
            {"line": 8, "reason": "duplicate Email jose@example.com (first on line 2)"}]


def seed_task(user):
    """The seed's example, byte for byte, through the same mapping the API uses."""
    seed = json.loads(SEED.read_bytes())
    return services.task_create(user=user, title=seed["goal"], agent_type=seed["type"], agent_config=seed["config"])


def upload_leads(user, content: bytes = LEADS_CSV) -> None:
    uploads.save(owner_id=user.id, name="leads.csv", content=content, content_type="text/csv")


def test_the_seed_example_enriches_the_uploaded_csv_into_the_crm(user, pdl_server):
    upload_leads(user)
    task = run_inline(seed_task(user))
    assert task.status == "completed", task.error
    result = task.result
    assert (result["read"], result["written"], result["updated"]) == (6, 3, 0)
    assert (result["enriched"], result["notMatched"]) == (2, 1)
    assert result["rejected"] == REJECTED
    jose = Lead.objects.get(owner=user, email="jose@example.com")
    assert jose.fields["Name"] == "José Müller" and jose.fields["Company"] == "Café; Zoë"
    assert jose.fields["linkedin_profile"] == "https://linkedin.com/in/jose-muller"
    assert (jose.fields["company_size"], jose.fields["title"]) == ("51-200", "head of growth")
    assert jose.enrichment == {"linkedin_profile": "matched", "company_size": "matched", "title": "matched"}
    zoe = Lead.objects.get(owner=user, email="zoe@unknown.test")
    assert zoe.enrichment == dict.fromkeys(("linkedin_profile", "company_size", "title"), "not_matched")
    assert zoe.fields["title"] is None and zoe.fields["Company"] == "Nowhere Ltd"
    assert pdl_server.lookups() == 3  # one per valid email, none for the rejected lines
    assert all(r["headers"]["x-api-key"] == KEY for r in pdl_server.requests)


def test_a_rerun_updates_the_same_leads_and_asks_the_provider_nothing_new(user, pdl_server):
    upload_leads(user)
    task = run_inline(seed_task(user))
    first = {lead.email: lead.id for lead in Lead.objects.filter(owner=user)}
    task = run_inline(task)
    assert task.status == "completed", task.error
    assert (task.result["written"], task.result["updated"], task.result["enriched"]) == (0, 3, 2)
    assert {lead.email: lead.id for lead in Lead.objects.filter(owner=user)} == first
    assert pdl_server.lookups() == 3, "the second run's answers came from the cache"
    assert EnrichmentLookup.objects.filter(owner=user).count() == 3


def test_without_a_provider_the_rows_are_saved_and_the_fields_reported_unavailable(user):
    upload_leads(user)
    task = run_inline(seed_task(user))
    assert task.status == "completed", task.error
    assert (task.result["written"], task.result["enriched"], task.result["unavailable"]) == (3, 0, 3)
    assert "AGENT_ENRICHMENT_URL" in task.result["enrichment"]["stoppedBecause"]
    lead = Lead.objects.get(owner=user, email="renee@example.org")
    assert lead.enrichment == dict.fromkeys(("linkedin_profile", "company_size", "title"), "unavailable")
    assert lead.fields["Company"] == "Société Générale" and lead.fields["title"] is None


def test_a_later_run_fills_what_the_first_could_not_and_keeps_what_it_had(user, settings, pdl_server):
    upload_leads(user)
    settings.AGENT_ENRICHMENT_URL = ""
    task = run_inline(seed_task(user))
    assert Lead.objects.get(email="jose@example.com").enrichment["title"] == "unavailable"
    settings.AGENT_ENRICHMENT_URL = pdl_server.url
    task = run_inline(task)
    jose = Lead.objects.get(email="jose@example.com")
    assert (jose.fields["title"], jose.enrichment["title"]) == ("head of growth", "matched")
    settings.AGENT_ENRICHMENT_URL = ""
    EnrichmentLookup.objects.all().delete()
    run_inline(task)
    jose.refresh_from_db()
    assert (jose.fields["title"], jose.enrichment["title"]) == ("head of growth", "matched"), "kept, not wiped"


def test_the_key_never_reaches_steps_trace_or_events(user, pdl_server):
    upload_leads(user)
    task = run_inline(seed_task(user))
    assert task.status == "completed", task.error
    stored = json.dumps([list(TaskExecution.objects.filter(task=task).values()),
                         list(TaskEvent.objects.filter(task=task).values("payload")),
                         task_trace(task), task.result, task.plan], default=str)
    assert KEY not in stored
    assert "data.enrich" in stored


def test_a_rate_limited_lookup_waits_and_is_asked_again(user, pdl_server):
    upload_leads(user)
    pdl_server.rate_limit_once()
    task = run_inline(seed_task(user))
    assert task.status == "completed", task.error
    assert task.result["enriched"] == 2 and task.result["enrichment"]["errors"] == 0
    assert pdl_server.lookups("jose@example.com") == 2  # the 429, then the answer


def test_the_seed_shape_posted_to_the_api_as_written_runs(user, pdl_server):
    api = client_for(user)
    with_file = api.post("/api/files", {"file": _named(LEADS_CSV, "leads.csv")}, format="multipart")
    assert with_file.status_code == 201, with_file.content
    made = api.post("/api/workspace/tasks", data=SEED.read_bytes(), content_type="application/json")
    assert made.status_code == 201, made.content
    assert made.json()["agentConfig"] == json.loads(SEED.read_bytes())["config"]
    started = api.post(f"/api/agent/execute/{made.json()['id']}", {"async": True}, format="json")
    assert started.status_code in (200, 202), started.content
    from agents.dispatch import INLINE

    assert INLINE.wait_idle(timeout=60)
    leads = api.get("/api/crm/leads").json()
    assert leads["count"] == 3
    assert {lead["email"]: lead["fields"]["title"] for lead in leads["results"]} == {
        "jose@example.com": "head of growth", "renee@example.org": "cto", "zoe@unknown.test": None}


def _named(content: bytes, name: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type="text/csv")


def test_a_missing_input_file_fails_the_task_with_the_reason(user):
    task = run_inline(seed_task(user))
    assert task.status == "failed"
    assert "no file 'leads.csv' among your uploads" in task.error


def test_a_save_that_cannot_be_done_fails_the_task(user):
    upload_leads(user, b"Name;Email\r\nNo One;\r\nBad;not-an-email\r\n")
    task = run_inline(seed_task(user))
    assert task.status == "failed", task.result
    assert "data.write" in task.error and "no row to save: every row was rejected" in task.error
    assert not Lead.objects.exists()


@pytest.fixture
def crm(settings):
    schema = "CREATE TABLE leads (id serial PRIMARY KEY, name text, email text, company text)"
    with scratch_database("xantuus_crm", schema) as url:
        settings.AGENT_DATABASES = {"crm_database": {"url": url, "users": "*"}}
        yield url


def test_a_configured_crm_database_connection_wins_and_rows_are_upserted_by_email(user, crm, loopback_allowed):
    import psycopg

    csv = "name,email,company\nAda,ada@example.com,Analytical\n,,\nAda,ada@example.com,Analytical\nBob,bob@x.io,Bits\n"
    with Site({"/leads.csv": csv}) as site:
        config = {"input": f"{site.url}/leads.csv", "output": "crm_database",
                  "transform": "result['rows'] = [dict(r, company=r['company'].upper()) for r in rows]"}
        task = run_inline(services.task_create(user=user, title="Import leads", agent_type="data_processing",
                                               agent_config=config))
        assert task.status == "completed", task.error
        assert (task.result["written"], task.result["updated"]) == (2, 0)
        assert task.result["rejected"] == [{"line": 3, "reason": "empty row"},
                                           {"line": 4, "reason": "duplicate email ada@example.com (first on line 2)"}]
        task = run_inline(task)
    assert (task.result["written"], task.result["updated"]) == (0, 2)
    with psycopg.connect(crm) as conn:
        saved = conn.execute("SELECT name, email, company FROM leads ORDER BY id").fetchall()
    assert saved == [("Ada", "ada@example.com", "ANALYTICAL"), ("Bob", "bob@x.io", "BITS")]
    assert not Lead.objects.exists(), "the connection was used, not the built-in CRM"


def test_a_missing_table_is_created_with_the_enrichment_fields(user, settings, pdl_server):
    import psycopg

    upload_leads(user)
    with scratch_database("xantuus_export", "SELECT 1") as url:
        settings.AGENT_DATABASES = {"warehouse": {"url": url, "users": "*"}}
        config = {"input": "leads.csv", "enrichment": ["title", "company"], "output": "warehouse",
                  "outputTable": "enriched_leads"}
        task = run_inline(services.task_create(user=user, title="x", agent_type="data_processing",
                                               agent_config=config))
        assert task.status == "completed", task.error
        with psycopg.connect(url) as conn:
            rows = conn.execute("SELECT email, title, company_2, enrichment FROM enriched_leads ORDER BY id").fetchall()
    assert rows[0] == ("jose@example.com", "head of growth", "café zoë", {"title": "matched", "company": "matched"})
    assert len(rows) == 3


def test_output_as_a_file_the_owner_can_download(user, pdl_server):
    upload_leads(user)
    config = {"input": "leads.csv", "enrichment": ["title"], "output": "file:leads-enriched.csv"}
    task = run_inline(services.task_create(user=user, title="x", agent_type="data_processing", agent_config=config))
    assert task.status == "completed", task.error
    produced = Upload.objects.get(owner=user, name="leads-enriched.csv")
    assert task.result["output"]["download"] == f"/api/files/{produced.id}/download"
    text = uploads.read(produced).decode("utf-8-sig")
    assert text.splitlines()[0] == "Name,Email,Company,title,enrichment"
    assert 'José Müller,jose@example.com,Café; Zoë,head of growth,"{""title"": ""matched""}"' in text
    assert 'Zoë Null,zoe@unknown.test,Nowhere Ltd,,"{""title"": ""not_matched""}"' in text


def test_unknown_outputs_and_enrichment_fields_are_refused_at_creation(user):
    for config, words in [({"input": "leads.csv", "output": "salesforce"}, "output 'salesforce' is not one we know"),
                          ({"input": "leads.csv", "enrichment": ["salary"]}, "unknown enrichment field(s) salary"),
                          ({"input": "ftp://x/leads.csv"}, "a URL must be http(s)")]:
        with pytest.raises(services.InvalidTask) as error:
            services.task_create(user=user, title="x", agent_type="data_processing", agent_config=config)
        assert words in str(error.value)


def test_rolling_back_the_run_takes_its_leads_out_of_the_crm(user, pdl_server):
    from agents import rollback

    upload_leads(user)
    task = run_inline(seed_task(user))
    kept = Lead.objects.create(owner=user, email="kept@example.com", fields={"Name": "Kept"})
    try:
        report = rollback.rollback(task.id)
    except rollback.RollbackNeedsApproval as waiting:  # data deletion may be a gated policy
        ids = [item["id"] for item in waiting.report["compensations"] if item.get("id")]
        report = rollback.rollback(task.id, approve=ids, approved_by="ada")
    assert (report["undone"], report["failed"]) == (1, 0), report
    assert list(Lead.objects.filter(owner=user).values_list("email", flat=True)) == [kept.email]
