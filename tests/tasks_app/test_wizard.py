"""The wizard without JSON: its live check (field errors, the schedule in words, the plan preview),
and in real Chromium a price watch made through the form fields alone, started and followed to the end.
"""
from __future__ import annotations

import itertools
import json
import re
from datetime import UTC, datetime

import pytest

from tasks_app.models import Task
from tasks_app.wizard_check import describe_schedule
from tests.fakes.pages import Site, shop_page
from tests.tasks_app.test_pages import browser_page  # noqa: F401 (a fixture)


@pytest.fixture
def logged_in(client, user):
    client.force_login(user)
    return client


def check(client, kind: str, config: dict | str, title: str = "Watch prices") -> dict:
    text = config if isinstance(config, str) else json.dumps(config)
    response = client.post("/tasks/new/check", json.dumps({"kind": kind, "config": text, "title": title}),
                           content_type="application/json")
    assert response.status_code == 200
    return response.json()


@pytest.mark.django_db
def test_check_puts_each_error_on_its_field(logged_in):
    answer = check(logged_in, "browser_automation",
                   {"urls": ["ftp://shop.example/x"], "selector": "", "alertThreshold": "cheap", "colour": "red"})
    errors = answer["errors"]
    assert errors["urls"] == "'ftp://shop.example/x': only http and https pages can be watched"
    assert "at least 1 character" in errors["selector"]
    assert "valid number" in errors["alertThreshold"]
    assert errors["colour"] == "not a field of this agent type"
    assert answer["preview"] is None

    assert check(logged_in, "browser_automation", {"selector": ".price"})["errors"] == {"": "give url or urls"}
    assert check(logged_in, "research", {"sources": ["hackernews"], "schedule": "every morning"})["errors"] == {
        "schedule": "'every morning' is not a cron expression of 5 fields (minute hour day-of-month month "
                    "day-of-week), e.g. '0 9 * * *'"}
    assert check(logged_in, "email_campaign", '{"template": ')["errors"]["json"].startswith(
        "the configuration is not valid JSON")
    assert not Task.objects.exists()  # a check stores nothing


@pytest.mark.django_db
def test_check_describes_the_schedule_and_previews_the_plan(logged_in):
    answer = check(logged_in, "browser_automation", {"urls": ["https://a.example/p", "https://b.example/p"],
                                                     "selector": ".price", "alertThreshold": 99.99,
                                                     "schedule": "0 9 * * *"})
    assert answer["errors"] == {}
    assert answer["schedule"]["description"] == "At 09:00 (UTC)"
    runs = [datetime.fromisoformat(at) for at in answer["schedule"]["nextRuns"]]
    assert len(runs) == 5 and all((at.hour, at.minute, at.tzinfo) == (9, 0, UTC) for at in runs)
    assert [(b - a).days for a, b in itertools.pairwise(runs)] == [1, 1, 1, 1]
    steps = answer["preview"]["steps"]
    assert [(s["action"], s["irreversible"]) for s in steps] == [
        ("prices.check", False), ("prices.check", False), ("prices.combine", False), ("email.send", True)]
    assert steps[3]["when"] == "{combined.result.alert}" and steps[3]["why"]
    assert answer["preview"]["estimatedCredits"] > 0
    # the type's own guess: 10 s for the pages, read at the same time, and 5 s
    assert answer["preview"]["estimatedDuration"] == 15_000


def test_describe_schedule_counts_from_now_in_utc():
    now = datetime(2026, 12, 2, 10, 30, tzinfo=UTC)  # a Wednesday, after 09:00
    answer = describe_schedule("0 9 * * 1-5", now)
    assert answer["description"] == "At 09:00, Monday through Friday (UTC)"
    assert answer["nextRuns"][:3] == ["2026-12-03T09:00:00+00:00", "2026-12-04T09:00:00+00:00",
                                      "2026-12-07T09:00:00+00:00"]
    assert describe_schedule("61 * * * *", now)["error"].startswith("'61 * * * *' is not valid cron")


@pytest.mark.django_db
def test_the_page_carries_each_types_schema_and_keeps_raw_json_as_an_option(logged_in):
    page = logged_in.get("/tasks/new").content.decode()
    schemas = json.loads(re.search(r'id="wizard-schemas" type="application/json">(.*?)</script>', page, re.S).group(1))
    assert set(schemas) == {"research", "browser_automation", "email_campaign", "data_processing"}
    assert schemas["browser_automation"]["required"] == ["selector"]
    assert schemas["data_processing"]["properties"]["input"]["x-widget"] == "upload"
    assert schemas["research"]["properties"]["schedule"]["x-widget"] == "cron"
    assert "Advanced: raw JSON" in page


@pytest.mark.django_db
def test_check_needs_a_login_and_a_json_body(client, logged_in):
    assert logged_in.post("/tasks/new/check", "oops", content_type="application/json").status_code == 400
    client.logout()
    assert client.post("/tasks/new/check", "{}", content_type="application/json").status_code == 302


@pytest.fixture
def shops(loopback_allowed):
    with Site({"/one/pricing": shop_page("Shop One", "$129.00"),
               "/two/pricing": shop_page("Shop Two", "$89.50")}) as site:
        yield site


@pytest.mark.slow
@pytest.mark.browser
def test_a_price_watch_made_with_the_form_fields_alone_runs_to_the_end(
        shops, celery_worker, daphne, user, browser_page):  # noqa: F811 (the fixture)
    from playwright.sync_api import expect

    page, base, problems = browser_page, f"http://{daphne}", []
    page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(f"{base}/tasks/new")
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill("pw-ada-123")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("radio", name="Browser automation").check()
    expect(page.get_by_label("Configuration (JSON)")).to_be_hidden()  # raw JSON is folded away as an option

    urls = [f"{shops.url}/one/pricing", f"{shops.url}/two/pricing"]
    page.get_by_label("URLs", exact=True).fill("\n".join(urls))
    selector = page.get_by_label("Selector *", exact=True)
    selector.fill("")
    expect(page.locator("#cfg-error-selector")).to_have_text("required")  # beside the field, as you type
    selector.fill(".price")
    expect(page.locator("#cfg-error-selector")).to_be_hidden()
    threshold = page.get_by_label("Alert threshold", exact=True)
    threshold.fill("cheap")
    expect(page.locator("#cfg-error-alertThreshold")).to_contain_text("valid number")
    threshold.fill("99.99")
    expect(page.locator("#cfg-error-alertThreshold")).to_be_hidden()
    page.get_by_label("Schedule", exact=True).fill("0 9 * * *")
    expect(page.locator('[data-role="cron-description"]')).to_have_text("At 09:00 (UTC)")
    runs = page.locator('[data-role="next-runs"] li')
    expect(runs).to_have_count(5)
    for n in range(5):
        expect(runs.nth(n)).to_have_text(re.compile(r"^\w{3}, \d{2} \w{3} \d{4}, 09:00 UTC$"))

    preview = page.locator("#plan-preview")
    expect(preview.locator("li")).to_have_count(4)  # a check per page, their merge, the mail
    expect(preview.locator('li[data-action="prices.check"] .badge.irreversible')).to_have_count(0)
    expect(preview.locator('li[data-action="email.send"] .badge.irreversible')).to_have_text("irreversible")
    expect(preview.locator('[data-role="estimate"]')).to_have_text(re.compile(r"^Estimated \d+ credits, about 15 s$"))

    page.get_by_label("Title").fill("Watch two shops from the fields")
    page.locator("#advanced-json summary").click()  # what the fields wrote is the JSON the form posts
    raw = json.loads(page.get_by_label("Configuration (JSON)").input_value())
    assert raw == {"urls": urls, "selector": ".price", "schedule": "0 9 * * *", "alertThreshold": 99.99}
    expect(page.get_by_label("Start it now")).to_be_checked()
    page.get_by_role("button", name="Create task").click()

    expect(page).to_have_url(re.compile(r"/tasks/\w+/$"))
    head = page.locator(".task-head")
    expect(head.locator('[data-role="status"]')).to_have_text("completed", timeout=90_000)
    steps = page.locator("ol.timeline > li")
    expect(steps).to_have_count(4)
    for n, action in enumerate(["prices.check", "prices.check", "prices.combine", "email.send"]):
        expect(steps.nth(n).locator(".action")).to_have_text(action)
        expect(steps.nth(n).locator('[data-role="status"]')).to_have_text("completed")
    steps.nth(2).locator("summary", has_text="Output").click()
    expect(steps.nth(2).locator("details pre").nth(1)).to_contain_text("89.5")
    assert problems == []  # no script error, nothing the CSP refused


@pytest.mark.slow
@pytest.mark.browser
def test_every_type_has_its_fields_an_upload_pick_and_its_own_draft(daphne, user, browser_page):  # noqa: F811
    from playwright.sync_api import expect

    page, base = browser_page, f"http://{daphne}"
    page.goto(f"{base}/tasks/new")
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill("pw-ada-123")
    page.get_by_role("button", name="Log in").click()
    raw = page.get_by_label("Configuration (JSON)")

    page.get_by_role("radio", name="Data processing").check()
    page.set_input_files("#cfg-input-file", files=[{"name": "trial-leads.csv", "mimeType": "text/csv",
                                                    "buffer": b"email,name\nbob@example.com,Bob\n"}])
    expect(page.locator("#cfg-input")).to_have_value("trial-leads.csv")  # uploaded, listed by GET /api/files, picked
    expect(page.locator("#plan-preview li").first).to_be_visible()
    page.locator("#advanced-json summary").click()
    assert json.loads(raw.input_value())["input"] == "trial-leads.csv"

    page.get_by_role("radio", name="Research").check()
    sources = page.locator("#cfg-sources input[type=checkbox]")
    expect(page.locator("#cfg-sources input:checked")).to_have_count(3)  # the seed's example
    for n in range(sources.count()):
        sources.nth(n).uncheck()
    expect(page.locator("#cfg-error-sources")).to_contain_text("at least 1 item")
    page.locator('#cfg-sources input[value="hackernews"]').check()
    expect(page.locator("#cfg-error-sources")).to_be_hidden()
    expect(page.get_by_label("Keywords", exact=True)).to_have_value("AI automation\nAI agents\nworkflow automation")
    expect(page.locator('[data-role="cron-description"]')).to_have_text("At 09:00, only on Monday (UTC)")
    assert json.loads(raw.input_value())["sources"] == ["hackernews"]

    page.get_by_role("radio", name="Email campaign").check()
    page.get_by_label("Recipients", exact=True).fill("bob@example.com\nnot-an-email")
    expect(page.locator("#cfg-error-recipients")).to_contain_text("1.email: value is not a valid email address")
    page.get_by_label("Recipients", exact=True).fill("bob@example.com")
    expect(page.locator("#cfg-error-recipients")).to_be_hidden()
    expect(page.locator("#config-root-error")).to_have_text(  # the example asks each recipient for three fields
        "recipients[0] (bob@example.com) lacks name, signup_date, features_used")
    page.get_by_label("Personalization", exact=True).fill("")
    expect(page.locator("#config-root-error")).to_be_hidden()
    expect(page.locator('#plan-preview li[data-action="campaign.send"] .badge.irreversible')).to_be_visible()
    assert json.loads(raw.input_value())["recipients"] == [{"email": "bob@example.com"}]

    page.get_by_role("radio", name="Data processing").check()  # its draft was kept, not the example again
    expect(page.locator("#cfg-input")).to_have_value("trial-leads.csv")
    raw.fill(json.dumps({"input": "trial-leads.csv", "enrichment": ["title", "company_size"], "output": "result"}))
    expect(page.get_by_label("Enrichment", exact=True)).to_have_value("title\ncompany_size")  # JSON fills the fields
