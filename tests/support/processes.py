"""`slaflow` as real processes, and waiting on processes: ready, gone, their children."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.support.http import API_CONFIG
from tests.support.ports import free_port

BIN = Path(sys.executable).parent  # the venv's scripts: slaflow, temporal, st
SLAFLOW = str(BIN / "slaflow")


def wait_for(predicate: Callable[[], Any], seconds: float = 30) -> None:
    """Until `predicate()` is truthy; fails the test past `seconds`."""
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.2)


def _stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat after the command name (state, ppid, ...); None once the pid is gone."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def gone(pid: int) -> bool:
    """No such process, or a zombie waiting for its reaper."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = _stat(pid)
    return stat is None or stat[0] == "Z"


def children(pid: int) -> list[int]:
    """The pids whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and int(stat[1]) == pid:
                found.append(int(entry.name))
    return found


def cmdline(pid: int) -> str:
    """The process's command line, '' once it is gone."""
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def healthy(url: str) -> bool:
    """GET `url`/healthz answers 200 now."""
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def wait_healthy(
    url: str, process: subprocess.Popen[bytes] | None = None, seconds: float = 60
) -> None:
    """Until `url` is healthy; fails at once if `process` (what serves it) exits first."""

    def up() -> bool:
        assert process is None or process.poll() is None, f"{process.args} exited early"
        return healthy(url)

    wait_for(up, seconds)


class Processes:
    """`slaflow worker` and `slaflow api` as separate processes against one Temporal, as in the
    distributed setup, sharing a SQLite store in `tmp`. The config is the API tests' one until
    `configure` writes another."""

    def __init__(self, tmp: Path, temporal: str) -> None:
        self.tmp = tmp
        self.database = tmp / "slaflow.sqlite3"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "TEMPORAL_ADDRESS": temporal,
            "SLAFLOW_CONFIG": str(API_CONFIG),
            "SLAFLOW_DATA_DIR": str(tmp),
            "SLAFLOW_TASK_QUEUE": f"processes-{uuid.uuid4().hex[:8]}",
            "SLAFLOW_API_PORT": str(self.port),
        }
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def configure(self, config: str) -> None:
        """The processes started from now on read this YAML config."""
        path = self.tmp / "sla.yaml"
        path.write_text(config)
        self.env["SLAFLOW_CONFIG"] = str(path)

    def start(self, command: str) -> None:
        self.running[command] = subprocess.Popen([SLAFLOW, command], env=self.env)

    def wait_healthy(self, seconds: float = 60) -> None:
        wait_healthy(self.url, self.running.get("api"), seconds)

    def up(self) -> httpx.Client:
        """Starts the worker and the API; once healthy, a client to the API (with a generous
        timeout: a busy shared server is slow)."""
        self.start("worker")
        self.start("api")
        self.wait_healthy()
        return httpx.Client(base_url=self.url, timeout=60)

    def kill(self, command: str) -> None:
        process = self.running.pop(command)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def send(self, command: str, sig: signal.Signals) -> None:
        """A signal to a running process (SIGHUP: reload the config file)."""
        self.running[command].send_signal(sig)

    def kill_all(self) -> None:
        for command in list(self.running):
            self.kill(command)

    def rows(self, query: str) -> list[tuple[Any, ...]]:
        """The rows of a query on the shared store; none while it is not migrated yet."""
        if not self.database.exists():
            return []
        with sqlite3.connect(self.database, timeout=10) as db:
            try:
                return db.execute(query).fetchall()
            except sqlite3.OperationalError:  # tables not migrated yet
                return []
