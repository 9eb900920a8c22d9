"""Starting the real servers of the stack as subprocesses: celery workers, beat, daphne."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stack_env(**extra: str) -> dict[str, str]:
    """The environment of a server process that shares this test run's database and Redis."""
    db = settings.DATABASES["default"]
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "AGENT_EGRESS_ALLOWLIST": ",".join(settings.AGENT_EGRESS_ALLOWLIST),
        "HACKERNEWS_API_URL": settings.HACKERNEWS_API_URL,
        "AGENT_RETRY_BASE_S": str(settings.AGENT_RETRY_BASE_S),
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


class Server:
    """A subprocess with its log in a file; stop() terminates it, kill() is kill -9."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path):
        self.name, self.log_path = name, log_dir / f"{name}.log"
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the process's life
        self.process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """kill -9 the whole process group (a prefork worker's children too)."""
        if self.alive():
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.alive():
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def celery_worker(name: str, env: dict[str, str], log_dir: Path, concurrency: int = 2) -> Server:
    args = [sys.executable, "-m", "celery", "-A", "xantuus", "worker", "-l", "info", "-c", str(concurrency),
            "-O", "fair",  # as deployed (README): a parallel step goes to an idle process, not a busy one
            "-n", f"{name}@%h", "--without-heartbeat", "--without-gossip", "--without-mingle"]
    return Server(name, args, env, log_dir)


def wait_until_ready(server: Server, marker: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while marker not in server.log_path.read_text(errors="replace"):
        if not server.alive():
            raise RuntimeError(f"{server.name} exited:\n{server.tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{server.name} not ready after {timeout}s:\n{server.tail()}")
        time.sleep(0.1)


def daphne(env: dict[str, str], log_dir: Path, timeout: float = 30) -> tuple[Server, str]:
    """Start daphne serving xantuus.asgi (HTTP, static files, websockets); returns it and its host:port."""
    port = free_port()
    server = Server("daphne", [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                               "xantuus.asgi:application"], env, log_dir)
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, f"127.0.0.1:{port}"
        except OSError:
            if not server.alive() or time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"daphne not listening:\n{server.tail()}") from None
            time.sleep(0.1)
