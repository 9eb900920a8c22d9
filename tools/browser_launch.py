"""How the browser tool starts Chromium: a clean environment, an unprivileged account, its own sandbox.

Chromium renders pages written by strangers, so it must never inherit the worker's secrets
(DATABASE_URL, API keys) nor its root account. When the platform allows neither the account
switch nor Chromium's sandbox, it says so in the log and in `isolation` (never silently).
"""
from __future__ import annotations

import atexit
import logging
import os
import pwd
import shlex
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Playwright
from playwright.sync_api import Error as PlaywrightError

from .config import setting
from .errors import ToolError

log = logging.getLogger("tools.browser")

SETPRIV = "/usr/bin/setpriv"
SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"
SANDBOX_MODES = ("auto", "required")
FOLDER_PREFIX = "xantuus-browser-"  # then home-<pid>- or launch-<pid>-: a dead pid's folders are swept
# What Chromium prints when it cannot set up its sandbox (no user namespaces, seccomp refused)
SANDBOX_FAILURES = ("no usable sandbox", "failed to move to new namespace", "zygote_host_impl_linux")


@dataclass
class Launch:
    """One Chromium's start: what runs, as whom, with what environment, and what to remove after."""

    executable: str
    env: dict[str, str]
    account: pwd.struct_passwd | None  # None: Chromium runs as the worker's own user
    sandbox: bool = True
    reason: str = ""  # why the account or the sandbox is missing, when one is
    paths: list[Path] = field(default_factory=list)
    pid: int = field(default_factory=os.getpid)

    def isolation(self) -> dict[str, Any]:
        uid = self.account.pw_uid if self.account else os.geteuid()
        name = self.account.pw_name if self.account else _user_name(uid)
        return {"user": name, "uid": uid, "sandbox": self.sandbox, "environment": "clean",
                **({"degraded": self.reason} if self.reason else {})}

    def remove(self) -> None:
        for path in self.paths:
            shutil.rmtree(path, ignore_errors=True)
        self.paths = []
        if self in _launches:
            _launches.remove(self)


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def clean_env(home: Path) -> dict[str, str]:
    """All Chromium gets from its surroundings: a search path, a private home, language and zone."""
    tmp = home / "tmp"
    return {
        "PATH": SAFE_PATH, "HOME": str(home), "TMPDIR": str(tmp),
        "XDG_CONFIG_HOME": str(home / ".config"), "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_DATA_HOME": str(home / ".local" / "share"), "XDG_RUNTIME_DIR": str(tmp),
        "LANG": os.environ.get("LANG") or "C.UTF-8", "TZ": os.environ.get("TZ") or "UTC",
    }


def _private_home(account: pwd.struct_passwd | None) -> Path:
    home = Path(tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}home-{os.getpid()}-"))
    (home / "tmp").mkdir(mode=0o700)
    if account is not None:
        for path in (home, home / "tmp"):
            os.chown(path, account.pw_uid, account.pw_gid)
    return home


def _account() -> tuple[pwd.struct_passwd | None, str]:
    """The unprivileged account a root worker hands Chromium to, or why there is none."""
    if os.geteuid() != 0:
        return None, ""
    name = setting("AGENT_BROWSER_USER", "nobody")
    try:
        account = pwd.getpwuid(int(name)) if name.isdigit() else pwd.getpwnam(name)
    except KeyError:
        return None, f"AGENT_BROWSER_USER {name!r} is not an account on this machine"
    if account.pw_uid == 0:
        return None, f"AGENT_BROWSER_USER {name!r} is root"
    if not os.access(SETPRIV, os.X_OK):
        return None, f"{SETPRIV} (util-linux) is missing, so the worker cannot switch accounts"
    return account, ""


def _launcher(executable: str, account: pwd.struct_passwd | None, home: Path) -> Path:
    """A script, owned by the worker, that starts Chromium in its private home, as `account` if given.

    Playwright makes the profile folder itself and names it in the arguments; the script
    hands it to the account, then drops every group and capability and execs Chromium as it."""
    folder = Path(tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}launch-{os.getpid()}-"))
    lines, become = ["#!/bin/sh", "# written by tools/browser_launch.py"], ""
    if account is not None:
        ids = f"{account.pw_uid}:{account.pw_gid}"
        lines.append(f'for arg; do case "$arg" in --user-data-dir=*) chown -R {ids} -- "${{arg#--user-data-dir=}}";;'
                     " esac; done")
        become = (f"{SETPRIV} --reuid={account.pw_uid} --regid={account.pw_gid} --clear-groups"
                  " --inh-caps=-all --bounding-set=-all --no-new-privs -- ")
    lines += [f"cd -- {shlex.quote(str(home))} || exit 1", f'exec {become}{shlex.quote(executable)} "$@"']
    script = folder / "chromium"
    script.write_text("\n".join(lines) + "\n")
    script.chmod(0o700)
    return script


def _sweep() -> None:
    """Remove the folders of workers that died without their atexit (a kill -9)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{FOLDER_PREFIX}*-*-*"):
        pid = folder.name.removeprefix(FOLDER_PREFIX).split("-")[1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(folder, ignore_errors=True)


def plan(executable: str) -> Launch:
    """How to start `executable` here: as an unprivileged account when the worker is root."""
    _sweep()
    account, reason = _account()
    home = _private_home(account)
    script = _launcher(executable, account, home)
    launch = Launch(executable=str(script), env=clean_env(home), account=account, paths=[home, script.parent])
    if account is None and os.geteuid() == 0:  # Chromium refuses its sandbox to root
        launch.sandbox, launch.reason = False, f"Chromium runs as root without its sandbox: {reason}"
    return launch


def start(playwright: Playwright, executable: str, args: list[str]) -> tuple[Browser, Launch]:
    """Chromium started with `args` as plan() says; without its sandbox only where it cannot start one."""
    mode = setting("AGENT_BROWSER_SANDBOX", "auto")
    if mode not in SANDBOX_MODES:
        raise ToolError(f"AGENT_BROWSER_SANDBOX must be one of {', '.join(SANDBOX_MODES)}, not {mode!r}")
    launch = plan(executable)
    if not launch.sandbox and mode == "required":
        launch.remove()
        raise ToolError(f"AGENT_BROWSER_SANDBOX=required, but {launch.reason}")
    try:
        try:
            browser = _launch(playwright, launch, args)
        except PlaywrightError as exc:
            if not launch.sandbox or mode == "required" or not _sandbox_line(str(exc)):
                raise
            launch.sandbox = False
            launch.reason = f"Chromium could not start its sandbox here: {_sandbox_line(str(exc))}"
            browser = _launch(playwright, launch, args)
    except BaseException:
        launch.remove()
        raise
    _report(launch)
    _launches.append(launch)
    return browser, launch


def _launch(playwright: Playwright, launch: Launch, args: list[str]) -> Browser:
    env: dict[str, str | float | bool] = dict(launch.env)  # the whole environment, not added to the worker's
    return playwright.chromium.launch(
        executable_path=launch.executable, args=[*args, *([] if launch.sandbox else ["--no-sandbox"])],
        chromium_sandbox=launch.sandbox, env=env, timeout=30_000)


def _sandbox_line(message: str) -> str:
    """The line of Chromium's output saying its sandbox could not start; empty if none does."""
    lines = [line.strip() for line in message.splitlines() if any(m in line.lower() for m in SANDBOX_FAILURES)]
    return lines[0][:300] if lines else ""


def _report(launch: Launch) -> None:
    facts = launch.isolation()
    if launch.reason:
        log.warning("chromium started as %s (uid %s) WITHOUT its sandbox, clean environment: %s",
                    facts["user"], facts["uid"], launch.reason)
    else:
        log.info("chromium started as %s (uid %s) with its sandbox, clean environment", facts["user"], facts["uid"])


_launches: list[Launch] = []  # removed at exit, by the process that made them (not a forked child)


@atexit.register
def _remove_all() -> None:
    for launch in _launches:
        if launch.pid == os.getpid():
            launch.remove()
