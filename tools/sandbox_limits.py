"""sandbox_limits: bound a code run's memory and processes as a whole, not per process.

With a delegated cgroup v2 directory (AGENT_CODE_CGROUP) each run gets its own child
cgroup (memory.max, pids.max); without one the per-process limits are split so that their
product stays within the total. A run must never get more than AGENT_CODE_MEMORY_MB in all.
"""
from __future__ import annotations

import logging
import os
import platform
import struct
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import setting
from .errors import ToolError

log = logging.getLogger(__name__)
MB = 1024 * 1024
SANDBOX_UID = 65534


@dataclass(frozen=True)
class Budget:
    """What one run may use in all, and how that is enforced."""

    mode: str  # "cgroup": the kernel counts the whole run; "rlimit": per-process limits split the total
    memory: int  # bytes, every process of the run together
    processes: int
    process_memory: int  # RLIMIT_AS of each process
    cgroup_parent: Path | None = None

    def describe(self) -> dict[str, Any]:
        return {"mode": self.mode, "memoryMB": self.memory // MB, "processes": self.processes,
                "processMemoryMB": self.process_memory // MB}

    def phrase(self) -> str:
        if self.mode == "cgroup":
            return f"{self.memory // MB} MB in all, up to {self.processes} processes"
        return (f"{self.memory // MB} MB in all: up to {self.processes} processes of "
                f"{self.process_memory // MB} MB each")


def _check_cgroup_parent(path: Path) -> None:
    """Refuse a configured cgroup that cannot bound a run (the operator asked for it: no silent fallback)."""
    where = f"AGENT_CODE_CGROUP={path}"
    if not (path / "cgroup.controllers").is_file():
        raise ToolError(f"{where} is not a cgroup v2 directory; the code tool does not run without the limit asked for")
    enabled = (path / "cgroup.subtree_control").read_text().split()
    missing = [name for name in ("memory", "pids") if name not in enabled]
    if missing:
        raise ToolError(f"{where} does not hand the {' and '.join(missing)} controller(s) to its children "
                        f"(write '+{' +'.join(missing)}' to its cgroup.subtree_control)")
    if not os.access(path, os.W_OK):
        raise ToolError(f"{where} is not writable by this worker, so it cannot make a cgroup per run")


_announced: set[str] = set()


def budget() -> Budget:
    """The run's budget from the settings; the mode is logged once per worker."""
    memory = setting("AGENT_CODE_MEMORY_MB", 512) * MB
    processes = setting("AGENT_CODE_MAX_PROCESSES", 32)
    configured = setting("AGENT_CODE_CGROUP", "")
    if configured:
        parent = Path(configured)
        _check_cgroup_parent(parent)
        chosen = Budget("cgroup", memory, processes, memory, parent)
    else:
        processes = max(1, min(processes, setting("AGENT_CODE_RLIMIT_MAX_PROCESSES", 4)))
        chosen = Budget("rlimit", memory, processes, memory // processes)
    if chosen.phrase() not in _announced:
        _announced.add(chosen.phrase())
        log.info("code sandbox limits: %s mode, %s", chosen.mode, chosen.phrase())
    return chosen


class RunCgroup:
    """One run's own cgroup: made before the sandbox starts, emptied and removed after it ends."""

    def __init__(self, parent: Path, memory: int, processes: int):
        self.path = parent / f"xantuus-run-{uuid.uuid4().hex[:16]}"
        self.path.mkdir()
        try:
            (self.path / "memory.max").write_text(str(memory))
            if (self.path / "memory.swap.max").exists():
                (self.path / "memory.swap.max").write_text("0")  # swap would be memory beyond the limit
            # bwrap's own two processes (outside and pid 1 inside) live in the cgroup as well
            (self.path / "pids.max").write_text(str(processes + 2))
            self.procs = os.open(self.path / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC)
        except BaseException:
            self.path.rmdir()
            raise
        self.oom_kills = self.pids_refused = 0

    def enter_and_drop(self) -> None:
        """preexec_fn of the sandbox: join the cgroup while still the worker's user, then become nobody."""
        os.write(self.procs, b"0")
        if os.geteuid() == 0:
            os.setgroups([])
            os.setgid(SANDBOX_UID)
            os.setuid(SANDBOX_UID)

    def close(self) -> None:
        """Kill whatever is left, keep the counters that say why the run died, remove the cgroup."""
        os.close(self.procs)
        if (self.path / "cgroup.kill").exists():
            (self.path / "cgroup.kill").write_text("1")
        deadline = time.monotonic() + 5
        while "populated 1" in (self.path / "cgroup.events").read_text() and time.monotonic() < deadline:
            time.sleep(0.01)
        self.oom_kills = _counter(self.path / "memory.events", "oom_kill")
        self.pids_refused = _counter(self.path / "pids.events", "max")
        self.path.rmdir()


def _counter(path: Path, name: str) -> int:
    for line in path.read_text().splitlines():
        key, _, value = line.partition(" ")
        if key == name:
            return int(value)
    return 0


# A seccomp filter (classic BPF) that answers EPERM to memfd_create: a memfd's pages are
# written, never mapped, so RLIMIT_AS does not count them (one process kept 600 MB that way).
_MEMFD_CREATE = {  # machine -> (audit arch, syscall numbers) for every ABI a process of it can call
    "x86_64": ((0xC000003E, (319, 0x40000000 | 319)), (0x40000003, (356,))),  # x86_64, x32, i386
    "aarch64": ((0xC00000B7, (279,)), (0x40000028, (385,))),  # arm64, arm (compat)
}
_LD_ABS, _JEQ, _RET = 0x20, 0x15, 0x06
_ALLOW, _EPERM = 0x7FFF0000, 0x00050000 | 1


def memfd_filter() -> bytes:
    """The filter program for this machine, for bwrap --seccomp."""
    arches = _MEMFD_CREATE.get(platform.machine())
    if arches is None:
        raise ToolError(f"the code sandbox has no seccomp filter for {platform.machine()} (only x86_64 and aarch64)")
    program: list[tuple[int, int, int, int]] = []
    blocks = [(arch, numbers) for arch, numbers in arches]
    length = sum(3 + len(numbers) for _, numbers in blocks) + 2  # + allow + deny at the end
    for arch, numbers in blocks:
        program += [(_LD_ABS, 0, 0, 4), (_JEQ, 0, len(numbers) + 1, arch), (_LD_ABS, 0, 0, 0)]
        for number in numbers:
            program.append((_JEQ, length - 1 - len(program) - 1, 0, number))  # to the deny at the end
    program += [(_RET, 0, 0, _ALLOW), (_RET, 0, 0, _EPERM)]
    return b"".join(struct.pack("HBBI", *instruction) for instruction in program)
