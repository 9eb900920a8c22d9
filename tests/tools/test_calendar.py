"""calendar against the local fake Google (real google-auth and requests over loopback)."""
from __future__ import annotations

import json
import logging

import pytest

from tools.base import SideEffect
from tools.calendar import tool
from tools.egress import EgressPolicy
from tools.errors import EgressDenied, ToolError, ToolInputError

MEETING = {
    "summary": "Quarterly review", "location": "Room 4",
    "start": "2030-03-01T10:00:00+00:00", "end": {"dateTime": "2030-03-01T11:00:00Z", "timeZone": "UTC"},
    "attendees": ["ada@example.com", {"email": "bob@example.com", "optional": True}],
}


def run(qualified_name, params, context):
    tool_name, _, action = qualified_name.partition(".")
    assert tool_name == "calendar"
    return tool.actions[action].run(params, context)


@pytest.fixture
def context(tool_context, google_server):
    tool_context.credentials = {"google": google_server.credentials()}
    return tool_context


def test_create_puts_the_event_in_the_calendar_and_its_compensation_deletes_it(google_server, context):
    result = run("calendar.create", MEETING, context)

    stored = google_server.events["primary"][result["event"]["id"]]
    assert stored["summary"] == "Quarterly review" and stored["location"] == "Room 4"
    assert stored["start"] == {"dateTime": "2030-03-01T10:00:00+00:00"}
    assert [a["email"] for a in stored["attendees"]] == ["ada@example.com", "bob@example.com"]
    assert google_server.api_requests()[0].query["sendUpdates"] == ["none"]
    compensation = result["compensation"]
    assert compensation == {"action": "calendar.delete",
                            "params": {"calendarId": "primary", "eventId": stored["id"]}}

    run(compensation["action"], compensation["params"], context)
    assert google_server.events["primary"][stored["id"]]["status"] == "cancelled"


def test_a_retried_create_finds_the_first_event_instead_of_making_another(google_server, context):
    first = run("calendar.create", MEETING, context)
    again = run("calendar.create", MEETING, context)
    assert again["event"]["id"] == first["event"]["id"]
    assert len(google_server.events["primary"]) == 1
    context.idempotency_key = "task:t-test:run:1:step:2"
    run("calendar.create", MEETING, context)
    assert len(google_server.events["primary"]) == 2


def test_list_filters_by_time_window_and_text(context):
    for day, summary in ((1, "Standup"), (2, "Review budget"), (9, "Standup")):
        context.idempotency_key = f"task:t:step:{day}"
        run("calendar.create", {"summary": summary, "start": f"2030-04-0{day}T09:00:00Z",
                                "end": f"2030-04-0{day}T09:15:00Z"}, context)
    week = run("calendar.list", {"timeMin": "2030-04-01T00:00:00Z", "timeMax": "2030-04-08T00:00:00Z"}, context)
    assert [e["summary"] for e in week["events"]] == ["Standup", "Review budget"]
    found = run("calendar.list", {"q": "budget"}, context)
    assert [e["start"]["dateTime"] for e in found["events"]] == ["2030-04-02T09:00:00Z"]


def test_update_changes_fields_and_its_compensation_restores_them(google_server, context):
    event_id = run("calendar.create", MEETING, context)["event"]["id"]
    result = run("calendar.update", {"eventId": event_id, "summary": "Moved review", "description": "Bring numbers",
                                     "start": "2030-03-02T10:00:00Z", "end": "2030-03-02T11:00:00Z"}, context)
    stored = google_server.events["primary"][event_id]
    assert stored["summary"] == "Moved review" and stored["description"] == "Bring numbers"
    assert stored["start"]["dateTime"] == "2030-03-02T10:00:00Z"
    assert stored["location"] == "Room 4"  # untouched

    compensation = result["compensation"]
    assert compensation["action"] == "calendar.update"
    run(compensation["action"], compensation["params"], context)
    restored = google_server.events["primary"][event_id]
    assert restored["summary"] == "Quarterly review" and "description" not in restored
    assert restored["start"] == {"dateTime": "2030-03-01T10:00:00+00:00"}
    assert restored["end"] == {"dateTime": "2030-03-01T11:00:00Z", "timeZone": "UTC"}


def test_delete_removes_the_event_and_its_compensation_recreates_it(google_server, context):
    event_id = run("calendar.create", MEETING, context)["event"]["id"]
    context.idempotency_key = "task:t-test:run:1:step:2"
    result = run("calendar.delete", {"eventId": event_id}, context)
    assert google_server.events["primary"][event_id]["status"] == "cancelled"
    assert run("calendar.list", {}, context)["events"] == []
    assert run("calendar.delete", {"eventId": event_id}, context)["alreadyDeleted"] is True

    context.idempotency_key = "task:t-test:run:1:step:3"
    recreated = run(result["compensation"]["action"], result["compensation"]["params"], context)["event"]
    assert recreated["id"] != event_id
    assert (recreated["summary"], recreated["location"]) == ("Quarterly review", "Room 4")
    assert [a["email"] for a in recreated["attendees"]] == ["ada@example.com", "bob@example.com"]
    assert [e["id"] for e in run("calendar.list", {}, context)["events"]] == [recreated["id"]]


def test_side_effects_and_costs_are_declared():
    actions = tool.actions
    assert actions["list"].side_effect == SideEffect.READ
    assert {actions[n].side_effect for n in ("create", "update", "delete")} == {SideEffect.WRITE}
    assert {a.credits for a in actions.values()} == {10}


def test_unknown_event_and_bad_input_are_clear_errors(context):
    with pytest.raises(ToolError, match="no event 'nope'"):
        run("calendar.update", {"eventId": "nope", "summary": "x"}, context)
    with pytest.raises(ToolInputError, match="not an RFC 3339"):
        run("calendar.create", {"summary": "x", "start": "next tuesday", "end": "2030-01-01"}, context)
    with pytest.raises(ToolError, match="time range is empty"):
        run("calendar.create", {"summary": "x", "start": "2030-01-02T10:00:00Z", "end": "2030-01-02T09:00:00Z"},
            context)


def test_an_expired_token_is_refreshed_and_handed_back_for_storage(google_server, tool_context):
    creds = google_server.credentials(expired=True)
    tool_context.credentials = {"google": dict(creds)}
    result = run("calendar.create", MEETING, tool_context)

    assert result["event"]["id"] in google_server.events["primary"]
    assert [g["refresh_token"] for g in google_server.token_grants] == [creds["refresh_token"]]
    stored = tool_context.credentials["google"]
    assert stored["token"] in google_server.access_tokens and stored["token"] != creds["token"]
    assert stored["refresh_token"] == creds["refresh_token"] and stored["email"] == "owner@example.com"
    assert {r.bearer for r in google_server.api_requests()} == {stored["token"]}


def test_a_revoked_access_token_is_refreshed_once_and_the_call_succeeds(google_server, context):
    google_server.revoke(context.credentials["google"]["token"])
    run("calendar.list", {}, context)
    assert len(google_server.token_grants) == 1
    assert context.credentials["google"]["token"] in google_server.access_tokens


def test_revoked_access_asks_to_reconnect_and_leaks_no_secret(google_server, context, caplog):
    creds = dict(context.credentials["google"])
    google_server.revoke(creds["token"], creds["refresh_token"])
    outputs, errors = [], []
    with caplog.at_level(logging.DEBUG):
        for name, params in (("calendar.list", {}), ("calendar.create", MEETING)):
            with pytest.raises(ToolError, match="the Google account must be reconnected") as error:
                run(name, params, context)
            errors.append(str(error.value))
        google_server.refresh_tokens.add(creds["refresh_token"])  # reconnected: now the calls work
        outputs.append(run("calendar.create", MEETING, context))
        outputs.append(run("calendar.list", {}, context))
    assert len(google_server.token_grants) == 3  # two refused, one granted
    refreshed = context.credentials["google"]["token"]
    seen = json.dumps(outputs) + " ".join(errors) + caplog.text
    for secret in (creds["token"], creds["refresh_token"], creds["client_secret"], refreshed):
        assert secret not in seen


def test_without_a_google_account_the_error_says_to_connect_one(tool_context):
    with pytest.raises(ToolError, match="calendar needs a connected Google account"):
        run("calendar.list", {}, tool_context)


def test_the_egress_policy_applies_to_google_urls(google_server, context):
    context.egress = EgressPolicy()  # loopback not allow-listed
    with pytest.raises(EgressDenied):
        run("calendar.list", {}, context)
    assert google_server.requests == []
