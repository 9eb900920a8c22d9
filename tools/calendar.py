"""calendar: list, create, update and delete Google Calendar events (API v3).

Every write records its `compensation` (the action and params that undo it) through the
ToolContext for rollback, and shows it in its output.
create carries an event id derived from the step's idempotency key, so a retried create
finds the first one instead of making a second. Deleting is a data deletion: the
executor's approval policies (data, not code here) decide whether calendar.delete waits
for a person; this module only marks it WRITE. It must never put a Google token in an
output or an error.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, EmailStr, Field, model_validator

from .base import SideEffect, Tool, ToolContext, ToolInput
from .errors import ToolError
from .google import GoogleAPIError, GoogleSession

tool = Tool("calendar", "Read and change the user's Google Calendar.", uses_credentials=True)
LABEL = "calendar"
EVENT_FIELDS = ("summary", "description", "location", "start", "end", "attendees")
ATTENDEE_KEYS = ("email", "displayName", "optional", "responseStatus")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class EventTime(ToolInput):
    date_time: str | None = Field(default=None, alias="dateTime", description="RFC 3339, e.g. 2030-03-01T10:00:00Z")
    date: str | None = Field(default=None, description="YYYY-MM-DD, for an all-day event")
    time_zone: str | None = Field(default=None, alias="timeZone", max_length=64)

    @model_validator(mode="before")
    @classmethod
    def from_string(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"date": value} if DATE.fullmatch(value) else {"dateTime": value}
        return value

    @model_validator(mode="after")
    def one_kind(self) -> EventTime:
        if (self.date_time is None) == (self.date is None):
            raise ValueError("give either dateTime or date")
        try:
            if self.date_time is not None:
                dt.datetime.fromisoformat(self.date_time)
            else:
                dt.date.fromisoformat(self.date or "")
        except ValueError:
            raise ValueError(f"not an RFC 3339 date or time: {self.date_time or self.date!r}") from None
        return self


class Attendee(ToolInput):
    email: EmailStr
    display_name: str | None = Field(default=None, alias="displayName", max_length=256)
    optional: bool | None = None
    response_status: Literal["needsAction", "declined", "tentative", "accepted"] | None = Field(
        default=None, alias="responseStatus")

    @model_validator(mode="before")
    @classmethod
    def from_string(cls, value: Any) -> Any:
        return {"email": value} if isinstance(value, str) else value


class CalendarInput(ToolInput):
    calendar_id: str = Field(default="primary", alias="calendarId", min_length=1, max_length=1024)


class ListInput(CalendarInput):
    time_min: str | None = Field(default=None, alias="timeMin", description="RFC 3339 lower bound (event end)")
    time_max: str | None = Field(default=None, alias="timeMax", description="RFC 3339 upper bound (event start)")
    q: str | None = Field(default=None, max_length=1024, description="Free text search")
    max_results: int = Field(default=50, ge=1, le=250, alias="maxResults")
    page_token: str | None = Field(default=None, alias="pageToken", max_length=1024)


class EventFields(CalendarInput):
    summary: str | None = Field(default=None, max_length=1024)
    description: str | None = Field(default=None, max_length=8192)
    location: str | None = Field(default=None, max_length=1024)
    start: EventTime | None = None
    end: EventTime | None = None
    attendees: list[Attendee] | None = Field(default=None, max_length=200)
    send_updates: Literal["all", "externalOnly", "none"] = Field(default="none", alias="sendUpdates")

    def event_body(self) -> dict[str, Any]:
        """The given event fields in the API's shape; an explicit null clears a field."""
        body: dict[str, Any] = {}
        for name in EVENT_FIELDS:
            if name not in self.model_fields_set:
                continue
            value = getattr(self, name)
            if isinstance(value, list):
                value = [item.model_dump(by_alias=True, exclude_none=True) for item in value]
            elif isinstance(value, BaseModel):
                value = value.model_dump(by_alias=True, exclude_none=True)
            body[name] = value
        return body


class CreateInput(EventFields):
    summary: str = Field(max_length=1024)
    start: EventTime
    end: EventTime


class UpdateInput(EventFields):
    event_id: str = Field(alias="eventId", min_length=1, max_length=1024)

    @model_validator(mode="after")
    def something_to_change(self) -> UpdateInput:
        if not self.model_fields_set & set(EVENT_FIELDS):
            raise ValueError(f"give at least one of {', '.join(EVENT_FIELDS)} to change")
        return self


class DeleteInput(CalendarInput):
    event_id: str = Field(alias="eventId", min_length=1, max_length=1024)
    send_updates: Literal["all", "externalOnly", "none"] = Field(default="none", alias="sendUpdates")


def _events_path(calendar_id: str, event_id: str | None = None) -> str:
    path = f"/calendar/v3/calendars/{quote(calendar_id, safe='')}/events"
    return path if event_id is None else f"{path}/{quote(event_id, safe='')}"


def _brief(event: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "status", "summary", "description", "location", "start", "end", "attendees", "htmlLink")
    return {key: event[key] for key in keys if key in event}


def _restorable(event: dict[str, Any], name: str) -> Any:
    """A field of a fetched event as calendar.create/update input (None when it was absent)."""
    value = event.get(name)
    if name == "attendees" and value is not None:
        return [{k: a[k] for k in ATTENDEE_KEYS if k in a} for a in value]
    if name in ("start", "end") and isinstance(value, dict):
        return {k: value[k] for k in ("dateTime", "date", "timeZone") if k in value}
    return value


def _fetch(google: GoogleSession, calendar_id: str, event_id: str) -> dict[str, Any]:
    try:
        return google.request("GET", _events_path(calendar_id, event_id)).json()
    except GoogleAPIError as exc:
        if exc.status in (404, 410):
            raise ToolError(f"calendar: no event {event_id!r} in calendar {calendar_id!r}") from None
        raise


@tool.action("list", credits=10)
def list_events(params: ListInput, context: ToolContext) -> dict[str, Any]:
    """List events of a calendar (default: primary), optionally between timeMin and timeMax
    (RFC 3339) and matching the free text `q`; recurring events come expanded, by start time."""
    query = {"singleEvents": "true", "orderBy": "startTime", "maxResults": params.max_results,
             "timeMin": params.time_min, "timeMax": params.time_max, "q": params.q, "pageToken": params.page_token}
    with GoogleSession(context, LABEL) as google:
        page = google.request("GET", _events_path(params.calendar_id),
                              params={k: v for k, v in query.items() if v is not None}).json() or {}
        result: dict[str, Any] = {"events": [_brief(e) for e in page.get("items", [])]}
        if page.get("nextPageToken"):
            result["nextPageToken"] = page["nextPageToken"]
        return result


@tool.action("create", side_effect=SideEffect.WRITE, credits=10, inverses=("calendar.delete",))
def create(params: CreateInput, context: ToolContext) -> dict[str, Any]:
    """Create an event with `summary`, `start` and `end` (RFC 3339 dateTime, or YYYY-MM-DD for
    all-day), optional description, location and attendees (email addresses)."""
    with GoogleSession(context, LABEL) as google:
        body = params.event_body()
        if context.idempotency_key:  # base32hex ids are the client's to choose: hex digits qualify
            body["id"] = hashlib.sha256(f"{params.calendar_id}\n{context.idempotency_key}".encode()).hexdigest()[:40]
        try:
            event = google.request("POST", _events_path(params.calendar_id), json=body,
                                   params={"sendUpdates": params.send_updates}).json()
        except GoogleAPIError as exc:
            if exc.status != 409 or "id" not in body:
                raise
            event = _fetch(google, params.calendar_id, body["id"])  # a retry: the first attempt made it
            if event.get("status") == "cancelled":
                raise ToolError("calendar: this step's event was created and has since been deleted") from None
        return {
            "event": _brief(event),
            "compensation": context.record_compensation(
                "calendar.delete", {"calendarId": params.calendar_id, "eventId": event["id"]}),
        }


@tool.action("update", side_effect=SideEffect.WRITE, credits=10, inverses=("calendar.update",))
def update(params: UpdateInput, context: ToolContext) -> dict[str, Any]:
    """Change some fields of event `eventId` (only those given; null clears a field). The
    compensation restores the previous values."""
    with GoogleSession(context, LABEL) as google:
        before = _fetch(google, params.calendar_id, params.event_id)
        body = params.event_body()
        event = google.request("PATCH", _events_path(params.calendar_id, params.event_id), json=body,
                               params={"sendUpdates": params.send_updates}).json()
        previous = {name: _restorable(before, name) for name in body}
        return {
            "event": _brief(event),
            "compensation": context.record_compensation(
                "calendar.update", {"calendarId": params.calendar_id, "eventId": params.event_id, **previous}),
        }


@tool.action("delete", side_effect=SideEffect.WRITE, credits=10, inverses=("calendar.create",))
def delete(params: DeleteInput, context: ToolContext) -> dict[str, Any]:
    """Delete event `eventId` (a data deletion: approval policies may ask a person first).
    The compensation re-creates it from the event as it was."""
    with GoogleSession(context, LABEL) as google:
        before = _fetch(google, params.calendar_id, params.event_id)
        if before.get("status") == "cancelled":
            return {"deleted": True, "alreadyDeleted": True, "eventId": params.event_id}
        try:
            google.request("DELETE", _events_path(params.calendar_id, params.event_id),
                           params={"sendUpdates": params.send_updates})
        except GoogleAPIError as exc:
            if exc.status != 410:  # 410 Gone: deleted in between, which is what was asked
                raise
        recreate = {name: _restorable(before, name) for name in EVENT_FIELDS if before.get(name) is not None}
        if "summary" not in recreate:
            recreate["summary"] = ""
        return {
            "deleted": True, "eventId": params.event_id,
            "compensation": context.record_compensation("calendar.create",
                                                        {"calendarId": params.calendar_id, **recreate}),
        }

