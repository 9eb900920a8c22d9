"""The bench database: created and migrated if missing, emptied before a run; users; pg_stat counters."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import psycopg

from bench import config


def ensure_database() -> None:
    """Create xantuus_bench if it does not exist (never any other database)."""
    assert config.BENCH_DB.startswith("xantuus_bench"), config.BENCH_DB
    with psycopg.connect(config.PG_ADMIN_URL, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config.BENCH_DB]).fetchone():
            conn.execute(f'CREATE DATABASE "{config.BENCH_DB}"')


def migrate_and_reset() -> None:
    """Apply migrations, then empty every table (a fresh start for each run)."""
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    call_command("flush", verbosity=0, interactive=False)


def checkpoint() -> None:
    """Write the dirty pages out now, so that the checkpointer is not writing them while a stage is
    timed: PostgreSQL's timed checkpoint, spread over minutes after the layers' writes, made the
    first step's statements 3-4x slower when it overlapped that stage."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")


def checkpoint_buffers() -> int | None:
    """Buffers the checkpointer has written so far (PostgreSQL 15/16's pg_stat_bgwriter), or None."""
    from django.db import DatabaseError, connection

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT buffers_checkpoint FROM pg_stat_bgwriter")
            return int(cursor.fetchone()[0])
    except DatabaseError:  # PostgreSQL 17 moved it to pg_stat_checkpointer
        return None


def make_users(prefix: str, count: int) -> list[tuple[Any, str]]:
    """`count` users with API tokens and credits for every step of a run (the layers debit each hop as the
    engine debits each step; a signup grant alone runs out, and the engine pauses an owner's runs then):
    [(user, token key)]."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from tasks_app import credit_ledger

    user_model = get_user_model()
    users = []
    for i in range(count):
        user = user_model.objects.create_user(username=f"{prefix}{i}", email=f"{prefix}{i}@bench.local")
        credit_ledger.grant(user_id=user.id, amount=1_000_000_000, note="bench")
        users.append((user, Token.objects.create(user=user).key))
    return users


@dataclass(frozen=True)
class PgCounters:
    """Cumulative pg_stat_database counters of the bench database."""

    commits: int
    rows_written: int
    sessions: int

    def __sub__(self, other: PgCounters) -> PgCounters:
        """What happened in between, less the earlier reading's own connection (3 commits, 1 session)."""
        return PgCounters(self.commits - other.commits - 3, self.rows_written - other.rows_written,
                          self.sessions - other.sessions - 1)


def pg_counters() -> PgCounters:
    """Read the counters from a separate connection; close this process's own connection first."""
    from django.db import connection

    connection.close()  # a backend's counters reach pg_stat_database when it exits
    time.sleep(0.3)  # let the workers' closed backends exit and flush theirs
    with psycopg.connect(config.DATABASE_URL, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_force_next_flush()")
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute(
            "SELECT xact_commit, tup_inserted + tup_updated + tup_deleted, sessions "
            "FROM pg_stat_database WHERE datname = %s", [config.BENCH_DB]).fetchone()
    assert row is not None
    return PgCounters(int(row[0]), int(row[1]), int(row[2]))
