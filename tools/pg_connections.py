"""The operator's named PostgreSQL connections (AGENT_DATABASES): who may use each, and whether its role is safe.

A connection is open only to the users and groups the operator names (a plain URL: staff
only), and is refused when its role could reach the server's files or programs. This module
must never reveal a connection's URL: it holds the password.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from .config import django_setting, setting
from .errors import ToolError, ToolInputError

DEFAULT_STATEMENT_TIMEOUT_MS = 15_000
EXAMPLE = '{"crm": {"url": "postgres://...", "users": ["alice"], "groups": ["analysts"]}}'

# What a role must not be able to do, as (problem, SQL that is true when it can); run as the role.
ROLE_POWERS = (
    ("is a superuser (or may become one with SET ROLE)",
     "EXISTS (SELECT 1 FROM pg_roles s WHERE s.rolsuper AND pg_has_role(current_user, s.oid, 'MEMBER'))"),
    ("has CREATEROLE (it could grant itself pg_execute_server_program and the like)",
     "EXISTS (SELECT 1 FROM pg_roles s WHERE s.rolcreaterole AND pg_has_role(current_user, s.oid, 'MEMBER'))"),
    ("may run server programs (COPY ... TO PROGRAM: member of pg_execute_server_program)",
     "pg_has_role(current_user, 'pg_execute_server_program', 'MEMBER')"),
    ("may read the server's files (member of pg_read_server_files)",
     "pg_has_role(current_user, 'pg_read_server_files', 'MEMBER')"),
    ("may write the server's files (member of pg_write_server_files)",
     "pg_has_role(current_user, 'pg_write_server_files', 'MEMBER')"),
    ("may call server file functions (pg_read_file, pg_read_binary_file, pg_ls_dir, lo_import, lo_export)",
     "EXISTS (SELECT 1 FROM pg_proc p WHERE p.pronamespace = 'pg_catalog'::regnamespace"
     " AND p.proname IN ('pg_read_file', 'pg_read_binary_file', 'pg_ls_dir', 'lo_import', 'lo_export')"
     " AND has_function_privilege(p.oid, 'EXECUTE'))"),
    ("may call dblink_exec or dblink_connect_u (the dblink extension is installed)",
     "EXISTS (SELECT 1 FROM pg_proc p WHERE p.proname IN ('dblink_exec', 'dblink_connect_u')"
     " AND has_function_privilege(p.oid, 'EXECUTE'))"),
)
ROLE_CHECK = "SELECT current_user AS role, " + ", ".join(
    f"({condition}) AS p{index}" for index, (_, condition) in enumerate(ROLE_POWERS))


class Caller(Protocol):
    """Who a call acts for (ToolContext satisfies it)."""

    user_id: int | None
    username: str
    groups: tuple[str, ...]
    is_staff: bool

    def remaining(self, limit_s: float) -> float: ...  # limit_s capped by the task's time left


@dataclass(frozen=True)
class Connection:
    name: str
    url: str
    users: frozenset[str] | None  # None: every user ("users": "*")
    groups: frozenset[str]
    staff: bool  # staff users may use it (a plain URL means only them)

    def open_to(self, who: Caller) -> bool:
        if who.user_id is None:  # a call for nobody in particular uses no one's connection
            return False
        return (self.users is None or who.username in self.users or bool(self.groups & set(who.groups))
                or (self.staff and who.is_staff))


def _names(value: Any, name: str, key: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ToolError(f'AGENT_DATABASES[{name!r}]["{key}"] must be a list of names'
                        + (' or "*"' if key == "users" else ""))
    return frozenset(value)


def _connection(name: str, value: Any) -> Connection:
    if isinstance(value, str):
        return Connection(name, value, users=frozenset(), groups=frozenset(), staff=True)
    if not isinstance(value, dict) or not isinstance(value.get("url"), str) or not value["url"]:
        raise ToolError(f"AGENT_DATABASES[{name!r}] must be a URL or an object with a url; expected {EXAMPLE}")
    unknown = set(value) - {"url", "users", "groups", "staff"}
    if unknown:
        raise ToolError(f"AGENT_DATABASES[{name!r}] has unknown keys {', '.join(sorted(unknown))};"
                        " expected url, users, groups, staff")
    users = value.get("users", [])
    return Connection(name, value["url"], users=None if users == "*" else _names(users, name, "users"),
                      groups=_names(value.get("groups", []), name, "groups"), staff=bool(value.get("staff", False)))


def configured() -> dict[str, Connection]:
    """Every connection, from settings.AGENT_DATABASES or else the AGENT_DATABASES environment variable."""
    raw = django_setting("AGENT_DATABASES")
    if raw is None:
        raw = os.environ.get("AGENT_DATABASES") or "{}"
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise ToolError(f"AGENT_DATABASES is not valid JSON; expected {EXAMPLE}") from None
    if not isinstance(raw, dict):
        raise ToolError(f"AGENT_DATABASES must be a JSON object; expected {EXAMPLE}")
    return {str(name): _connection(str(name), value) for name, value in raw.items()}


def open_names(who: Caller) -> list[str]:
    return sorted(name for name, conn in configured().items() if conn.open_to(who))


def for_caller(name: str, who: Caller) -> Connection:
    """The connection `name` if `who` may use it; an error naming those they may use otherwise."""
    known = configured()
    yours = ", ".join(sorted(n for n, c in known.items() if c.open_to(who))) or "none"
    if name not in known:
        raise ToolInputError(f"unknown database connection {name!r}; known connections: {yours}")
    if not known[name].open_to(who):
        whom = who.username or "a call without a user"
        raise ToolInputError(f"database connection {name!r} is not open to {whom}: the operator maps it to other"
                             f" users or groups in AGENT_DATABASES; connections open to {whom}: {yours}")
    return known[name]


def statement_timeout_ms(requested_s: float) -> int:
    """The requested timeout, never above AGENT_DATABASE_STATEMENT_TIMEOUT_MS."""
    cap = setting("AGENT_DATABASE_STATEMENT_TIMEOUT_MS", DEFAULT_STATEMENT_TIMEOUT_MS)
    return max(1, min(int(requested_s * 1000), cap))


def role_problems(row: dict[str, Any]) -> list[str]:
    """What the ROLE_CHECK answer says this role can do that an agent's role must not."""
    return [problem for index, (problem, _) in enumerate(ROLE_POWERS) if row.get(f"p{index}")]


def refusal(name: str, role: str, problems: Iterable[str]) -> str:
    return (f"database connection {name!r} is refused: its role {role!r} " + "; ".join(problems)
            + ". Give the agent a role without these powers (see docs/tools/database.md)")
