"""code: run an untrusted Python snippet in a bubblewrap sandbox and return its output.

The snippet must never see the network, the project's files, the worker's environment or
another process, and never outlive its limits. Without a working bwrap the tool refuses
to run: there is no unsandboxed fallback, ever.

Limits (Django settings of the same name, else environment variables, else the default):
AGENT_CODE_TIMEOUT_S (10, wall clock; `timeoutS` may ask for up to AGENT_CODE_MAX_TIMEOUT_S,
60), AGENT_CODE_CPU_S (10), AGENT_CODE_MEMORY_MB (512, the whole run), AGENT_CODE_MAX_PROCESSES
(32), AGENT_CODE_CGROUP and AGENT_CODE_RLIMIT_MAX_PROCESSES (how the run is bounded as a whole:
tools/sandbox_limits.py), AGENT_CODE_MAX_FILE_MB (16), AGENT_CODE_DISK_MB (64, the tmpfs working
directory), AGENT_CODE_MAX_OUTPUT_BYTES (65536 per stream), AGENT_CODE_MAX_RESULT_BYTES (1048576),
AGENT_CODE_BWRAP (/usr/bin/bwrap), AGENT_CODE_PYTHON (/usr/bin/python3).
"""
from __future__ import annotations

import glob
import json
import math
import os
import signal
import subprocess
import time
from typing import Any

from pydantic import Field

from .base import Tool, ToolContext, ToolInput
from .config import setting
from .errors import ToolError, ToolInputError
from .sandbox_io import Capture, collect, status_fields
from .sandbox_limits import SANDBOX_UID, Budget, RunCgroup, budget, memfd_filter

tool = Tool("code", "Run a Python snippet in an isolated sandbox (no network, no files of ours).")

WORKDIR = "/sandbox"
RUN_DIR = "/run/xantuus"
MAX_INPUT_BYTES = 1_000_000

# Runs inside the sandbox before the snippet. The limits are set here, inside the sandbox's
# own user namespace, because RLIMIT_NPROC counts processes per user *per namespace*: set
# outside, it would count every process of that uid on the machine.
RUNNER = r'''
import json, os, resource, sys, traceback

status_fd, cpu_s, memory, nproc, fsize, nofile, result_cap = map(int, sys.argv[1:8])
os.set_inheritable(status_fd, False)  # the snippet's children must not hold it open
for limit, value in ((resource.RLIMIT_CPU, cpu_s), (resource.RLIMIT_AS, memory), (resource.RLIMIT_NPROC, nproc),
                     (resource.RLIMIT_FSIZE, fsize), (resource.RLIMIT_NOFILE, nofile), (resource.RLIMIT_CORE, 0)):
    resource.setrlimit(limit, (value, value + 1 if limit == resource.RLIMIT_CPU else value))
status = os.fdopen(status_fd, "w", encoding="utf-8")


def report(**fields):
    status.write(json.dumps(fields) + "\n")
    status.flush()


report(started=True)
with open("/run/xantuus/inputs.json", encoding="utf-8") as f:
    namespace = {"__name__": "__main__", "inputs": json.load(f)}
with open("/run/xantuus/snippet.py", encoding="utf-8") as f:
    source = f.read()
outcome, exit_code = {}, 0
try:
    exec(compile(source, "/run/xantuus/snippet.py", "exec"), namespace)
except MemoryError as exc:
    traceback.print_exception(type(exc), exc, exc.__traceback__.tb_next)  # without the runner's frame
    outcome["error"], exit_code = "memory", 1
except SystemExit as exc:
    exit_code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    if exc.code is not None and not isinstance(exc.code, int):
        print(exc.code, file=sys.stderr)
except BaseException as exc:
    traceback.print_exception(type(exc), exc, exc.__traceback__.tb_next)
    outcome["raised"], exit_code = type(exc).__name__, 1
sys.stdout.flush()
sys.stderr.flush()
if "result" in namespace:
    try:
        encoded = json.dumps(namespace["result"])
        if len(encoded) > result_cap:
            outcome["resultError"] = f"result is {len(encoded)} bytes of JSON, over the {result_cap}-byte limit"
        else:
            outcome["result"] = namespace["result"]
    except (TypeError, ValueError) as exc:
        outcome["resultError"] = f"result is not JSON-serializable: {exc}"
report(done=True, **outcome)
sys.exit(exit_code)
'''


class CodeFailed(ToolError):
    """The code raised (or exited non-zero): the step failed, with the traceback as its error."""

    def __init__(self, exit_code: int, raised: str, stdout: str, stderr: str, note: str = ""):
        what = f"code raised {raised}" if raised else f"code exited with status {exit_code}"
        output = f"\nstdout (end):\n{stdout[-1_000:]}" if stdout.strip() else ""
        super().__init__(f"{what} (exit code {exit_code}){note}:\n{stderr.strip()[-4_000:]}{output}")
        self.exit_code, self.stdout, self.stderr = exit_code, stdout, stderr


class RunInput(ToolInput):
    code: str = Field(min_length=1, max_length=100_000,
                      description="Python 3 source. Set a variable named `result` to return a JSON value.")
    stdin: str | None = Field(default=None, max_length=MAX_INPUT_BYTES, description="Text fed to standard input")
    timeout_s: float | None = Field(default=None, gt=0, le=600, alias="timeoutS",
                                    description="Wall-clock limit in seconds (capped by the server's maximum)")
    inputs: Any = Field(default=None, description="A JSON value the code sees as the variable `inputs`")


def _memfd(name: str, data: bytes) -> int:
    """An anonymous file holding `data`, for bwrap to copy into the sandbox."""
    fd = os.memfd_create(name, 0)
    with open(fd, "wb", closefd=False) as f:
        f.write(data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _system_binds(python: str) -> list[str]:
    """Read-only binds of the interpreter and the libraries it loads, nothing else (no /etc)."""
    real = os.path.realpath(python)
    args = ["--ro-bind", real, real]
    for path in sorted({*glob.glob("/usr/lib/python3*"), *glob.glob("/usr/lib/*-linux-gnu"), "/usr/lib64"}):
        if os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for top in ("/lib", "/lib64"):  # merged-/usr systems: symlinks into /usr
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    return args


def _command(bwrap: str, python: str, fds: dict[str, int], status_w: int, limits: dict[str, Any]) -> list[str]:
    # --unshare-all takes user namespaces only "if possible"; --unshare-user makes it a
    # requirement, which --disable-userns (no nested namespaces) needs. All of it works as
    # root in this container and for an unprivileged user where the kernel allows user
    # namespaces (kernel.unprivileged_userns_clone / AppArmor's userns restriction).
    return [
        bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session",
        "--seccomp", str(fds["seccomp"]),
        "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--hostname", "sandbox",
        "--clearenv", "--setenv", "HOME", WORKDIR, "--setenv", "TMPDIR", WORKDIR, "--setenv", "PATH", "/usr/bin",
        *_system_binds(python),
        "--dev", "/dev",  # null, zero, urandom; no /proc: nothing of other processes to read
        "--size", str(limits["disk"]), "--tmpfs", WORKDIR,
        "--ro-bind-data", str(fds["runner"]), f"{RUN_DIR}/runner.py",
        "--ro-bind-data", str(fds["snippet"]), f"{RUN_DIR}/snippet.py",
        "--ro-bind-data", str(fds["inputs"]), f"{RUN_DIR}/inputs.json",
        "--chdir", WORKDIR, "--remount-ro", "/dev", "--remount-ro", "/",
        "--", os.path.realpath(python), "-I", "-X", "utf8", f"{RUN_DIR}/runner.py",
        str(status_w), str(limits["cpu"]), str(limits["budget"].process_memory), str(limits["budget"].processes),
        str(limits["file"]), "64", str(limits["result"]),
    ]


def _limits(requested_timeout: float | None) -> dict[str, Any]:
    timeout = min(requested_timeout or setting("AGENT_CODE_TIMEOUT_S", 10.0),
                  setting("AGENT_CODE_MAX_TIMEOUT_S", 60.0))
    mb = 1024 * 1024
    return {
        "timeout": timeout,
        "cpu": max(1, math.ceil(min(timeout, setting("AGENT_CODE_CPU_S", 10.0)))),
        "budget": budget(),
        "file": setting("AGENT_CODE_MAX_FILE_MB", 16) * mb,
        "disk": setting("AGENT_CODE_DISK_MB", 64) * mb,
        "output": setting("AGENT_CODE_MAX_OUTPUT_BYTES", 65536),
        "result": setting("AGENT_CODE_MAX_RESULT_BYTES", 1024 * 1024),
    }


def _failure(returncode: int, status: dict[str, Any], stderr: str, stdout: str, limits: dict[str, Any],
             cgroup: RunCgroup | None) -> ToolError | None:
    """The error for a run that did not end on its own, or None for an ordinary exit."""
    tail = stderr.strip()[-500:]
    last_line = tail.splitlines()[-1] if tail else ""
    run_budget: Budget = limits["budget"]
    if not status.get("started"):
        return ToolError(f"the code sandbox (bwrap) could not start; nothing was run: {tail or returncode}")
    if status.get("error") == "memory" or (cgroup is not None and cgroup.oom_kills):
        killed = f"{cgroup.oom_kills} process(es) killed" if cgroup is not None and cgroup.oom_kills else last_line
        output = f"\nstdout (end):\n{stdout[-1_000:]}" if stdout.strip() else ""
        return ToolError(f"code ran out of memory (its limit is {run_budget.phrase()}): {killed}{output}")
    if status.get("done") or 0 <= returncode <= 128:
        return None
    signum = -returncode if returncode < 0 else returncode - 128  # bwrap reports a killed child as 128 + signal
    if signum == signal.SIGXCPU:
        return ToolError(f"code used up its {limits['cpu']} s CPU-time limit and was killed")
    name = signal.Signals(signum).name if signum in signal.Signals._value2member_map_ else str(signum)
    return ToolError(f"code was killed by signal {name} (limits: {limits['cpu']} s CPU, {run_budget.phrase()})")


def _process_note(fields: dict[str, Any], stderr: str, run_budget: Budget, cgroup: RunCgroup | None) -> str:
    """Why a fork failed, when it did: the run's process limit."""
    refused = cgroup is not None and cgroup.pids_refused
    if refused or (fields.get("raised") == "BlockingIOError" and "Resource temporarily unavailable" in stderr):
        return f"; a new process was refused: the run's limit is {run_budget.processes} processes"
    return ""


def _spawn(command: list[str], fds: dict[str, int], stdin_fd: int | None, status_w: int,
           cgroup: RunCgroup | None) -> subprocess.Popen[bytes]:
    # A root worker hands the sandbox to nobody: RLIMIT_NPROC is not enforced for root. With a
    # cgroup the child joins it first (as the worker) and then drops to nobody itself.
    drop: dict[str, Any] = {}
    if cgroup is not None:
        drop = {"preexec_fn": cgroup.enter_and_drop}
    elif os.geteuid() == 0:
        drop = {"user": SANDBOX_UID, "group": SANDBOX_UID, "extra_groups": []}
    try:
        return subprocess.Popen(
            command, stdin=stdin_fd if stdin_fd is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=(*fds.values(), status_w), env={}, cwd="/",
            start_new_session=True, **drop,
        )
    finally:
        for fd in (*fds.values(), status_w, *([stdin_fd] if stdin_fd is not None else [])):
            os.close(fd)


def _execute(params: RunInput, inputs: bytes, limits: dict[str, Any], cgroup: RunCgroup | None,
             paths: tuple[str, str]) -> tuple[subprocess.Popen[bytes], bool, dict[str, Capture], float]:
    """Run the sandbox to its end (or its deadline) and kill what is left of it."""
    fds = {"runner": _memfd("runner", RUNNER.encode()), "snippet": _memfd("snippet", params.code.encode()),
           "inputs": _memfd("inputs", inputs), "seccomp": _memfd("seccomp", memfd_filter())}
    stdin_fd = _memfd("stdin", params.stdin.encode()) if params.stdin is not None else None
    status_r, status_w = os.pipe()
    started = time.monotonic()
    proc = _spawn(_command(*paths, fds, status_w, limits), fds, stdin_fd, status_w, cgroup)
    assert proc.stdout is not None and proc.stderr is not None
    captures = {"out": Capture(limits["output"]), "err": Capture(limits["output"]),
                "status": Capture(2 * limits["result"] + 4096)}
    try:
        finished = collect(proc, {proc.stdout.fileno(): captures["out"], proc.stderr.fileno(): captures["err"],
                                   status_r: captures["status"]}, started + limits["timeout"])
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # bwrap's group; the sandbox dies with it (pid namespace)
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
        os.close(status_r)
    return proc, finished, captures, started


@tool.action("run", credits=50)
def run(params: RunInput, context: ToolContext) -> dict[str, Any]:
    """Run Python 3 code in a sandbox without network or our files; returns stdout, stderr,
    exitCode and `result` (the JSON value of a variable named `result`, if the code sets one).
    Code that raises (or exits non-zero) fails the call with its traceback.
    Only the standard library is available; the working directory is a small scratch tmpfs."""
    bwrap, python = setting("AGENT_CODE_BWRAP", "/usr/bin/bwrap"), setting("AGENT_CODE_PYTHON", "/usr/bin/python3")
    if not os.access(bwrap, os.X_OK):
        raise ToolError(f"the code tool needs bubblewrap at {bwrap} (Debian package 'bubblewrap'); "
                        "it never runs code outside the sandbox")
    inputs = json.dumps(params.inputs).encode()
    if len(inputs) > MAX_INPUT_BYTES:
        raise ToolInputError(f"inputs are {len(inputs)} bytes of JSON, over the {MAX_INPUT_BYTES}-byte limit")
    limits = _limits(params.timeout_s)
    limits["timeout"] = context.remaining(limits["timeout"])  # never past the task's deadline
    run_budget: Budget = limits["budget"]
    cgroup = RunCgroup(run_budget.cgroup_parent, run_budget.memory, run_budget.processes) \
        if run_budget.cgroup_parent is not None else None
    try:
        proc, finished, captures, started = _execute(params, inputs, limits, cgroup, (bwrap, python))
    finally:
        if cgroup is not None:
            cgroup.close()
    out, err = captures["out"], captures["err"]
    if not finished:
        raise ToolError(f"code ran past its {limits['timeout']:g} s wall-clock limit and was killed")
    fields = status_fields(captures["status"])
    failure = _failure(proc.returncode, fields, err.text(), out.text(), limits, cgroup)
    if failure is not None:
        raise failure
    if fields.get("raised") or proc.returncode != 0:  # the code failed: a failed step, never a result
        raise CodeFailed(proc.returncode, str(fields.get("raised") or ""), out.text(), err.text(),
                         _process_note(fields, err.text(), run_budget, cgroup))
    return {
        "stdout": out.text(), "stderr": err.text(), "exitCode": proc.returncode,
        "result": fields.get("result"), "resultError": fields.get("resultError"),
        "durationMs": round((time.monotonic() - started) * 1000),
        "stdoutTruncated": out.truncated, "stderrTruncated": err.truncated, "limits": run_budget.describe(),
    }
