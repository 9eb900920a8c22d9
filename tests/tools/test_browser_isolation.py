"""Chromium holds none of the worker's secrets, runs as an unprivileged account, inside its own sandbox (issue 16, 5).

Checked from the outside, as an intruder in the browser would find it: the environment,
account and seccomp state of the very processes Playwright started, read from /proc.
"""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tools import browser_launch
from tools.browser_session import DEFAULT_EXECUTABLE, LAUNCH_ARGS
from tools.errors import ToolError

pytestmark = pytest.mark.browser
REPO = Path(__file__).resolve().parents[2]
SENTINEL = "XANTUUS_SENTINEL_SECRET"

# The page reports what its JavaScript can reach of its surroundings; its image keeps it loading
# (and its renderer alive) until the test has looked at the processes.
PAGE = b"""<title>Curious</title><p id="env"></p><img src="/held.png"><script>
document.getElementById('env').textContent = JSON.stringify({
  process: typeof process, require: typeof require, env: String(globalThis.process && process.env)});
</script>"""

# Runs the tool in a fresh worker process (so Chromium starts there, after the secrets are set),
# prints what navigate said, then waits so the test can look at its processes.
CHILD = """
import json, sys
from tools import browser
from tools.base import ToolContext
from tools.egress import EgressPolicy
ctx = ToolContext(task_id="t-iso", egress=EgressPolicy.from_entries(["127.0.0.0/8"]))
page = browser.tool.actions["navigate"].run({"url": sys.argv[1]}, ctx)
page["env"] = browser.tool.actions["extract"].run({"selector": "#env"}, ctx)
print(json.dumps(page), flush=True)
sys.stdin.read()
"""


class HeldPage:
    """A local page whose image is answered only once the test lets it go."""

    def __init__(self) -> None:
        self.asked, self.release = threading.Event(), threading.Event()
        held = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                if self.path == "/held.png":
                    held.asked.set()
                    held.release.wait(60)
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    return self.end_headers()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(PAGE)))
                self.end_headers()
                self.wfile.write(PAGE)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def held_page() -> Iterator[HeldPage]:
    page = HeldPage()
    yield page
    page.release.set()
    page.server.shutdown()
    page.server.server_close()


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def chromium_processes(root: int) -> dict[int, dict]:
    """Each Chromium process under `root`: its command line, environment, real/effective uid, seccomp mode."""
    found = {}
    for pid in descendants(root):
        try:
            # Chromium rewrites its title, so its arguments may arrive as one string
            args = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().split()
            if not (args and args[0].endswith("/chromium")):
                continue
            status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
            environ = dict(item.split(b"=", 1) for item in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
                           if b"=" in item)
            found[pid] = {"args": args, "env": {k.decode(): v.decode() for k, v in environ.items()},
                          "uids": status["Uid"].split(), "seccomp": status["Seccomp"].strip(),
                          "userns": os.readlink(f"/proc/{pid}/ns/user"),
                          "cwd": os.readlink(f"/proc/{pid}/cwd")}
        except (OSError, KeyError, ValueError):  # a process that ended while we looked
            continue
    return found


def test_chromium_holds_none_of_the_workers_secrets_and_runs_unprivileged_in_its_sandbox(held_page: HeldPage) -> None:
    secrets = {SENTINEL: "sentinel-value-3141", "ANTHROPIC_API_KEY": "sk-ant-test-not-for-chromium",
               "DATABASE_URL": os.environ.get("DATABASE_URL") or "postgres://secret@127.0.0.1/x"}
    env = {**os.environ, **secrets, "DJANGO_SETTINGS_MODULE": "xantuus.settings"}
    child = subprocess.Popen([sys.executable, "-c", CHILD, held_page.url], cwd=REPO, env=env, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert held_page.asked.wait(60), "the page never asked for its image"
        processes = chromium_processes(child.pid)  # while the page is open
        held_page.release.set()
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line, child.communicate(timeout=30)[1]
        page = json.loads(line)
    finally:
        child.communicate("", timeout=60)

    assert processes, "no Chromium process found under the worker"
    for pid, proc in processes.items():
        leaked = [name for name, value in proc["env"].items()
                  if name in secrets or any(secret in value for secret in secrets.values())]
        assert leaked == [], f"chromium {pid} holds {leaked}"
        assert "--no-sandbox" not in proc["args"]
        if os.geteuid() == 0:  # a root worker hands Chromium to an unprivileged account
            assert set(proc["uids"]) == {"65534"}, f"chromium {pid} runs as uid {proc['uids']}"
    # the browser process's own environment is all it had (its children overwrite theirs with their titles)
    main = [p for p in processes.values() if not any(a.startswith("--type=") for a in p["args"])]
    assert len(main) == 1 and set(main[0]["env"]) >= {"PATH", "HOME", "LANG", "TZ"}
    assert "xantuus-browser-home" in main[0]["env"]["HOME"] and main[0]["cwd"] == main[0]["env"]["HOME"]
    renderers = [p for p in processes.values() if "--type=renderer" in p["args"]]
    assert renderers and all(p["seccomp"] == "2" for p in renderers)  # seccomp-bpf filter in force
    assert all(p["userns"] != os.readlink("/proc/self/ns/user") for p in renderers)  # its own namespace
    assert json.loads(page["env"]) == {"process": "undefined", "require": "undefined", "env": "undefined"}
    expected_user = {"user": "nobody", "uid": 65534} if os.geteuid() == 0 else {"uid": os.geteuid()}
    assert page["isolation"] == {**page["isolation"], **expected_user, "sandbox": True, "environment": "clean"}
    assert "degraded" not in page["isolation"]


@pytest.fixture
def sandboxless_chromium() -> Iterator[str]:
    """A Chromium that, like one in a container without user namespaces, cannot start its sandbox."""
    folder = Path(tempfile.mkdtemp(prefix="xantuus-nosandbox-"))
    script = folder / "chromium"
    script.write_text("#!/bin/sh\n"
                      f'case " $* " in *" --no-sandbox "*) exec {DEFAULT_EXECUTABLE} "$@";; esac\n'
                      "echo '[1:1:FATAL:zygote_host_impl_linux.cc(128)] No usable sandbox!' >&2\nexit 1\n")
    for path in (folder, script):  # the unprivileged account must be able to run it
        path.chmod(stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    yield str(script)
    script.unlink()
    folder.rmdir()


def test_without_a_usable_sandbox_chromium_still_starts_and_says_so(sandboxless_chromium: str, caplog) -> None:
    with sync_playwright() as playwright:
        browser, launch = browser_launch.start(playwright, sandboxless_chromium, LAUNCH_ARGS)
        folders = list(launch.paths)
        try:
            page = browser.new_page()
            page.set_content("<p id='x'>up</p>")
            assert page.inner_text("#x") == "up"
        finally:
            browser.close()
            launch.remove()
    facts = launch.isolation()
    assert facts["sandbox"] is False and "No usable sandbox" in facts["degraded"]
    assert any("WITHOUT its sandbox" in r.getMessage() and "No usable sandbox" in r.getMessage()
               for r in caplog.records)
    assert folders and not any(path.exists() for path in folders)  # its private home and launcher are gone


def test_a_required_sandbox_that_cannot_start_refuses_to_run(sandboxless_chromium: str, monkeypatch) -> None:
    monkeypatch.setenv("AGENT_BROWSER_SANDBOX", "required")
    with sync_playwright() as playwright, pytest.raises(Exception, match="No usable sandbox"):
        browser_launch.start(playwright, sandboxless_chromium, LAUNCH_ARGS)


def test_an_unknown_sandbox_mode_is_an_error_naming_the_setting(monkeypatch) -> None:
    monkeypatch.setenv("AGENT_BROWSER_SANDBOX", "maybe")
    with sync_playwright() as playwright, pytest.raises(ToolError, match="AGENT_BROWSER_SANDBOX must be one of"):
        browser_launch.start(playwright, DEFAULT_EXECUTABLE, LAUNCH_ARGS)


def test_a_killed_workers_private_folders_are_swept_at_the_next_launch() -> None:
    dead_pid = subprocess.Popen(["true"])  # a process that has ended: its pid names no one now
    dead_pid.wait()
    stale = Path(tempfile.gettempdir()) / f"xantuus-browser-home-{dead_pid.pid}-stale"
    (stale / "tmp").mkdir(parents=True)
    launch = browser_launch.plan(DEFAULT_EXECUTABLE)
    try:
        assert not stale.exists()
        assert all(path.exists() and f"-{os.getpid()}-" in path.name for path in launch.paths)  # its own stay
    finally:
        launch.remove()
