"""The data_processing agent: its config, its plan and its job, end to end against local counterparts."""
from __future__ import annotations

import pytest

from tasks_app import services
from tests.fakes.pages import Site
from tests.fakes.scratch_db import scratch_database

from ..helpers import run_inline

pytestmark = pytest.mark.usefixtures("inline_engine")


@pytest.fixture
def crm(settings):
    schema = "CREATE TABLE leads (id serial PRIMARY KEY, name text, email text, company text)"
    with scratch_database("xantuus_crm", schema) as url:
        settings.AGENT_DATABASES = {"crm_database": url}
        yield url

def test_data_processing_loads_a_csv_cleans_it_and_saves_it_to_the_named_database(user, crm, loopback_allowed):
    import psycopg

    csv = "name,email,company\nAda,ada@example.com,Analytical\n,,\nAda,ada@example.com,Analytical\nBob,bob@x.io,Bits\n"
    with Site({"/leads.csv": csv}) as site:
        config = {"input": f"{site.url}/leads.csv", "output": "crm_database",
                  "transform": "result['rows'] = [dict(r, company=r['company'].upper()) for r in rows]"}
        task = run_inline(services.task_create(user=user, title="Import leads", agent_type="data_processing",
                                        agent_config=config))
    assert task.status == "completed", task.error
    assert task.result["count"] == 2 and task.result["saved"] == 2
    with psycopg.connect(crm) as conn:
        saved = conn.execute("SELECT name, email, company FROM leads ORDER BY id").fetchall()
    assert saved == [("Ada", "ada@example.com", "ANALYTICAL"), ("Bob", "bob@x.io", "BITS")]

def test_data_processing_enrichment_without_a_model_is_refused_clearly(user):
    with pytest.raises(services.InvalidTask) as error:
        services.task_create(user=user, title="x", agent_type="data_processing",
                             agent_config={"rows": [{"name": "Ada"}], "enrichment": ["company_size"]})
    assert "enrichment needs a language model" in str(error.value)
