"""The Celery application; queues and routes are declared in settings (CELERY_*)."""
import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xantuus.settings")

app = Celery("xantuus")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["agents"])

# Celery's Django fixup closes the database connection around every task unless told to
# reuse it; workers keep theirs (CONN_HEALTH_CHECKS still tests it before each task).
app.conf["CELERY_DB_REUSE_MAX"] = int(os.environ.get("WORKER_DB_REUSE_MAX", "1000"))


@worker_process_init.connect
def keep_database_connections(**_: object) -> None:
    """A worker process keeps its connection open between tasks (WORKER_CONN_MAX_AGE seconds)."""
    from django.conf import settings
    from django.db import connections

    for alias in connections:
        connections[alias].settings_dict["CONN_MAX_AGE"] = settings.WORKER_CONN_MAX_AGE
