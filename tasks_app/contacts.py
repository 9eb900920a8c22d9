"""Contacts, per owner: validate, upsert by email, change, delete, list with filters, unsubscribe.

The one place that writes Contact rows (the API, the CSV import, the admin's unsubscribe
links and the agents' contact store all come here). A contact is only ever found among
its owner's own; an invalid row is refused whole, naming its field, never half-written.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.urls import reverse

from .agent_data import Contact

WIRE = {"email": "email", "name": "name", "signupDate": "signup_date", "plan": "plan",
        "attributes": "attributes", "unsubscribed": "unsubscribed"}
MAX_ATTRIBUTES_BYTES = 16 * 1024
UNSUBSCRIBE_SALT = "xantuus.contacts.unsubscribe"


class ContactError(ValueError):
    """One contact's problems: {wire field: [message]}."""

    def __init__(self, fields: dict[str, list[str]]):
        super().__init__("; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in fields.items()))
        self.fields = fields


def describe(contact: Contact) -> dict[str, Any]:
    """A contact as the API and the agents see it (camelCase wire names)."""
    return {"id": contact.id, "email": contact.email, "name": contact.name,
            "signupDate": contact.signup_date.isoformat() if contact.signup_date else None,
            "plan": contact.plan, "attributes": contact.attributes or {}, "unsubscribed": contact.unsubscribed,
            "createdAt": contact.created_at, "updatedAt": contact.updated_at}


def clean(data: Any, *, partial: bool = False) -> dict[str, Any]:
    """Wire fields -> model fields, every problem named; ContactError if there is any."""
    if not isinstance(data, Mapping):
        raise ContactError({"body": ["a contact must be a JSON object"]})
    problems: dict[str, list[str]] = {name: ["unknown field"] for name in data if name not in WIRE}
    values: dict[str, Any] = {}
    if not partial and not data.get("email"):
        problems["email"] = ["this field is required"]
    for wire, name in WIRE.items():
        if wire in data and wire not in problems:
            try:
                values[name] = CLEANERS[wire](data[wire])
            except ValueError as exc:
                problems[wire] = [str(exc)]
    if problems:
        raise ContactError(problems)
    return values


def _email(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be an email address")
    email = value.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ValueError(f"{value[:100]!r} is not a valid email address") from None
    return email


def _text(limit: int) -> Any:
    def check(value: Any) -> str:
        if value is None:
            return ""
        if not isinstance(value, str) or "\x00" in value:
            raise ValueError("must be a string")
        if len(value.strip()) > limit:
            raise ValueError(f"must be at most {limit} characters")
        return value.strip()
    return check


def _date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    text = value.strip() if isinstance(value, str) else ""
    if len(text) > 10 and text[10] in "T ":
        text = text[:10]  # an ISO timestamp: its day
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise ValueError(f"{str(value)[:40]!r} is not a date; use YYYY-MM-DD")


def _attributes(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError("must be a JSON object, e.g. {\"features_used\": [\"browser\"]}")
    text = json.dumps(value)
    if "\\u0000" in text:
        raise ValueError("must not contain NUL (\\u0000) characters")
    if len(text) > MAX_ATTRIBUTES_BYTES:
        raise ValueError(f"must be at most {MAX_ATTRIBUTES_BYTES} bytes of JSON")
    return dict(value)


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, str | int) else None
    if text in ("true", "yes", "y", "1"):
        return True
    if text in ("false", "no", "n", "0", ""):
        return False
    raise ValueError(f"{str(value)[:20]!r} is not true or false")


CLEANERS = {"email": _email, "name": _text(200), "signupDate": _date, "plan": _text(50),
            "attributes": _attributes, "unsubscribed": _flag}


@dataclass
class Upserted:
    """What an upsert did: the contacts created and updated, and each refused row's problems."""

    created: list[Contact] = field(default_factory=list)
    updated: list[Contact] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


def upsert_many(*, owner_id: int, rows: list[tuple[Any, Any]]) -> Upserted:
    """Upsert (position, data) rows by email; a bad row is reported at its position, the others kept.

    An existing contact keeps what a row does not give; attributes are merged key by key.
    """
    done = Upserted()
    for position, data in rows:
        try:
            contact, created = upsert(owner_id=owner_id, values=clean(data))
        except ContactError as exc:
            done.errors.append({"position": position, "fields": exc.fields, "message": str(exc)})
            continue
        (done.created if created else done.updated).append(contact)
    return done


def upsert(*, owner_id: int, values: dict[str, Any]) -> tuple[Contact, bool]:
    """(contact, created) for cleaned values holding `email`; a concurrent insert is retried as an update."""
    for _ in range(2):
        try:
            with transaction.atomic():
                contact = Contact.objects.select_for_update().filter(owner_id=owner_id, email=values["email"]).first()
                if contact is None:
                    return Contact.objects.create(owner_id=owner_id, **values), True
                _apply(contact, values, merge_attributes=True)
                return contact, False
        except IntegrityError:
            continue  # another request created it between our read and our insert
    raise ContactError({"email": [f"{values['email']} is being written by another request; try again"]})


def _apply(contact: Contact, values: dict[str, Any], *, merge_attributes: bool) -> None:
    for name, value in values.items():
        if name == "attributes" and merge_attributes:
            value = {**(contact.attributes or {}), **value}
        setattr(contact, name, value)
    contact.save()


def update(*, contact: Contact, data: Any) -> Contact:
    """Change a contact's given fields (attributes replaced whole); ContactError names bad ones."""
    values = clean(data, partial=True)
    if "email" in values and values["email"] != contact.email and \
            Contact.objects.filter(owner_id=contact.owner_id, email=values["email"]).exists():
        raise ContactError({"email": [f"another contact already has {values['email']}"]})
    _apply(contact, values, merge_attributes=False)
    return contact


def delete(*, contact: Contact) -> None:
    contact.delete()


def find(*, owner_id: int, contact_id: str) -> Contact | None:
    if not 0 < len(contact_id) <= 32 or "\x00" in contact_id:
        return None
    return Contact.objects.filter(owner_id=owner_id, id=contact_id).first()


def filtered(*, owner_id: int, query: Mapping[str, Any]) -> QuerySet[Contact]:
    """The owner's contacts narrowed by plan, unsubscribed, signupAfter/signupBefore (inclusive), search."""
    contacts = Contact.objects.filter(owner_id=owner_id)
    if query.get("plan") is not None:
        contacts = contacts.filter(plan=query["plan"])
    if query.get("unsubscribed") is not None:
        contacts = contacts.filter(unsubscribed=query["unsubscribed"])
    if query.get("signupAfter") is not None:
        contacts = contacts.filter(signup_date__gte=query["signupAfter"])
    if query.get("signupBefore") is not None:
        contacts = contacts.filter(signup_date__lte=query["signupBefore"])
    if query.get("search"):
        contacts = contacts.filter(Q(email__icontains=query["search"]) | Q(name__icontains=query["search"]))
    return contacts.order_by("email", "id")


def unsubscribe_url(*, owner_id: int, email: str) -> str:
    """The link in a campaign's List-Unsubscribe header: a signed token, valid as long as the key."""
    token = signing.dumps({"o": owner_id, "e": email.strip().lower()}, salt=UNSUBSCRIBE_SALT, compress=True)
    return f"{settings.PUBLIC_BASE_URL}{reverse('unsubscribe', args=[token])}"


def unsubscribe_target(*, token: str) -> tuple[int, str] | None:
    """(owner id, email) of a valid unsubscribe token whose owner still exists, else None."""
    try:
        claim = signing.loads(token, salt=UNSUBSCRIBE_SALT)
        owner_id, email = int(claim["o"]), _email(claim["e"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    return (owner_id, email) if get_user_model().objects.filter(id=owner_id).exists() else None


def unsubscribe(*, token: str) -> str | None:
    """Mark the token's contact unsubscribed (creating the row for an address given by hand);
    the address, or None when the token is not valid."""
    target = unsubscribe_target(token=token)
    if target is None:
        return None
    contact, _ = upsert(owner_id=target[0], values={"email": target[1], "unsubscribed": True})
    return contact.email
