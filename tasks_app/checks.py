"""System checks: AGENT_DATABASES parses, and no connection's role can reach the server's files or programs.

The role check connects to each database, so it is a database check: `manage.py migrate`
(which the deployment runs before the web and worker start) and `check --database default`
run it; the database tool checks the role again on every connection it opens.
"""
from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Tags, Warning, register

from tools import pg, pg_connections
from tools.errors import ToolError, TransientToolError


@register(Tags.database)
def agent_databases_are_safe(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if not databases:  # only when database checks were asked for
        return []
    try:
        connections = pg_connections.configured()
    except ToolError as exc:
        return [Error(str(exc), id="xantuus.E101")]
    found: list[CheckMessage] = []
    for conn in connections.values():
        if conn.staff and not conn.users and not conn.groups:
            found.append(Warning(f"AGENT_DATABASES[{conn.name!r}] names no users or groups: only staff may use it",
                                 hint='give it "users" (or "*" for everyone) and "groups"', id="xantuus.W102"))
        try:
            refusal = pg.role_refusal(conn)
        except TransientToolError as exc:  # a database that is down now is not a configuration error
            found.append(Warning(f"{exc}; its role was not checked", id="xantuus.W103"))
            continue
        except ToolError as exc:
            found.append(Error(str(exc), id="xantuus.E104"))
            continue
        if refusal:
            found.append(Error(refusal, id="xantuus.E105"))
    return found
