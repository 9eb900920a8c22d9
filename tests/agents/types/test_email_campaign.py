"""The email_campaign agent: the seed's task as written, its audience chosen at run time, once per occasion."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django_celery_beat.models import PeriodicTask
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from agents import approvals
from agents.dispatch import INLINE
from tasks_app import contacts, services
from tasks_app.agent_data import Contact, Delivery
from tasks_app.models import Approval, Task
from tests.fakes.scratch_db import scratch_database
from tests.fakes.smtp_sink import _free_port as free_port

from ..helpers import run_inline

pytestmark = pytest.mark.usefixtures("inline_engine")
SEED = (Path(__file__).resolve().parents[3] / "examples" / "seed" / "email_campaign.json").read_bytes()
TODAY = datetime.now(UTC).date()
DAY_7 = TODAY - timedelta(days=7)


def add(user, email, *, days_ago=7, plan="trial", unsubscribed=False, **attributes):
    values = contacts.clean({"email": email, "name": email.split("@")[0].title(), "plan": plan,
                             "signupDate": (TODAY - timedelta(days=days_ago)).isoformat(),
                             "attributes": attributes, "unsubscribed": unsubscribed})
    return contacts.upsert(owner_id=user.id, values=values)[0]


@pytest.fixture
def audience(user):
    add(user, "lin@example.com", features_used=["browser", "email"])
    add(user, "sam@example.com", features_used=["research"], country="DE")
    add(user, "kim@example.com", days_ago=6, features_used=["email"])  # day 6: not due
    add(user, "pat@example.com", plan="paid", features_used=["email"])  # not on the trial
    add(user, "uma@example.com", unsubscribed=True, features_used=["email"])
    add(user, "noa@example.com")  # no features_used: skipped, never a broken email


def create_seed_task(user) -> Task:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    response = api.generic("POST", "/api/workspace/tasks", SEED, content_type="application/json")
    assert response.status_code == 201, response.content
    return Task.objects.get(id=response.json()["id"])


def test_the_seed_campaign_mails_exactly_the_trial_users_on_day_7_once(user, audience, smtp_sink):
    task = create_seed_task(user)
    assert task.agent_config == {"trigger": "trial_day_7", "template": "trial_followup",
                                 "personalization": ["name", "signup_date", "features_used"]}
    task = run_inline(task)
    assert task.status == "completed", task.error
    occasion = f"trial_day_7:{TODAY.isoformat()}"
    assert task.result == {
        "occasion": occasion, "sent": ["lin@example.com", "sam@example.com"], "failed": [],
        "skipped": [{"email": "noa@example.com", "reason": "missing features_used"},
                    {"email": "uma@example.com", "reason": "unsubscribed"}],
        "counts": {"sent": 2, "skipped": 2, "failed": 0},
    }
    messages = {m["To"]: m for m in smtp_sink.wait_for(2)}
    assert set(messages) == {"lin@example.com", "sam@example.com"}
    lin = messages["lin@example.com"]
    assert lin["Subject"] == "How is your trial going, Lin?"
    assert f"You signed up on {DAY_7.isoformat()}. So far you have used: browser, email." in lin.get_content()
    assert "/unsubscribe/" in lin["List-Unsubscribe"] and lin["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "research" in messages["sam@example.com"].get_content()
    assert len({m["Message-ID"] for m in messages.values()}) == 2
    assert sorted(Delivery.objects.filter(task=task).values_list("recipient", "status")) == [
        ("lin@example.com", "sent"), ("sam@example.com", "sent")]

    again = run_inline(task)  # the same day: everyone due was mailed already
    assert again.status == "completed", again.error
    assert len(smtp_sink.messages) == 2, "a second run the same day sends nothing new"
    assert again.result["sent"] == [] and {"email": "lin@example.com", "reason": f"already sent for {occasion}"} \
        in again.result["skipped"]


def test_a_triggered_campaign_runs_daily_at_nine_utc_unless_it_names_a_schedule(user):
    task = create_seed_task(user)
    periodic = PeriodicTask.objects.get(name=f"xantuus-task-{task.id}")
    assert (periodic.crontab.minute, periodic.crontab.hour, periodic.crontab.day_of_week) == ("0", "9", "*")
    own = services.task_create(user=user, title="weekly", agent_type="email_campaign", agent_config={
        "trigger": "signup_day_1", "template": "onboarding_welcome", "personalization": ["name"],
        "schedule": "30 8 * * 1"})
    assert PeriodicTask.objects.get(name=f"xantuus-task-{own.id}").crontab.hour == "8"
    by_hand = services.task_create(user=user, title="once", agent_type="email_campaign", agent_config={
        "template": "trial_followup", "recipients": [{"email": "a@example.com"}]})
    assert not PeriodicTask.objects.filter(name=f"xantuus-task-{by_hand.id}").exists()


def test_the_unsubscribe_link_in_the_email_stops_the_next_campaign(user, audience, smtp_sink):
    task = run_inline(create_seed_task(user))
    lin = next(m for m in smtp_sink.wait_for(2) if m["To"] == "lin@example.com")
    path = urlsplit(lin["List-Unsubscribe"].strip().strip("<>")).path
    browser = Client()
    assert b"Stop receiving these emails?" in browser.get(path).content
    assert not Contact.objects.get(email="lin@example.com").unsubscribed, "a GET (a link scanner) changes nothing"
    assert browser.post(path).status_code == 200  # the button, or a mail client's one-click
    assert Contact.objects.get(email="lin@example.com").unsubscribed
    assert browser.post(path[:-3] + "xyz/").status_code == 404
    Delivery.objects.filter(task=task).delete()  # as if it were a new occasion
    again = run_inline(task)
    assert {"email": "lin@example.com", "reason": "unsubscribed"} in again.result["skipped"]
    assert [m["To"] for m in smtp_sink.wait_for(3)][2:] == ["sam@example.com"]


def test_twelve_recipients_ask_for_approval_once_listing_them_then_each_gets_one_email(user, smtp_sink):
    people = [f"trial{n:02}@example.com" for n in range(12)]
    for email in people:
        add(user, email, features_used=["browser"])
    task = run_inline(create_seed_task(user))
    assert task.status == "awaiting_approval", task.error
    [notice] = smtp_sink.wait_for(1)  # the owner is asked; no one else is mailed yet
    assert notice["To"] == "ada@example.com" and "trial11@example.com" in notice.get_content()
    [approval] = Approval.objects.filter(task=task)
    assert "more than 10 recipients" in approval.question and "Recipients (12)" in approval.question
    assert all(email in approval.question for email in people)
    approvals.decide(approval, approve=True, done=None, user=user)
    assert INLINE.wait_idle(timeout=60)
    task.refresh_from_db()
    assert task.status == "completed", task.error
    assert sorted(m["To"] for m in smtp_sink.wait_for(13)[1:]) == people
    assert len(smtp_sink.messages) == 13 and Approval.objects.filter(task=task).count() == 1
    assert task.result["counts"] == {"sent": 12, "skipped": 0, "failed": 0}


def test_a_send_that_began_before_a_crash_is_not_repeated(user, audience, smtp_sink):
    task = create_seed_task(user)
    occasion = f"trial_day_7:{TODAY.isoformat()}"
    Delivery.objects.create(owner=user, task=task, recipient="lin@example.com", occasion=occasion, run=1)  # sending
    task = run_inline(task)
    assert [m["To"] for m in smtp_sink.wait_for(1)] == ["sam@example.com"]
    reason = next(s["reason"] for s in task.result["skipped"] if s["email"] == "lin@example.com")
    assert "outcome is unknown: not sent again" in reason


def test_a_filter_over_contact_fields_and_attributes_selects_the_audience(user, audience, smtp_sink):
    config = {"template": "Hi {{ name }}, news for {{ country }}.", "subject": "News, {{ name }}",
              "audience": {"filter": [{"field": "plan", "op": "in", "value": ["trial", "paid"]},
                                      {"field": "attributes.country", "op": "in", "value": ["DE", "AT"]}]}}
    task = run_inline(services.task_create(user=user, title="DACH news", agent_type="email_campaign",
                                           agent_config=config))
    assert task.status == "completed", task.error
    [message] = smtp_sink.wait_for(1)
    assert (message["To"], message["Subject"]) == ("sam@example.com", "News, Sam")
    assert "Hi Sam, news for DE." in message.get_content()
    assert task.result["occasion"] == f"run:{task.attempts}"


def test_recipients_given_by_hand_still_get_one_personalized_email_each(user, smtp_sink):
    config = {"template": "trial_followup", "personalization": ["name", "signup_date", "features_used"],
              "recipients": [{"email": "lin@example.com", "name": "Lin", "signup_date": "2026-11-19",
                              "features_used": ["browser", "email"]},
                             {"email": "sam@example.com", "name": "Sam", "signup_date": "2026-11-19",
                              "features_used": ["research"]}]}
    task = run_inline(services.task_create(user=user, title="Day-7 follow-up", agent_type="email_campaign",
                                           agent_config=config))
    assert task.status == "completed", task.error
    assert task.result["sent"] == ["lin@example.com", "sam@example.com"] and task.result["failed"] == []
    messages = {m["To"]: m for m in smtp_sink.wait_for(2)}
    assert messages["lin@example.com"]["Subject"] == "How is your trial going, Lin?"
    assert "So far you have used: browser, email." in messages["lin@example.com"].get_content()
    assert len({m["Message-ID"] for m in messages.values()}) == 2, "each send has its own Message-ID"


def test_email_campaign_refuses_recipients_missing_a_personalization_field(user):
    config = {"template": "trial_followup", "personalization": ["name"], "recipients": [{"email": "x@example.com"}]}
    with pytest.raises(services.InvalidTask) as error:
        services.task_create(user=user, title="x", agent_type="email_campaign", agent_config=config)
    assert "recipients[0] (x@example.com) lacks name" in str(error.value)


@pytest.mark.parametrize(("config", "words"), [
    ({"trigger": "trial_week_1", "template": "trial_followup"}, "unknown trigger 'trial_week_1'"),
    ({"template": "trial_followup"}, "give the campaign an audience"),
    ({"template": "x", "subject": "s", "audience": {"sql": "select 1"}}, "audience.sql and audience.connection"),
])
def test_a_campaign_without_a_usable_audience_is_refused_at_creation(user, config, words):
    with pytest.raises(services.InvalidTask) as error:
        services.task_create(user=user, title="x", agent_type="email_campaign", agent_config=config)
    assert words in str(error.value)


def test_an_audience_from_an_sql_query_honours_the_contacts_opt_outs(user, settings, smtp_sink):
    add(user, "out@example.com", unsubscribed=True)
    schema = ("CREATE TABLE customers (email text, name text, renews date);"
              "INSERT INTO customers VALUES ('ivy@example.com', 'Ivy', '2026-12-31'), "
              "('out@example.com', 'Out', '2026-12-31'), ('broken', 'B', NULL), ('ole@example.com', 'Ole', NULL)")
    with scratch_database("campaign", schema) as url:
        settings.AGENT_DATABASES = {"warehouse": {"url": url, "users": [user.username]}}
        config = {"template": "Hi {{ name }}, your plan renews on {{ renews }}.", "subject": "Renewal",
                  "audience": {"sql": "SELECT email, name, renews FROM customers ORDER BY email",
                               "connection": "warehouse"}}
        task = run_inline(services.task_create(user=user, title="Renewals", agent_type="email_campaign",
                                               agent_config=config))
    assert task.status == "completed", task.error
    [message] = smtp_sink.wait_for(1)
    assert message["To"] == "ivy@example.com" and "renews on 2026-12-31." in message.get_content()
    assert sorted((s["email"], s["reason"]) for s in task.result["skipped"]) == [
        ("broken", "sql row 1 has no valid email column"), ("ole@example.com", "missing renews"),
        ("out@example.com", "unsubscribed")]


def test_with_the_mail_server_down_nothing_is_marked_sent_and_a_later_run_delivers(user, audience, settings,
                                                                                   smtp_sink):
    port, settings.EMAIL_PORT = settings.EMAIL_PORT, free_port()  # nothing listens there
    settings.AGENT_MAX_RETRIES = 1
    task = run_inline(create_seed_task(user))
    assert task.status == "failed" and "no email could be sent" in task.error
    assert set(Delivery.objects.filter(task=task).values_list("status", flat=True)) == {"failed"}
    settings.EMAIL_PORT = port
    task = run_inline(task)
    assert task.status == "completed", task.error
    assert sorted(m["To"] for m in smtp_sink.wait_for(2)) == ["lin@example.com", "sam@example.com"]


def test_a_long_recipient_list_in_the_approval_question_names_the_first_fifty(user, smtp_sink):
    for n in range(55):
        add(user, f"p{n:02}@example.com", features_used=["email"])
    task = run_inline(create_seed_task(user))
    [approval] = Approval.objects.filter(task=task)
    assert "Recipients (55)" in approval.question and "p49@example.com and 5 more." in approval.question
    assert "p50@example.com" not in approval.question
    approvals.decide(approval, approve=False, done=None, user=user)
    assert INLINE.wait_idle(timeout=30)
    task.refresh_from_db()
    assert task.status == "cancelled" and not Delivery.objects.filter(task=task).exists()


def test_a_campaign_from_someone_elses_address_sends_nothing_and_claims_no_one(user, smtp_sink):
    """issue 16, 9: a campaign's `from` is checked before anyone is claimed; the owner's own address works."""
    config = {"template": "Hi {{ name }}", "subject": "Hello",
              "recipients": [{"email": "lin@example.com", "name": "Lin"}], "from": "ceo@bigbank.example"}
    task = run_inline(services.task_create(user=user, title="Spoof", agent_type="email_campaign", agent_config=config))
    assert task.status == "failed"
    assert "from 'ceo@bigbank.example' is not an address this task may send as" in task.error
    assert [m["To"] for m in smtp_sink.messages] == [user.email]  # only the owner's "task failed" notice
    assert "Spoof" in smtp_sink.messages[0]["Subject"] and not Delivery.objects.filter(task=task).exists()

    smtp_sink.messages.clear()
    config["from"] = user.email
    task = run_inline(services.task_create(user=user, title="Mine", agent_type="email_campaign", agent_config=config))
    assert task.status == "completed", task.error
    assert [m["From"] for m in smtp_sink.wait_for(1)] == [user.email]
