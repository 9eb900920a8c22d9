"""/api/crm/leads: the built-in CRM a data_processing run writes, read by its owner only."""
from __future__ import annotations

import pytest

from tasks_app import crm

pytestmark = pytest.mark.django_db

STATUSES = {"title": "matched", "company_size": "not_matched"}


@pytest.fixture
def leads(user):
    crm.upsert(owner_id=user.id, task_id=None, leads=[
        ("ada@example.com", {"Name": "Ada", "email": "ada@example.com", "title": "cto", "company_size": None},
         STATUSES),
        ("bob@example.org", {"Name": "Bob", "email": "bob@example.org", "title": None}, {"title": "unavailable"}),
    ])
    return {lead.email: lead for lead in crm.leads_for(owner_id=user.id)}


def test_the_list_shows_each_leads_fields_with_enrichment_and_statuses(api, leads):
    body = api.get("/api/crm/leads").json()
    assert body["count"] == 2
    ada = body["results"][0]
    assert set(ada) == {"id", "email", "fields", "enrichment", "taskId", "createdAt", "updatedAt"}
    assert ada["email"] == "ada@example.com" and ada["fields"]["title"] == "cto"
    assert ada["enrichment"] == STATUSES
    assert api.get(f"/api/crm/leads/{ada['id']}").json() == ada


def test_filters_and_ordering(api, leads):
    assert [lead["email"] for lead in api.get("/api/crm/leads", {"email": "EXAMPLE.ORG"}).json()["results"]] == [
        "bob@example.org"]
    ordered = api.get("/api/crm/leads", {"ordering": "-email"}).json()["results"]
    assert [lead["email"] for lead in ordered] == ["bob@example.org", "ada@example.com"]
    bad = api.get("/api/crm/leads", {"ordering": "salary"})
    assert bad.status_code == 400 and "ordering" in bad.json()["error"]["fields"]


def test_an_upsert_keeps_one_lead_per_email_and_never_wipes_a_known_value(user, leads):
    done = crm.upsert(owner_id=user.id, task_id=None, leads=[
        ("ada@example.com", {"email": "ada@example.com", "title": None, "company_size": "51-200"},
         {"title": "unavailable", "company_size": "matched"})])
    assert (done["created"], done["updated"]) == ([], ["ada@example.com"])
    ada = crm.leads_for(owner_id=user.id, email="ada").get()
    assert ada.id == leads["ada@example.com"].id
    assert ada.fields == {"Name": "Ada", "email": "ada@example.com", "title": "cto", "company_size": "51-200"}
    assert ada.enrichment == {"title": "matched", "company_size": "matched"}


def test_undo_takes_back_exactly_what_an_upsert_did(user, leads):
    done = crm.upsert(owner_id=user.id, task_id=None, leads=[
        ("ada@example.com", {"email": "ada@example.com", "title": "ceo"}, {"title": "matched"}),
        ("cy@example.net", {"email": "cy@example.net"}, {})])
    assert crm.undo(owner_id=user.id, created_ids=done["createdIds"], before=done["before"]) == {
        "deleted": 1, "restored": 1}
    assert sorted(lead.email for lead in crm.leads_for(owner_id=user.id)) == ["ada@example.com", "bob@example.org"]
    assert crm.leads_for(owner_id=user.id, email="ada").get().fields["title"] == "cto"


def test_delete_removes_one_lead(api, leads):
    lead_id = leads["bob@example.org"].id
    assert api.delete(f"/api/crm/leads/{lead_id}").status_code == 204
    assert api.get(f"/api/crm/leads/{lead_id}").status_code == 404
    assert api.get("/api/crm/leads").json()["count"] == 1


def test_another_users_leads_are_not_found_and_not_listed(leads, intruder_api):
    lead_id = leads["ada@example.com"].id
    assert intruder_api.get(f"/api/crm/leads/{lead_id}").status_code == 404
    assert intruder_api.delete(f"/api/crm/leads/{lead_id}").status_code == 404
    assert intruder_api.get("/api/crm/leads").json()["count"] == 0
