"""The Celery application; queues and routes are declared in settings (CELERY_*)."""
import os

from celery import Celery
from celery.signals import (
    after_setup_logger,
    after_setup_task_logger,
    task_postrun,
    worker_process_init,
    worker_process_shutdown,
    worker_ready,
    worker_shutdown,
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xantuus.settings")

app = Celery("xantuus")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["agents"])

# Celery's Django fixup closes the database connection around every task unless told to
# reuse it; workers keep theirs.
app.conf["CELERY_DB_REUSE_MAX"] = int(os.environ.get("WORKER_DB_REUSE_MAX", "1000"))

# The handlers below import Django and the engine when their signal fires: this module loads with
# the settings (xantuus/__init__.py), before the apps and their models are ready.


@worker_process_init.connect
def keep_database_connections(**_: object) -> None:
    """A worker process keeps its connection open between tasks (WORKER_CONN_MAX_AGE seconds), with no
    health check (a `SELECT 1` round trip) before each task: a connection that died (PostgreSQL
    restarted) fails the task's first statement, the task retries (agents/tasks.py RETRY_ON_DB_DOWN),
    and Django replaces the connection then, as it replaces any connection that raised."""
    from django.conf import settings
    from django.db import connections

    for alias in connections:
        connections[alias].settings_dict["CONN_MAX_AGE"] = settings.WORKER_CONN_MAX_AGE
        connections[alias].settings_dict["CONN_HEALTH_CHECKS"] = False


@worker_process_shutdown.connect
def flush_published_events(**_: object) -> None:
    """Events a step stored and sent to the channel layer without waiting (tasks_app/publish_loop.py)
    reach it before the process exits (a prefork child ends with os._exit: no atexit)."""
    from tasks_app import publish_loop

    publish_loop.flush(5.0)


@worker_ready.connect
def start_heartbeat(sender: object, **_: object) -> None:
    """Each worker reports itself every AGENT_WORKER_HEARTBEAT_S (agents/heartbeats.py): /readyz, /ops/."""
    from agents.heartbeats import start_worker_heartbeat

    start_worker_heartbeat(sender)


@worker_shutdown.connect
def stop_heartbeat(sender: object, **_: object) -> None:
    from agents.heartbeats import stop_worker_heartbeat

    stop_worker_heartbeat(sender)


@after_setup_logger.connect
@after_setup_task_logger.connect
def json_logs(logger: object, **_: object) -> None:
    """LOG_FORMAT=json: Celery's own handlers write the same JSON lines as the web's (xantuus/logs.py)."""
    from xantuus.logs import use_json_if_configured

    use_json_if_configured(logger)


@task_postrun.connect
def forget_log_ids(**_: object) -> None:
    """The ids a task bound for its log lines end with it (a pool process runs many tasks)."""
    from xantuus.logs import clear

    clear()
