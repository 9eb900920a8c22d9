"""The admin's contacts (edited through the contacts service) and the read-only delivery ledger."""
from __future__ import annotations

import pytest

from tasks_app.agent_data import Contact, Delivery
from tasks_app.models import Task

pytestmark = pytest.mark.django_db
CONTACTS = "/admin/tasks_app/contact/"


def test_contacts_are_listed_added_with_the_apis_rules_and_unsubscribed_by_an_action(admin_client, user):
    Contact.objects.create(owner=user, email="lin@example.com", plan="trial")
    page = admin_client.get(CONTACTS, {"plan": "trial", "q": "lin"})
    assert page.status_code == 200 and b"lin@example.com" in page.content
    form = {"owner": user.id, "email": "Sam@Example.com", "name": "Sam", "plan": "paid", "attributes": "{}"}
    assert admin_client.post(f"{CONTACTS}add/", form).status_code == 302
    assert Contact.objects.get(email="sam@example.com").plan == "paid", "stored lower-cased, like the API"
    refused = admin_client.post(f"{CONTACTS}add/", {**form, "email": "lin@example.com", "attributes": "[1]"})
    assert refused.status_code == 200 and b"must be a JSON object" in refused.content
    admin_client.post(CONTACTS, {"action": "unsubscribe",
                                 "_selected_action": list(Contact.objects.values_list("id", flat=True))})
    assert set(Contact.objects.values_list("unsubscribed", flat=True)) == {True}


def test_the_delivery_ledger_is_read_only(admin_client, user):
    task = Task.objects.create(user=user, title="campaign")
    row = Delivery.objects.create(owner=user, task=task, recipient="lin@example.com", occasion="trial_day_7:2026-12-02",
                                  status="sent")
    page = admin_client.get("/admin/tasks_app/delivery/", {"status": "sent"})
    assert page.status_code == 200 and b"trial_day_7:2026-12-02" in page.content
    assert admin_client.get("/admin/tasks_app/delivery/add/").status_code == 403
    assert admin_client.post(f"/admin/tasks_app/delivery/{row.id}/change/", {"status": "failed"}).status_code == 403
    row.refresh_from_db()
    assert row.status == "sent"
