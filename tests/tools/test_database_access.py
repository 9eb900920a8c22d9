"""AGENT_DATABASES connections belong to the users and groups the operator names, and only a harmless role
is used (issue 16, 10). Real PostgreSQL: scratch databases, a throw-away role per attack."""
from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from agents.toolcontext import build_tool_context
from tasks_app import services
from tests.agents.helpers import run_inline
from tests.fakes.scratch_db import SERVER, scratch_database
from tools.database import tool
from tools.errors import ToolError, ToolInputError

SCHEMA = "CREATE TABLE accounts (id serial PRIMARY KEY, name text); INSERT INTO accounts (name) VALUES ('Acme')"
READ = {"action": "database.query", "description": "Read the accounts",
        "params": {"connection": "crm", "sql": "SELECT name FROM accounts"}}


@pytest.fixture
def crm_url() -> Iterator[str]:
    with scratch_database("xantuus_access", SCHEMA) as url:
        yield url


@pytest.fixture
def alice(db, django_user_model):
    return django_user_model.objects.create_user(username="alice", email="alice@example.com", password="pw-alice-1")


@pytest.fixture
def bob(db, django_user_model):
    return django_user_model.objects.create_user(username="bob", email="bob@example.com", password="pw-bob-12")


def query(user, sql: str = "SELECT name FROM accounts", **params):
    """database.query as `user`'s task step would run it: the engine's own ToolContext."""
    task = services.task_create(user=user, title="Read", plan={"steps": [READ]})
    return tool.actions["query"].run({"connection": "crm", "sql": sql, **params}, build_tool_context(task, 1))


def test_bobs_task_cannot_use_the_connection_mapped_to_alice(settings, crm_url, alice, bob, inline_engine):
    settings.AGENT_DATABASES = {"crm": {"url": crm_url, "users": ["alice"]}}
    mine = run_inline(services.task_create(user=alice, title="Mine", plan={"steps": [READ]}))
    theirs = run_inline(services.task_create(user=bob, title="Not mine", plan={"steps": [READ]}))

    assert mine.status == "completed", mine.error
    assert mine.executions.get().output["rows"] == [{"name": "Acme"}]
    step = theirs.executions.get()
    assert step.status == "failed" and step.output is None
    assert "database connection 'crm' is not open to bob" in step.error
    assert "connections open to bob: none" in step.error and crm_url not in step.error


def test_a_group_opens_a_connection_to_its_members_only(settings, crm_url, alice, bob):
    settings.AGENT_DATABASES = {"crm": {"url": crm_url, "groups": ["analysts"]}}
    alice.groups.add(Group.objects.create(name="analysts"))
    assert query(alice)["rows"] == [{"name": "Acme"}]
    with pytest.raises(ToolInputError, match="not open to bob"):
        query(bob)


def test_a_plain_url_is_for_staff_only_and_star_is_for_everyone(settings, crm_url, alice, bob):
    settings.AGENT_DATABASES = {"crm": crm_url}  # the form existing deployments have
    alice.is_staff = True
    alice.save()
    assert query(alice)["rows"] == [{"name": "Acme"}]
    with pytest.raises(ToolInputError, match="not open to bob"):
        query(bob)
    settings.AGENT_DATABASES = {"crm": {"url": crm_url, "users": "*"}}
    assert query(bob)["rows"] == [{"name": "Acme"}]


def test_an_unknown_connection_lists_only_those_open_to_the_caller(settings, crm_url, alice, bob):
    settings.AGENT_DATABASES = {"crm": {"url": crm_url, "users": ["alice"]},
                                "shared": {"url": crm_url, "users": "*"}}
    task = services.task_create(user=bob, title="Guess", plan={"steps": [READ]})
    with pytest.raises(ToolInputError, match=r"unknown database connection 'sales'; known connections: shared$"):
        tool.actions["query"].run({"connection": "sales", "sql": "SELECT 1"}, build_tool_context(task, 1))


@pytest.mark.parametrize("config, words", [
    ({"crm": {"users": ["alice"]}}, "must be a URL or an object with a url"),
    ({"crm": {"url": "postgres://x/y", "users": "alice"}}, 'must be a list of names or "*"'),
    ({"crm": {"url": "postgres://x/y", "owners": ["alice"]}}, "unknown keys owners"),
])
def test_a_malformed_mapping_is_an_error_naming_the_connection(settings, alice, config, words):
    settings.AGENT_DATABASES = config
    with pytest.raises(ToolError, match=words):
        query(alice)


# --- the role: a superuser's connection reads the server's files; refused at first use and at startup ---


def superuser_url(url: str) -> str:
    return f"{SERVER}/{url.rsplit('/', 1)[1]}"


def test_a_superuser_connection_is_refused_before_it_can_read_the_servers_files(settings, crm_url, alice):
    """As found: `database.query` with pg_read_file in a READ ONLY transaction read /etc/passwd."""
    settings.AGENT_DATABASES = {"crm": {"url": superuser_url(crm_url), "users": ["alice"]}}
    with pytest.raises(ToolError, match=r"database connection 'crm' is refused: its role 'postgres' is a superuser"):
        query(alice, "SELECT pg_read_file('/etc/passwd') AS secret")


def test_a_superuser_connection_cannot_run_a_program(settings, crm_url, alice, tmp_path: Path):
    """COPY ... TO PROGRAM is a read, so READ ONLY lets it through: only the role check stops it."""
    marker = Path("/tmp") / f"xantuus-pwned-{uuid.uuid4().hex}"
    settings.AGENT_DATABASES = {"crm": {"url": superuser_url(crm_url), "users": ["alice"]}}
    with pytest.raises(ToolError, match="is refused"):
        query(alice, f"COPY (SELECT 1) TO PROGRAM 'touch {marker}'")
    assert not marker.exists()


@pytest.fixture
def role_with(crm_url) -> Iterator:
    """make(grant) -> the crm URL as a new LOGIN role given `grant`; the roles are dropped after."""
    made: list[str] = []

    def make(*grants: str) -> str:
        role = f"xantuus_t_{uuid.uuid4().hex[:10]}"
        made.append(role)
        with psycopg.connect(superuser_url(crm_url), autocommit=True) as admin:
            admin.execute(f"CREATE ROLE {role} LOGIN")
            admin.execute(f"GRANT SELECT ON accounts TO {role}")
            for grant in grants:
                admin.execute(grant.format(role=role))
        return f"postgresql://{role}@127.0.0.1:5432/{crm_url.rsplit('/', 1)[1]}"

    yield make
    with psycopg.connect(superuser_url(crm_url), autocommit=True) as admin:
        admin.execute("DROP EXTENSION IF EXISTS dblink")
        for role in made:
            admin.execute(f"DROP OWNED BY {role}")
            admin.execute(f"DROP ROLE {role}")


@pytest.mark.parametrize("grants, words", [
    (["GRANT pg_execute_server_program TO {role}"], "may run server programs"),
    (["GRANT pg_read_server_files TO {role}"], "may read the server's files"),
    (["GRANT EXECUTE ON FUNCTION pg_read_file(text) TO {role}"], "may call server file functions"),
    (["CREATE EXTENSION IF NOT EXISTS dblink", "GRANT EXECUTE ON FUNCTION dblink_exec(text, text) TO {role}"],
     "may call dblink_exec"),
    (["ALTER ROLE {role} CREATEROLE"], "has CREATEROLE"),
    (["GRANT postgres TO {role}"], "is a superuser (or may become one with SET ROLE)"),
])
def test_a_role_with_server_powers_is_refused(settings, role_with, alice, grants, words):
    settings.AGENT_DATABASES = {"crm": {"url": role_with(*grants), "users": ["alice"]}}
    with pytest.raises(ToolError, match=f"is refused: its role 'xantuus_t_[0-9a-f]+' .*{re.escape(words)}"):
        query(alice)


def test_an_ordinary_role_passes_and_reads(settings, role_with, alice):
    settings.AGENT_DATABASES = {"crm": {"url": role_with(), "users": ["alice"]}}
    assert query(alice)["rows"] == [{"name": "Acme"}]


def test_startup_check_refuses_a_superuser_connection_and_warns_of_a_staff_only_one(settings, crm_url, db):
    settings.AGENT_DATABASES = {"crm": {"url": superuser_url(crm_url), "users": "*"}, "old": crm_url}
    with pytest.raises(SystemCheckError) as refused:
        call_command("check", databases=["default"])
    report = str(refused.value)
    assert "xantuus.E105" in report and "'crm' is refused: its role 'postgres' is a superuser" in report
    assert "xantuus.W102" in report and "'old'] names no users or groups: only staff may use it" in report
    assert "postgres@" not in report  # no URL in the report
    settings.AGENT_DATABASES = {"crm": {"url": crm_url, "users": "*"}}
    call_command("check", databases=["default"])  # an ordinary role passes


# --- statement timeouts are capped --------------------------------------------------------------


def test_statement_timeout_is_capped_whatever_the_call_asks(settings, crm_url, alice):
    settings.AGENT_DATABASES = {"crm": {"url": crm_url, "users": ["alice"]}}
    settings.AGENT_DATABASE_STATEMENT_TIMEOUT_MS = 300
    assert query(alice, "SHOW statement_timeout", timeoutS=300)["rows"] == [{"statement_timeout": "300ms"}]
    started = time.monotonic()
    with pytest.raises(ToolError, match=r"ran past its 0\.3s statement timeout"):
        query(alice, "SELECT pg_sleep(5)", timeoutS=300)
    assert time.monotonic() - started < 3
