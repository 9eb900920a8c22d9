"""sandbox_io: read a sandbox's output streams to their end, keeping only what each cap allows.

It must never hold more of a stream in memory than its cap, however much the code writes.
"""
from __future__ import annotations

import json
import os
import selectors
import subprocess
import time
from typing import Any


class Capture:
    """Keeps the first `cap` bytes of a stream and only counts the rest."""

    def __init__(self, cap: int):
        self.cap, self.data, self.total = cap, bytearray(), 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        if len(self.data) < self.cap:
            self.data += chunk[: self.cap - len(self.data)]

    @property
    def truncated(self) -> bool:
        return self.total > self.cap

    def text(self) -> str:
        text = self.data.decode("utf-8", errors="replace")
        if self.truncated:
            text += f"\n[... truncated: {self.total} bytes in all, the first {self.cap} shown]"
        return text


def collect(proc: subprocess.Popen[bytes], captures: dict[int, Capture], deadline: float) -> bool:
    """Read every stream until EOF, keeping only what each cap allows; False past the deadline."""
    with selectors.DefaultSelector() as selector:
        for fd, capture in captures.items():
            os.set_blocking(fd, False)
            selector.register(fd, selectors.EVENT_READ, capture)
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            for key, _ in selector.select(remaining):
                chunk = os.read(key.fd, 65536)
                if chunk:
                    key.data.add(chunk)
                else:
                    selector.unregister(key.fd)
    try:
        proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        return False
    return True


def status_fields(capture: Capture) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for line in capture.data.decode("utf-8", errors="replace").splitlines():
        try:
            fields = json.loads(line)
        except ValueError:
            continue
        if isinstance(fields, dict):
            merged.update(fields)
    return merged
