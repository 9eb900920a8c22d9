"""code.run: a normal snippet works; every way out of the sandbox is shut, and the worker stays healthy."""
from __future__ import annotations

import os
import socket
import subprocess
import time
import tracemalloc
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tools.code import CodeFailed
from tools.errors import ToolError
from tools.registry import get_action

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not Path("/usr/bin/bwrap").exists(), reason="needs bubblewrap (Debian 'bubblewrap')")


def run_code(context, code: str, **params):
    return get_action("code.run").run({"code": code, **params}, context)


def runner_pids() -> set[int]:
    """Processes of any sandbox (their command line names the runner)."""
    pids = set()
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and b"/run/xantuus/runner.py" in (entry / "cmdline").read_bytes():
                pids.add(int(entry.name))
        except OSError:
            continue
    return pids


def assert_no_sandbox_left(before: set[int]) -> None:
    deadline = time.monotonic() + 5
    while runner_pids() - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not runner_pids() - before, "a sandboxed process outlived its run"


def test_snippet_prints_reads_inputs_and_stdin_and_returns_result(tool_context):
    out = run_code(tool_context, "import sys\nname = sys.stdin.read().strip()\nprint('hello', name)\n"
                   "result = {'total': sum(inputs['numbers']), 'name': name}",
                   stdin="ada\n", inputs={"numbers": [1, 2, 3.5]})

    assert out["stdout"] == "hello ada\n"
    assert out["exitCode"] == 0
    assert out["result"] == {"total": 6.5, "name": "ada"}
    assert out["stdoutTruncated"] is False and out["durationMs"] >= 0


def run_failing(context, code: str, **params) -> CodeFailed:
    with pytest.raises(CodeFailed) as failed:
        run_code(context, code, **params)
    return failed.value


def test_an_exception_fails_the_call_with_its_traceback(tool_context):
    failed = run_failing(tool_context, "print('so far so good')\nx = 1\nraise ValueError('bad value')")

    assert failed.exit_code == 1 and str(failed).startswith("code raised ValueError (exit code 1):")
    assert "ValueError: bad value" in str(failed) and 'snippet.py", line 3' in str(failed)
    assert "so far so good" in str(failed) and "runner.py" not in failed.stderr


def test_a_non_zero_exit_fails_the_call(tool_context):
    failed = run_failing(tool_context, "import sys\nsys.exit(3)")
    assert failed.exit_code == 3 and str(failed).startswith("code exited with status 3")


def test_a_result_that_is_not_json_is_reported_not_returned(tool_context):
    out = run_code(tool_context, "result = {1, 2}")

    assert out["result"] is None
    assert "not JSON-serializable" in out["resultError"]


def test_etc_passwd_is_not_there(tool_context):
    assert Path("/etc/passwd").exists()
    failed = run_failing(tool_context, "print(open('/etc/passwd').read())")

    assert "FileNotFoundError" in failed.stderr and "root:" not in failed.stdout


def test_the_projects_settings_file_is_not_there(tool_context):
    settings_file = REPO / "xantuus" / "settings.py"
    assert settings_file.exists()
    failed = run_failing(tool_context,
                         f"import os\nprint(os.listdir('/'))\nprint(open({str(settings_file)!r}).read())")

    assert "FileNotFoundError" in failed.stderr
    assert "SECRET_KEY" not in failed.stdout
    top = REPO.parts[1]  # e.g. "work": the repo's top directory is not mounted at all
    assert f"'{top}'" not in failed.stdout.splitlines()[0]


def test_loopback_services_of_the_host_are_unreachable(tool_context):
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        socket.create_connection(("127.0.0.1", port), timeout=2).close()  # the host itself can connect
        server.accept()[0].close()
        out = run_code(tool_context, f"""
import socket
for port in ({port}, 5432):
    try:
        socket.create_connection(('127.0.0.1', port), timeout=2)
        print(port, 'connected')
    except OSError as exc:
        print(port, type(exc).__name__)
""")
        server.settimeout(0.2)
        with pytest.raises(TimeoutError):
            server.accept()  # nothing from the sandbox ever arrived

    assert out["stdout"].split("\n")[:2] == [f"{port} ConnectionRefusedError", "5432 ConnectionRefusedError"]


def test_the_internet_is_unreachable(tool_context):
    out = run_code(tool_context, """
import errno, socket
try:
    socket.create_connection(('1.1.1.1', 80), timeout=3)
    print('connected')
except OSError as exc:
    print(errno.errorcode[exc.errno])
try:
    socket.getaddrinfo('example.com', 80)
    print('resolved')
except OSError as exc:
    print('no-dns')
""")

    assert out["stdout"].split() == ["ENETUNREACH", "no-dns"]


def test_a_fork_bomb_hits_the_process_limit_and_leaves_nothing_behind(tool_context, settings):
    settings.AGENT_CODE_MAX_PROCESSES = 16
    before = runner_pids()
    out = run_code(tool_context, """
import os, time
n = 0
while True:
    try:
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        n += 1
    except OSError as exc:
        print('refused after', n, type(exc).__name__)
        break
""", timeoutS=20)

    words = out["stdout"].split()
    assert words[0:2] == ["refused", "after"] and words[3] == "BlockingIOError"
    assert 0 < int(words[2]) < 16
    assert out["durationMs"] < 10_000  # the children did not keep it alive
    assert_no_sandbox_left(before)
    assert subprocess.run(["true"]).returncode == 0  # the worker can still start processes


def test_a_memory_bomb_is_stopped_with_a_clear_error(tool_context, settings):
    settings.AGENT_CODE_MEMORY_MB = 256
    with pytest.raises(ToolError, match=r"code ran out of memory \(its limit is 256 MB in all"):
        run_code(tool_context, "block = bytearray(10 * 1024 ** 3)\nprint('allocated')")


FOUR_CHILDREN_OF_400_MB = """
import os
pids = []
for i in range(4):
    try:
        pid = os.fork()
    except BlockingIOError:
        print('fork', i, 'refused', flush=True)
        break
    if pid == 0:
        block = b'x' * (400 * 1024 * 1024)  # written, so every page is really there
        print('child', i, 'got 400 MB', flush=True)
        os._exit(0)
    pids.append(pid)
for pid in pids:
    os.waitpid(pid, 0)
"""


@pytest.mark.parametrize("memory_mb", [None, 512])
def test_four_children_of_400_mb_do_not_get_1600_mb(tool_context, settings, memory_mb):
    """The attack as found: each child stayed under the per-process limit, the run got 1.6 GB."""
    if memory_mb:
        settings.AGENT_CODE_MEMORY_MB = memory_mb
    with pytest.raises(ToolError, match=r"code ran out of memory \(its limit is 512 MB in all") as failed:
        run_code(tool_context, FOUR_CHILDREN_OF_400_MB, timeoutS=30)

    assert "got 400 MB" not in str(failed.value)


GREEDY_RUN = """
import os
CHUNK = 16 * 1024 * 1024


def grab():
    held = []
    try:
        while True:
            held.append(b'x' * CHUNK)
    except MemoryError:
        return held


go_r, go_w = os.pipe()
children = []
for i in range(8):
    report_r, report_w = os.pipe()
    try:
        pid = os.fork()
    except BlockingIOError:
        break
    if pid == 0:
        held = grab()
        os.write(report_w, str(len(held) * 16).encode())
        os.close(go_w)
        os.read(go_r, 1)  # hold it all until every process has taken its share
        os._exit(0)
    children.append((pid, report_r))
result = [int(os.read(report_r, 100)) for _, report_r in children]
result.append(len(grab()) * 16)  # the parent's own share, while the children still hold theirs
os.close(go_w)
for pid, _ in children:
    os.waitpid(pid, 0)
"""


def test_processes_grabbing_all_they_can_share_one_budget(tool_context, settings):
    """Every process of the run holding as much as it can, at once: the sum stays within the total."""
    from tools.sandbox_limits import budget

    settings.AGENT_CODE_MEMORY_MB = 512
    if budget().mode == "cgroup":  # the kernel counts the run as a whole and kills what goes over
        with pytest.raises(ToolError, match=r"code ran out of memory \(its limit is 512 MB in all"):
            run_code(tool_context, GREEDY_RUN, timeoutS=30)
        return
    out = run_code(tool_context, GREEDY_RUN, timeoutS=30)

    shares = out["result"]
    assert len(shares) >= 2 and all(share > 0 for share in shares)  # it did fork and each got some
    assert sum(shares) <= 512, f"the run held {sum(shares)} MB at once: {shares}"
    limits = out["limits"]
    assert limits["mode"] == "rlimit" and limits["memoryMB"] == 512
    assert limits["processes"] * limits["processMemoryMB"] <= 512


def test_memory_outside_the_address_space_is_refused(tool_context, settings):
    """A memfd's pages are written, never mapped: RLIMIT_AS did not count them (600 MB under 512)."""
    settings.AGENT_CODE_MEMORY_MB = 512
    failed = run_failing(tool_context, """
import os
fds = []
for i in range(40):
    fd = os.memfd_create('x')
    for _ in range(15):
        os.write(fd, b'x' * 1024 * 1024)
    fds.append(fd)
print('kept', len(fds) * 15, 'MB')
""")

    assert "PermissionError: [Errno 1] Operation not permitted" in failed.stderr
    assert "kept" not in failed.stdout


def test_an_unguarded_fork_bomb_fails_naming_the_process_limit(tool_context, settings):
    settings.AGENT_CODE_MAX_PROCESSES = 8
    before = runner_pids()
    failed = run_failing(tool_context, "import os, time\nwhile True:\n    if os.fork() == 0:\n"
                         "        time.sleep(60)", timeoutS=20)

    assert str(failed).startswith("code raised BlockingIOError (exit code 1); a new process was refused: "
                                  "the run's limit is ")
    assert_no_sandbox_left(before)


def test_a_configured_cgroup_that_cannot_bound_the_run_runs_nothing(tool_context, settings, tmp_path):
    settings.AGENT_CODE_CGROUP = str(tmp_path)
    marker = tmp_path / "ran"
    with pytest.raises(ToolError, match=r"AGENT_CODE_CGROUP=.* is not a cgroup v2 directory"):
        run_code(tool_context, f"open({str(marker)!r}, 'w').write('ran')")
    (tmp_path / "cgroup.controllers").write_text("cpu io memory pids\n")
    (tmp_path / "cgroup.subtree_control").write_text("cpu\n")
    with pytest.raises(ToolError, match=r"does not hand the memory and pids controller\(s\) to its children"):
        run_code(tool_context, "print(1)")

    assert not marker.exists()


def test_an_endless_wait_is_killed_at_the_wall_clock_limit(tool_context):
    before = runner_pids()
    started = time.monotonic()
    with pytest.raises(ToolError, match=r"code ran past its 1 s wall-clock limit and was killed"):
        run_code(tool_context, "import os, time\nif os.fork() == 0:\n    time.sleep(600)\nwhile True:\n"
                 "    time.sleep(1)", timeoutS=1)

    assert time.monotonic() - started < 5
    assert_no_sandbox_left(before)  # the forked child died with it


def test_a_cpu_loop_is_killed_at_the_cpu_limit(tool_context, settings):
    settings.AGENT_CODE_CPU_S = 1
    started = time.monotonic()
    with pytest.raises(ToolError, match=r"code used up its 1 s CPU-time limit and was killed"):
        run_code(tool_context, "while True:\n    pass", timeoutS=20)

    assert time.monotonic() - started < 10


def test_huge_output_is_truncated_without_filling_the_workers_memory(tool_context):
    tracemalloc.start()
    try:
        out = run_code(tool_context, "import sys\nchunk = 'x' * 1_000_000\nfor _ in range(100):\n"
                       "    sys.stdout.write(chunk)")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert out["stdoutTruncated"] is True and out["exitCode"] == 0
    assert out["stdout"].startswith("x" * 65536)
    assert out["stdout"].endswith("[... truncated: 100000000 bytes in all, the first 65536 shown]")
    assert peak < 10 * 1024 * 1024, f"reading 100 MB of output peaked at {peak} bytes"


def test_writes_stay_inside_the_scratch_directory(tool_context):
    name = f"escape-{uuid.uuid4().hex}"
    targets = [f"/tmp/{name}", str(REPO / name), f"/{name}", f"/usr/lib/{name}"]
    out = run_code(tool_context, f"""
import errno
for path in {targets!r}:
    try:
        open(path, 'w').write('x')
        print('wrote')
    except OSError as exc:
        print(errno.errorcode[exc.errno])
open('own.txt', 'w').write('mine')
print(open('own.txt').read())
""")

    # no /tmp and no repo inside; the sandbox's own root is read-only; its working directory is not
    assert out["stdout"].split() == ["ENOENT", "ENOENT", "EROFS", "EROFS", "mine"]
    for target in targets:
        assert not Path(target).exists()


def test_the_workers_environment_is_invisible(tool_context, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-secret-test")
    out = run_code(tool_context, """
import os
print(sorted(os.environ))
for path in ('/proc/1/environ', '/proc/self/environ'):
    try:
        print(open(path, 'rb').read())
    except OSError as exc:
        print(type(exc).__name__)
""")

    assert "sk-secret-test" not in out["stdout"] + out["stderr"]
    assert out["stdout"].split("\n")[1:3] == ["FileNotFoundError", "FileNotFoundError"]
    assert "ANTHROPIC_API_KEY" not in out["stdout"]


def test_without_bubblewrap_nothing_runs(tool_context, settings, tmp_path):
    settings.AGENT_CODE_BWRAP = str(tmp_path / "no-bwrap")
    marker = tmp_path / "ran"
    with pytest.raises(ToolError, match="needs bubblewrap"):
        run_code(tool_context, f"open({str(marker)!r}, 'w').write('ran')")

    assert not marker.exists()


def test_code_and_inputs_are_bounded(tool_context):
    with pytest.raises(ToolError, match=r"inputs are \d+ bytes of JSON, over the 1000000-byte limit"):
        run_code(tool_context, "print(1)", inputs=["x" * 1_000_001])
    with pytest.raises(ToolError, match="code"):
        run_code(tool_context, "x" * 100_001)


@pytest.mark.skipif(os.geteuid() != 0, reason="only a root worker hands the sandbox to nobody")
def test_a_root_worker_runs_the_sandbox_as_nobody_outside_too(tool_context):
    before = runner_pids()
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(run_code, tool_context, "import os, time\ntime.sleep(1.5)\nresult = os.getuid()")
        deadline = time.monotonic() + 5
        while not runner_pids() - before and time.monotonic() < deadline:
            time.sleep(0.02)
        uids = {int(line.split()[1]) for pid in runner_pids() - before
                for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("Uid:")}
        assert future.result()["result"] == 65534

    assert uids == {65534}  # as the host sees it, not only inside its user namespace
