"""A scratch PostgreSQL database on the local server, created with a schema and dropped after.

It belongs to AGENT_ROLE, an ordinary role (no superuser, no server file or program rights),
and its URL connects as that role: the database tool refuses a superuser's connection.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import psycopg
from psycopg import errors

SERVER = "postgresql://postgres@127.0.0.1:5432"
AGENT_ROLE = "xantuus_agent"
AGENT_SERVER = f"postgresql://{AGENT_ROLE}@127.0.0.1:5432"  # the suite's server trusts loopback


def ensure_agent_role(admin: psycopg.Connection) -> None:
    """Create AGENT_ROLE once; several test sessions may race to do it."""
    with suppress(errors.DuplicateObject, errors.UniqueViolation):
        admin.execute(f"CREATE ROLE {AGENT_ROLE} LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB")


@contextmanager
def scratch_database(prefix: str, schema: str) -> Iterator[str]:
    """Yield the URL (as AGENT_ROLE) of a new database holding `schema`; it is dropped (even if in use) after."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
        ensure_agent_role(admin)
        admin.execute(f'CREATE DATABASE "{name}" OWNER {AGENT_ROLE}')
    try:
        with psycopg.connect(f"{AGENT_SERVER}/{name}", autocommit=True) as conn:
            conn.execute(schema)
        yield f"{AGENT_SERVER}/{name}"
    finally:
        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
