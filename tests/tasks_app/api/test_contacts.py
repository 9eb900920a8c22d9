"""/api/contacts: upsert by email (bad rows reported, good ones kept), CSV import, filters, owner scoping."""
from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tasks_app.agent_data import Contact

pytestmark = pytest.mark.django_db

CONTACTS = "/api/contacts"


def csv_file(text: str, encoding: str, name: str = "contacts.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(encoding), content_type="text/csv")


def test_one_contact_is_created_then_updated_by_its_email(api):
    first = api.post(CONTACTS, {"email": "Lin@Example.com", "name": "Lin", "signupDate": "2026-11-19",
                                "plan": "trial", "attributes": {"features_used": ["browser"]}}, format="json")
    assert first.status_code == 201, first.content
    [created] = first.json()["created"]
    assert created["email"] == "lin@example.com" and created["signupDate"] == "2026-11-19"
    again = api.post(CONTACTS, {"email": "lin@example.com", "plan": "paid", "attributes": {"country": "DE"}},
                     format="json")
    assert again.status_code == 200, again.content
    [updated] = again.json()["updated"]
    assert updated["id"] == created["id"] and updated["plan"] == "paid" and updated["name"] == "Lin"
    assert updated["attributes"] == {"features_used": ["browser"], "country": "DE"}, "attributes are merged"
    assert Contact.objects.count() == 1


def test_a_list_with_a_bad_row_keeps_the_good_rows_and_names_the_bad_ones_index(api):
    rows = [{"email": "a@example.com", "plan": "trial"},
            {"email": "not-an-email", "signupDate": "19/11/2026"},
            {"email": "b@example.com", "nickname": "bee"},
            {"email": "c@example.com", "signupDate": "2026-11-20"}]
    response = api.post(CONTACTS, rows, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert [c["email"] for c in body["created"]] == ["a@example.com", "c@example.com"]
    assert [(e["index"], sorted(e["fields"])) for e in body["errors"]] == [(1, ["email", "signupDate"]),
                                                                          (2, ["nickname"])]
    assert "'not-an-email' is not a valid email address" in body["errors"][0]["fields"]["email"][0]
    assert "use YYYY-MM-DD" in body["errors"][0]["fields"]["signupDate"][0]
    assert sorted(Contact.objects.values_list("email", flat=True)) == ["a@example.com", "c@example.com"]


def test_nothing_valid_is_a_400_in_the_error_format(api):
    single = api.post(CONTACTS, {"name": "no email"}, format="json")
    assert single.status_code == 400
    assert single.json()["error"]["fields"] == {"email": ["this field is required"]}
    listed = api.post(CONTACTS, [{"email": "x"}], format="json")
    assert listed.status_code == 400 and "0.email" in listed.json()["error"]["fields"]
    assert api.post(CONTACTS, [], format="json").status_code == 400
    assert not Contact.objects.exists()


def test_a_cp1252_csv_with_semicolons_imports_its_good_lines_and_reports_the_bad_line(api):
    text = ("E-Mail;Name;Signup Date;Plan;Country;features_used\r\n"
            "jurgen@example.com;Jürgen Müller;2026-11-20;trial;Köln;browser, email\r\n"
            "zoe@example.com;Zoë Café;2026-11-21;paid;São Paulo;\r\n"
            "broken@example.com;Too;Many;Fields;Here;x;y\r\n"
            "\r\n"
            "bad-date@example.com;Bea;21.11.2026;trial;Wien;email\r\n")
    response = api.post(f"{CONTACTS}/import", {"file": csv_file(text, "cp1252")}, format="multipart")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["encoding"] == "cp1252"
    assert [(e["line"], list(e["fields"])) for e in body["errors"]] == [(4, ["line"]), (6, ["signupDate"])]
    assert "has 7 fields, the header has 6" in body["errors"][0]["message"]
    jurgen = Contact.objects.get(email="jurgen@example.com")
    assert (jurgen.name, str(jurgen.signup_date), jurgen.plan) == ("Jürgen Müller", "2026-11-20", "trial")
    assert jurgen.attributes == {"Country": "Köln", "features_used": "browser, email"}
    assert Contact.objects.get(email="zoe@example.com").attributes == {"Country": "São Paulo"}
    assert Contact.objects.count() == 2


def test_a_utf8_csv_with_a_bom_and_tabs_or_commas_imports_too(api):
    tabbed = "\ufeffemail\tname\tplan\nana@example.com\tAna Ñúñez\ttrial\n"
    response = api.post(f"{CONTACTS}/import", {"file": csv_file(tabbed, "utf-8")}, format="multipart")
    assert response.status_code == 201 and response.json()["encoding"] == "utf-8-sig"
    assert Contact.objects.get(email="ana@example.com").name == "Ana Ñúñez"
    quoted = 'email,name\nana@example.com,"Núñez, Ana"\n'
    response = api.post(f"{CONTACTS}/import", {"file": csv_file(quoted, "utf-8")}, format="multipart")
    assert response.status_code == 200 and response.json()["updated"][0]["name"] == "Núñez, Ana"


def test_a_file_that_cannot_be_imported_is_refused_whole(api):
    no_email = api.post(f"{CONTACTS}/import", {"file": csv_file("name;plan\nAna;trial\n", "utf-8")},
                        format="multipart")
    assert no_email.status_code == 400 and "no email column" in no_email.json()["error"]["fields"]["file"][0]
    missing = api.post(f"{CONTACTS}/import", {}, format="multipart")
    assert missing.status_code == 400 and "file" in missing.json()["error"]["fields"]
    assert not Contact.objects.exists()


def test_the_list_filters_by_plan_signup_range_unsubscribed_and_search(api):
    api.post(CONTACTS, [
        {"email": "a@example.com", "name": "Ann", "plan": "trial", "signupDate": "2026-11-01"},
        {"email": "b@example.com", "name": "Bob", "plan": "trial", "signupDate": "2026-11-10"},
        {"email": "c@example.com", "name": "Cy", "plan": "paid", "signupDate": "2026-11-10", "unsubscribed": True},
    ], format="json")

    def emails(**query):
        response = api.get(CONTACTS, query)
        assert response.status_code == 200, response.content
        return [c["email"] for c in response.json()["results"]]

    assert emails() == ["a@example.com", "b@example.com", "c@example.com"]
    assert emails(plan="trial") == ["a@example.com", "b@example.com"]
    assert emails(signupAfter="2026-11-05", signupBefore="2026-11-10") == ["b@example.com", "c@example.com"]
    assert emails(unsubscribed="true") == ["c@example.com"]
    assert emails(search="bo") == ["b@example.com"]
    assert api.get(CONTACTS, {"pageSize": 2}).json()["count"] == 3
    assert api.get(CONTACTS, {"signupAfter": "soon"}).status_code == 400


def test_read_change_and_delete_one_contact(api):
    contact_id = api.post(CONTACTS, {"email": "a@example.com", "attributes": {"x": 1}}, format="json") \
        .json()["created"][0]["id"]
    path = f"{CONTACTS}/{contact_id}"
    assert api.get(path).json()["email"] == "a@example.com"
    changed = api.patch(path, {"name": "Ann", "attributes": {"y": 2}}, format="json")
    assert changed.status_code == 200 and changed.json()["attributes"] == {"y": 2}
    assert api.patch(path, {"signupDate": "tomorrow"}, format="json").status_code == 400
    assert api.delete(path).status_code == 204
    assert api.get(path).status_code == 404


def test_another_users_contacts_are_invisible(api, intruder_api):
    contact_id = api.post(CONTACTS, {"email": "a@example.com"}, format="json").json()["created"][0]["id"]
    path = f"{CONTACTS}/{contact_id}"
    assert intruder_api.get(path).status_code == 404
    assert intruder_api.patch(path, {"name": "Eve"}, format="json").status_code == 404
    assert intruder_api.delete(path).status_code == 404
    assert intruder_api.get(CONTACTS).json()["count"] == 0
    created = intruder_api.post(CONTACTS, {"email": "a@example.com", "name": "Eve's"}, format="json")
    assert created.status_code == 201, "the same address is a separate contact of the other user"
    assert Contact.objects.get(id=contact_id).name == ""
