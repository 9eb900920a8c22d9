"""database tool against a real PostgreSQL: a scratch database per test module, dropped after."""
from __future__ import annotations

import json
import os
import uuid
from typing import Any

import psycopg
import pytest

from tests.fakes.scratch_db import AGENT_ROLE, AGENT_SERVER, ensure_agent_role
from tools.database import rollback, tool
from tools.errors import ToolError, ToolInputError, TransientToolError

SERVER = os.environ.get("TOOLTEST_PG_URL", "postgresql://postgres@127.0.0.1:5432")

SCHEMA = """
CREATE TABLE leads (
    id serial PRIMARY KEY,
    name text NOT NULL,
    email text,
    status text NOT NULL DEFAULT 'new',
    score numeric(5, 2),
    tags text[],
    meta jsonb,
    created_at timestamptz NOT NULL DEFAULT '2024-01-01T00:00:00Z'
);
CREATE TABLE notes (body text);
INSERT INTO leads (name, email, status, score, tags, meta) VALUES
    ('Ada', 'ada@example.com', 'new', 12.50, '{vip}', '{"source": "hn"}'),
    ('Bob', 'bob@example.com', 'contacted', 7.25, '{}', NULL),
    ('Cy', NULL, 'new', NULL, NULL, '[1, 2]');
"""


@pytest.fixture(scope="module")
def scratch_url():
    """A database owned by an ordinary role, and its URL as that role (a superuser's is refused)."""
    name = f"xantuus_tooltest_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
        ensure_agent_role(admin)
        admin.execute(f'CREATE DATABASE "{name}" OWNER {AGENT_ROLE}')
    url = f"{AGENT_SERVER}/{name}"
    yield url
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def crm(scratch_url, settings):
    """A fresh leads table on the connection named 'crm'; returns a helper reading it directly."""
    with psycopg.connect(scratch_url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS leads, notes")
        conn.execute(SCHEMA)
    settings.AGENT_DATABASES = {"crm": {"url": scratch_url, "users": "*"}}

    def rows(where: str = "true") -> list[tuple[Any, ...]]:
        with psycopg.connect(scratch_url) as conn:
            return conn.execute(f"SELECT id, name, email, status, score::text, tags, meta FROM leads "
                                f"WHERE {where} ORDER BY id").fetchall()

    return rows


def run_action(action: str, params: dict[str, Any], context) -> Any:
    return tool.actions[action].run(params, context)


def call(action: str, params: dict[str, Any], context) -> Any:
    return run_action(action, {"connection": "crm", **params}, context)


def test_query_returns_rows_as_objects(crm, tool_context):
    out = call("query", {"sql": "SELECT id, name, score, tags, meta, created_at FROM leads WHERE status = %s"
                                " ORDER BY id", "params": ["new"]}, tool_context)
    assert out["columns"] == ["id", "name", "score", "tags", "meta", "created_at"]
    assert out["rows"] == [
        {"id": 1, "name": "Ada", "score": "12.50", "tags": ["vip"], "meta": {"source": "hn"},
         "created_at": "2024-01-01T00:00:00+00:00"},
        {"id": 3, "name": "Cy", "score": None, "tags": None, "meta": [1, 2], "created_at": "2024-01-01T00:00:00+00:00"},
    ]
    assert out["truncated"] is False and out["rowCount"] == 2


@pytest.mark.parametrize("statement", [
    "DELETE FROM leads",
    "INSERT INTO leads (name) VALUES ('Eve')",
    "WITH gone AS (DELETE FROM leads RETURNING id) SELECT count(*) FROM gone",
])
def test_query_refuses_writes(crm, tool_context, statement):
    with pytest.raises(ToolError, match="read only"):
        call("query", {"sql": statement}, tool_context)
    assert len(crm()) == 3


def test_query_runs_one_statement_only(crm, tool_context):
    # The first statement would end the read-only transaction; several statements are refused outright.
    with pytest.raises(ToolError, match="multiple commands"):
        call("query", {"sql": "COMMIT; DELETE FROM leads"}, tool_context)
    assert len(crm()) == 3


def test_statement_timeout_is_a_clear_error(crm, tool_context):
    with pytest.raises(ToolError, match="1s statement timeout"):
        call("query", {"sql": "SELECT pg_sleep(5)", "timeoutS": 1}, tool_context)


def test_row_cap_truncates(crm, tool_context):
    out = call("query", {"sql": "SELECT g AS n FROM generate_series(1, 100000) g", "maxRows": 5}, tool_context)
    assert out["rows"] == [{"n": n} for n in range(1, 6)]
    assert out["truncated"] is True


def test_sql_injection_through_a_param_stays_data(crm, tool_context):
    evil = "x' OR '1'='1'; DROP TABLE leads; --"
    out = call("query", {"sql": "SELECT name FROM leads WHERE name = %(name)s", "params": {"name": evil}},
               tool_context)
    assert out["rows"] == []
    inserted = call("execute", {"table": "leads", "values": {"name": evil}}, tool_context)
    assert crm(f"id = {inserted['rows'][0]['id']}")[0][1] == evil
    assert len(crm()) == 4


def test_unknown_connection_lists_known_names(crm, tool_context):
    with pytest.raises(ToolInputError, match=r"unknown database connection 'sales'.*known connections: crm"):
        tool.actions["query"].run({"connection": "sales", "sql": "SELECT 1"}, tool_context)


@pytest.mark.parametrize("url, error", [
    ("postgresql://agent:s3cret-pw@127.0.0.1:1/crm", TransientToolError),  # nothing listens on port 1
    ("postgresql://agent:s3cret-pw@[::1/crm", ToolError),  # malformed: libpq would quote it back
])
def test_connection_failures_never_reveal_the_password(settings, tool_context, url, error):
    settings.AGENT_DATABASES = {"crm": {"url": url, "users": "*"}}
    with pytest.raises(error, match="'crm'") as failure:
        call("query", {"sql": "SELECT 1"}, tool_context)
    assert type(failure.value) is error and "s3cret" not in str(failure.value)


def test_connections_come_from_the_environment_when_settings_have_none(crm, settings, tool_context, monkeypatch,
                                                                        scratch_url):
    del settings.AGENT_DATABASES
    monkeypatch.setenv("AGENT_DATABASES", json.dumps({"warehouse": {"url": scratch_url, "users": "*"}}))
    out = run_action("query", {"connection": "warehouse", "sql": "SELECT count(*) AS n FROM leads"},
                         tool_context)
    assert out["rows"] == [{"n": 3}]


def test_update_records_before_image_and_rollback_restores(crm, tool_context):
    before = crm()
    out = call("execute", {"table": "leads", "set": {"status": "won", "score": 99, "meta": {"deal": True}},
                           "where": "status = %(status)s", "params": {"status": "new"}}, tool_context)
    assert out["rowcount"] == 2
    assert [r["name"] for r in out["beforeImage"]] == ["Ada", "Cy"]
    assert [r["status"] for r in out["beforeImage"]] == ["new", "new"]
    assert [r[3] for r in crm()] == ["won", "contacted", "won"]
    assert crm("id = 1")[0][6] == {"deal": True}

    rolled = rollback(out["compensation"], tool_context)
    assert rolled["rowcount"] == 2
    assert crm() == before


def test_delete_then_rollback_reinserts_the_rows(crm, tool_context):
    before = crm()
    out = call("delete", {"table": "leads", "where": "email IS NOT NULL"}, tool_context)
    assert out["rowcount"] == 2 and [r["name"] for r in out["beforeImage"]] == ["Ada", "Bob"]
    assert [r[1] for r in crm()] == ["Cy"]

    assert rollback(out["compensation"], tool_context)["rowcount"] == 2
    assert crm() == before  # same ids, same values, arrays and json included


def test_insert_then_rollback_removes_it(crm, tool_context):
    out = call("execute", {"table": "leads", "values": [{"name": "Dee", "meta": {"via": "agent"}},
                                                          {"name": "Eli", "tags": ["a", "b"]}]}, tool_context)
    assert out["rowcount"] == 2 and [r["name"] for r in out["rows"]] == ["Dee", "Eli"]
    assert out["compensation"]["params"]["keys"] == [{"id": r["id"]} for r in out["rows"]]
    assert len(crm()) == 5

    assert rollback(out["compensation"], tool_context)["rowcount"] == 2
    assert [r[1] for r in crm()] == ["Ada", "Bob", "Cy"]


def test_write_matching_too_many_rows_is_refused_and_changes_nothing(crm, tool_context):
    with pytest.raises(ToolInputError, match="more than 2 rows"):
        call("delete", {"table": "leads", "where": "true", "maxRows": 2}, tool_context)
    assert len(crm()) == 3


@pytest.mark.parametrize("params, message", [
    ({"table": "leads; DROP TABLE x", "values": {"name": "x"}}, "invalid table name"),
    ({"table": "leads", "values": {"name); DROP TABLE leads; --": "x"}}, "has no column"),
    ({"table": "leads", "set": {"nope": 1}, "where": "id = 1"}, "has no column 'nope'"),
    ({"table": "missing", "values": {"name": "x"}}, "no table 'missing'"),
    ({"table": "notes", "values": {"body": "x"}}, "no primary key"),
])
def test_bad_identifiers_are_refused(crm, tool_context, params, message):
    with pytest.raises(ToolInputError, match=message):
        call("execute", params, tool_context)
    assert len(crm()) == 3


def test_where_cannot_smuggle_a_second_statement(crm, tool_context):
    with pytest.raises(ToolError):
        call("delete", {"table": "leads", "where": "id = 1; DROP TABLE notes"}, tool_context)
    assert len(crm()) == 3
