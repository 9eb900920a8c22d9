"""contacts: select a campaign's audience at run time (triggers and filters are data).

A trigger is a row of TRIGGERS: a name pattern and the conditions it stands for
(`trial_day_7`: plan is trial and signupDate is 7 days before the day, UTC). Filters are
the same conditions written out. Every recipient comes back with its personalization
fields, or in `skipped` with the reason; an unsubscribed contact is never selected.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, Protocol

from pydantic import EmailStr, Field, TypeAdapter, ValidationError, field_validator, model_validator

from .base import Tool, ToolContext, ToolInput
from .errors import ToolInputError
from .pg import Params, connect, fetch, rows_json
from .pg_connections import Caller

tool = Tool("contacts", "Select the owner's contacts: a campaign's audience.")
MAX_AUDIENCE = 5000
FIELDS = {"email": "email", "name": "name", "plan": "plan", "signupDate": "signup_date", "signup_date": "signup_date"}
Op = Literal["eq", "ne", "in", "nin", "gt", "gte", "lt", "lte", "contains", "exists"]
_EMAIL: TypeAdapter[str] = TypeAdapter(EmailStr)


class ContactStore(Protocol):
    """The owner's contacts and the task's delivery ledger (context.store("contacts"))."""

    run: int  # the task's run number (the occasion of a campaign with no trigger)

    def candidates(self, *, plan: str | None = None, signup_date: date | None = None) -> list[dict[str, Any]]:
        """Contacts (id, email, name, signup_date, plan, attributes, unsubscribed) narrowed as given."""

    def find(self, emails: list[str]) -> dict[str, dict[str, Any]]:
        """The contacts among `emails` (lower-cased), by email."""

    def delivered(self, occasion: str, emails: list[str]) -> dict[str, str]:
        """email -> ledger status ("sent", "sending") of those already mailed for `occasion`."""

    def claim(self, *, email: str, occasion: str, contact_id: str | None) -> str:
        """"claimed" when this call may send now (the ledger row says `sending`), else the row's status."""

    def settle(self, *, email: str, occasion: str, message_id: str = "", error: str = "") -> None:
        """Mark the claimed row sent (no error) or failed (may be claimed again)."""

    def unsubscribe_url(self, email: str) -> str:
        """The signed link that unsubscribes `email` (List-Unsubscribe)."""


class Condition(ToolInput):
    field: str = Field(min_length=1, max_length=100, description="email, name, plan, signupDate or attributes.<name>")
    op: Op = "eq"
    value: Any = Field(default=None, description='a value, a list for in/nin, or {"daysAgo": N} for dates')

    @model_validator(mode="after")
    def fits(self) -> Condition:
        if self.op in ("in", "nin") and not isinstance(self.value, list):
            raise ValueError(f"{self.field}: op {self.op} needs a list value")
        return self


def _days_ago(n: int) -> Callable[[date], list[Condition]]:
    return lambda day: [Condition(field="signupDate", value=(day - timedelta(days=n)).isoformat())]


TRIGGERS: list[tuple[re.Pattern[str], str, Callable[[int, date], list[Condition]]]] = [
    (re.compile(r"^trial_day_(\d{1,4})$"), "trial_day_N: on the trial plan, signed up N days before the day",
     lambda n, day: [Condition(field="plan", value="trial"), *_days_ago(n)(day)]),
    (re.compile(r"^signup_day_(\d{1,4})$"), "signup_day_N: signed up N days before the day (any plan)",
     lambda n, day: _days_ago(n)(day)),
]


def trigger_conditions(trigger: str, day: date) -> list[Condition]:
    """The conditions a trigger stands for on `day`; ValueError names the known triggers."""
    for pattern, _, conditions in TRIGGERS:
        match = pattern.match(trigger)
        if match:
            return conditions(int(match.group(1)), day)
    raise ValueError(f"unknown trigger {trigger!r}; known: {'; '.join(text for _, text, _ in TRIGGERS)}")


def field_value(contact: dict[str, Any], name: str) -> Any:
    """A contact's field by the name a filter or a template uses (attributes by their own name)."""
    if name.startswith("attributes."):
        return (contact.get("attributes") or {}).get(name[len("attributes."):])
    if name in FIELDS:
        return contact.get(FIELDS[name])
    return (contact.get("attributes") or {}).get(name)


def _comparable(value: Any, field: str, day: date) -> Any:
    if isinstance(value, dict) and "daysAgo" in value:
        return (day - timedelta(days=int(value["daysAgo"]))).isoformat()
    if field in ("email", "attributes.email") and isinstance(value, str):
        return value.lower()
    return value


def matches(contact: dict[str, Any], condition: Condition, day: date) -> bool:
    actual, wanted = field_value(contact, condition.field), _comparable(condition.value, condition.field, day)
    try:
        return bool(OPS[condition.op](actual, wanted))
    except TypeError:  # a number compared with text: not a match
        return False


OPS: dict[str, Callable[[Any, Any], Any]] = {
    "eq": lambda a, w: a == w, "ne": lambda a, w: a != w, "in": lambda a, w: a in w, "nin": lambda a, w: a not in w,
    "gt": lambda a, w: a is not None and a > w, "gte": lambda a, w: a is not None and a >= w,
    "lt": lambda a, w: a is not None and a < w, "lte": lambda a, w: a is not None and a <= w,
    "contains": lambda a, w: a is not None and w in a,
    "exists": lambda a, w: (a not in (None, "", [])) == (w is not False),
}


class SelectInput(ToolInput):
    trigger: str | None = Field(default=None, max_length=100, description="e.g. trial_day_7, signup_day_1")
    filter: list[Condition] = Field(default_factory=list, max_length=50,
                                    description="conditions over the owner's contacts, all must hold")
    sql: str | None = Field(default=None, max_length=20_000,
                            description="a read-only query on `connection` whose rows (with an email column) are "
                                        "recipients; the other columns are their personalization fields")
    connection: str | None = Field(default=None, max_length=100, description="an AGENT_DATABASES name, for sql")
    params: Params = Field(default=None, description="values for the sql placeholders")
    recipients: list[dict[str, Any]] = Field(default_factory=list, max_length=MAX_AUDIENCE,
                                             description="people given by hand: email plus their fields")
    require: list[str] = Field(default_factory=list, max_length=50,
                               description="fields every recipient must have a value for (else skipped)")
    occasion: str | None = Field(default=None, max_length=60,
                                 description="a fixed ledger key (once per contact ever); default per trigger day/run")
    day: date | None = Field(default=None, alias="date",
                             description="the day triggers are evaluated for; default today (UTC)")

    @field_validator("trigger")
    @classmethod
    def known_trigger(cls, value: str | None) -> str | None:
        if value is not None:
            trigger_conditions(value, date.today())
        return value

    @model_validator(mode="after")
    def sql_needs_connection(self) -> SelectInput:
        if (self.sql is None) != (self.connection is None):
            raise ValueError("give sql and connection together")
        return self


@tool.action("select", credits=5)
def select(params: SelectInput, context: ToolContext) -> dict[str, Any]:
    """Select a campaign's audience now: contacts matching `trigger` and `filter`, rows of `sql`, and
    `recipients` given by hand; unsubscribed, already mailed (this occasion) and incomplete ones are skipped."""
    store: ContactStore = context.store("contacts")
    day = params.day or datetime.now(UTC).date()
    occasion = params.occasion or (f"{params.trigger}:{day.isoformat()}" if params.trigger else f"run:{store.run}")
    people, skipped = _hand_picked(params.recipients)
    if params.trigger or params.filter:
        conditions = [*(trigger_conditions(params.trigger, day) if params.trigger else []), *params.filter]
        for contact in store.candidates(**_prefilter(conditions)):
            if all(matches(contact, c, day) for c in conditions):
                people.setdefault(contact["email"], _person(contact))
    if params.sql and params.connection:
        rows, bad = _sql_people(params.sql, params.connection, params.params, context)
        skipped += bad
        for person in rows:
            people.setdefault(person["email"], person)
    if len(people) > MAX_AUDIENCE:
        raise ToolInputError(f"the audience has {len(people)} people, more than {MAX_AUDIENCE} per run; narrow it")
    recipients, more = _checked(store, occasion, list(people.values()), params.require)
    return {"occasion": occasion, "date": day.isoformat(), "recipients": recipients, "skipped": skipped + more,
            "selected": len(people)}


def _prefilter(conditions: list[Condition]) -> dict[str, Any]:
    """What the store can narrow in the database (plan, signupDate equal to a day); the rest is matched here."""
    narrowed: dict[str, Any] = {}
    for c in conditions:
        if c.op == "eq" and c.field == "plan" and isinstance(c.value, str):
            narrowed["plan"] = c.value
        if c.op == "eq" and c.field in ("signupDate", "signup_date") and isinstance(c.value, str):
            try:
                narrowed["signup_date"] = date.fromisoformat(c.value)
            except ValueError:
                raise ToolInputError(f"filter {c.field}: {c.value!r} is not a date (YYYY-MM-DD)") from None
    return narrowed


def _person(contact: dict[str, Any]) -> dict[str, Any]:
    fields = {k: v for k, v in (contact.get("attributes") or {}).items()}
    fields.update({"email": contact["email"], "name": contact.get("name"), "plan": contact.get("plan"),
                   "signup_date": contact.get("signup_date"), "signupDate": contact.get("signup_date")})
    return {"email": contact["email"], "contactId": contact.get("id"), "fields": fields,
            "unsubscribed": bool(contact.get("unsubscribed"))}


def _valid_email(value: Any) -> str | None:
    try:
        return _EMAIL.validate_python(value).lower() if isinstance(value, str) else None
    except ValidationError:
        return None


def _hand_picked(recipients: list[dict[str, Any]]) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    people: dict[str, dict[str, Any]] = {}
    skipped = []
    for index, given in enumerate(recipients):
        email = _valid_email(given.get("email"))
        if email is None:
            reason = f"recipients[{index}]: not a valid email"
            skipped.append({"email": str(given.get("email") or ""), "reason": reason})
            continue
        people.setdefault(email, {"email": email, "contactId": None, "fields": {**given, "email": email},
                                  "unsubscribed": False, "byHand": True})
    return people, skipped


def _sql_people(query: str, connection: str, args: Params,
                who: Caller) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    with connect(connection, who, read_only=True, timeout_s=30) as cur:
        rows = rows_json(fetch(cur, query, args, MAX_AUDIENCE + 1))
    people, bad = [], []
    for number, row in enumerate(rows, start=1):
        column = next((k for k in row if k.lower() == "email"), None)
        email = _valid_email(row.get(column)) if column else None
        if email is None:
            bad.append({"email": str(row.get(column) or "") if column else "",
                        "reason": f"sql row {number} has no valid email column"})
            continue
        people.append({"email": email, "contactId": None, "fields": {**row, "email": email}, "unsubscribed": False})
    return people, bad


def _checked(store: ContactStore, occasion: str, people: list[dict[str, Any]],
             require: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Recipients with their fields as text; the others skipped with the reason."""
    known = store.find([p["email"] for p in people if p["contactId"] is None])
    delivered = store.delivered(occasion, [p["email"] for p in people])
    recipients, skipped = [], []
    for person in people:
        if person["email"] in known:  # given by hand or by sql, and a contact too: fill the gaps, honour opt-out
            contact = _person(known[person["email"]])
            person = {**contact, "fields": {**contact["fields"], **_present(person["fields"])}}
        fields = {k: t for k, t in ((k, as_text(v)) for k, v in person["fields"].items()) if t not in (None, "")}
        reason = _skip_reason(person, fields, delivered.get(person["email"]), occasion, require)
        if reason:
            skipped.append({"email": person["email"], "reason": reason})
        else:
            recipients.append({"email": person["email"], "contactId": person["contactId"], "fields": fields})
    return recipients, skipped


def _present(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if as_text(v) not in (None, "")}


def _skip_reason(person: dict[str, Any], fields: dict[str, Any], ledger: str | None, occasion: str,
                 require: list[str]) -> str | None:
    if person["unsubscribed"]:
        return "unsubscribed"
    if ledger == "sent":
        return f"already sent for {occasion}"
    if ledger == "sending":
        return f"a send for {occasion} began earlier and its outcome is unknown: not sent again"
    missing = [name for name in require if name not in fields]
    return f"missing {', '.join(missing)}" if missing else None


def as_text(value: Any) -> str | int | float | None:
    """A personalization value: lists joined with ", ", nothing for None."""
    if value is None or (isinstance(value, str | int | float) and not isinstance(value, bool)):
        return value
    if isinstance(value, list):
        return ", ".join(str(v) for v in value if v is not None)
    return str(value)
