"""The bench workers' Celery app: the product's app plus the bench tasks, the noop tool and the probe.

Start a worker with `celery -A bench.app worker`; the product's own tasks and settings are
used unchanged.
"""
from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xantuus.settings")

import django

django.setup()

from bench import noop_tool, probe  # noqa: E402
from xantuus.celery import app  # noqa: E402

noop_tool.register()
probe.watch_commits()
if os.environ.get("BENCH_DB_REUSE_MAX"):  # the what-if run: Celery's Django fixup then keeps connections
    app.conf["CELERY_DB_REUSE_MAX"] = int(os.environ["BENCH_DB_REUSE_MAX"])

import agents.tasks  # noqa: E402,F401
import bench.celery_tasks  # noqa: E402,F401  (registers bench.hop)

__all__ = ["app"]
