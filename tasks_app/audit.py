"""The audit log: who did what, from where. Services call record() once per use case.

Who and from where come from the face: a middleware binds the request (the API, the pages,
the admin), a command or the engine binds an Actor with `acting(...)`; with nothing bound
the actor is the agent engine. Details are redacted before they are stored; entries are
append-only (tasks_app.control_data.AuditEntry refuses updates and deletes).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse

from .client_address import client_address
from .control_data import AuditEntry
from .redact import redact


@dataclass(frozen=True)
class Actor:
    kind: str  # api, page, admin, command, agent
    user_id: int | None = None
    username: str = ""
    address: str = ""


AGENT = Actor("agent")
_actor: ContextVar[Actor | None] = ContextVar("xantuus_audit_actor", default=None)
_request: ContextVar[HttpRequest | None] = ContextVar("xantuus_audit_request", default=None)


@contextmanager
def acting(actor: Actor) -> Iterator[Actor]:
    """Attribute what services do inside the block to `actor` (a command, an admin action)."""
    token = _actor.set(actor)
    try:
        yield actor
    finally:
        _actor.reset(token)


def command_actor(user: Any = None) -> Actor:
    """A management command, run as `user` when it names one."""
    return Actor("command", getattr(user, "id", None), user.get_username() if user is not None else "")


def current() -> Actor:
    """The bound actor; else the bound request's user (read now: DRF authenticates inside the view)."""
    actor = _actor.get()
    if actor is not None:
        return actor
    request = _request.get()
    if request is None:
        return AGENT
    user: Any = getattr(request, "user", None)
    kind, address = kind_of(request.path), client_address(request)
    if user is None or not user.is_authenticated:
        return Actor(kind, None, "", address)
    return Actor(kind, user.pk, user.get_username(), address)


def kind_of(path: str) -> str:
    if path.startswith("/api/"):
        return "api"
    if path.startswith("/admin/"):
        return "admin"
    return "page"


def record(verb: str, *, owner_id: int | None, target_type: str = "", target_id: Any = "",
           details: dict[str, Any] | None = None, actor: Actor | None = None) -> AuditEntry:
    """Append one entry; `details` are redacted (secret keys and known secrets masked)."""
    who = actor or current()
    return AuditEntry.objects.create(
        verb=verb, owner_id=owner_id, actor_kind=who.kind, user_id=who.user_id, username=who.username[:150],
        address=who.address[:64], target_type=target_type, target_id=str(target_id or "")[:64],
        details=redact(details or {}),
    )


class AuditMiddleware:
    """Binds the request for the audit log while a view runs (sync views: the API, pages, admin)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)
