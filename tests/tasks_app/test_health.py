"""/healthz and /readyz: on the embedded default, and on the real stack (daphne, a celery worker,
celery beat) where a worker that stops or a Redis that cannot be reached makes it not ready, saying why."""
from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.agents.helpers import wait_for
from tests.fakes import processes


def get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


@pytest.mark.usefixtures("inline_engine")
def test_the_embedded_default_is_ready_with_its_in_process_runner(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 200 and body["status"] == "ready" and body["mode"] == "embedded", body
    assert body["checks"]["redis"] == {"ok": True, "detail": "not used: the embedded default (REDIS_URL unset)"}
    assert body["checks"]["worker"]["ok"] and body["checks"]["beat"]["ok"] and body["reasons"] == []
    assert response["Cache-Control"].startswith("max-age=0")


def beat(tmp_path) -> processes.Server:
    args = [sys.executable, "-m", "celery", "-A", "xantuus", "beat", "-l", "info",
            "--pidfile", str(tmp_path / "beat.pid"), "-s", str(tmp_path / "beat-schedule")]
    return processes.Server("beat", args, processes.stack_env(), tmp_path)


@pytest.mark.slow
def test_the_stack_is_ready_with_a_worker_and_beat_and_says_why_when_the_worker_stops(
        celery_worker, daphne, tmp_path):
    scheduler = beat(tmp_path)
    try:
        status, body = wait_for(lambda: (r := get(f"http://{daphne}/readyz"))[0] == 200 and r,
                                timeout=60, what="/readyz to answer ready")
        assert body["mode"] == "full" and body["checks"]["redis"] == {"ok": True, "detail": "answers PING"}
        assert body["checks"]["worker"]["detail"] == "1 worker(s) seen within the last minute"
        assert body["checks"]["beat"]["ok"], body

        celery_worker.stop()  # a clean shutdown says goodbye: no worker is left
        status, body = get(f"http://{daphne}/readyz")
        assert status == 503 and body["status"] == "not ready", body
        assert body["reasons"][0].startswith("worker: no worker seen within the last minute; last seen: worker@")
        assert body["checks"]["database"]["ok"] and body["checks"]["redis"]["ok"]
    finally:
        scheduler.stop()


@pytest.mark.slow
def test_readyz_is_not_ready_when_redis_cannot_be_reached(transactional_db, settings, tmp_path):
    if not settings.REDIS_URL:
        pytest.fail("REDIS_URL must point at Redis (bin/test sets it)")
    closed = processes.free_port()  # nothing listens there: the shared Redis keeps running for the others
    server, host = processes.daphne(processes.stack_env(REDIS_URL=f"redis://127.0.0.1:{closed}/0"), tmp_path)
    try:
        assert get(f"http://{host}/healthz") == (200, {"status": "ok"}), "the process itself answers"
        status, body = get(f"http://{host}/readyz")
        assert status == 503 and body["status"] == "not ready" and body["checks"]["redis"]["ok"] is False
        assert body["reasons"][0].startswith(f"redis: Redis does not answer at redis://127.0.0.1:{closed}/0: "
                                             "ConnectionError"), body
        assert body["checks"]["database"] == {"ok": True, "detail": "postgresql answers"}
    finally:
        server.stop()
