"""Start and stop what the benchmarks drive: bare dev servers, the raw worker, `slaflow up`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from bench.http import HttpClient
from cli import dev_server_args, die_with_parent
from settings import Settings

LOOPBACK = "127.0.0.1"
BIN = Path(sys.executable).parent
RAW_TASK_QUEUE = "bench-raw"
START_SECONDS = 60.0

# The embedded server's journal settings (measurement 7); "wal+normal" is what slaflow runs.
SQLITE_MODES: dict[str, list[str]] = {
    "default": [],
    "wal+normal": ["journal_mode=wal", "synchronous=normal"],
    "wal+full": ["journal_mode=wal", "synchronous=full"],
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without SLAFLOW_*/TEMPORAL_*: nothing may point a stack elsewhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLAFLOW_", "TEMPORAL_"))}
    env.update(extra)
    return env


def server_args(data_dir: Path, port: int, mode: str = "wal+normal") -> list[str]:
    """slaflow's own dev-server flags (cli.dev_server_args), with the SQLite pragmas of `mode`."""
    base = dev_server_args(Settings(data_dir=data_dir, temporal_port=port, ui=False))
    pragmas = {i for i, arg in enumerate(base) if arg == "--sqlite-pragma"}
    args = [arg for i, arg in enumerate(base) if not {i, i - 1} & pragmas]
    return args + [arg for pragma in SQLITE_MODES[mode] for arg in ("--sqlite-pragma", pragma)]


# -- processes ----------------------------------------------------------------------------


def rss_mb(pid: int) -> float:
    """Resident memory of one process (VmRSS), in MB; 0 if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (all its threads), in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError):
            if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def spawn(args: Sequence[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A child in its own process group, so stopping it stops what it started too."""
    with log.open("ab") as out:
        return subprocess.Popen(
            list(args),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )


def stop(process: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """SIGTERM to the group, then SIGKILL to whatever of it is left."""
    with contextlib.suppress(ProcessLookupError):
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


async def connect(port: int, process: subprocess.Popen[bytes]) -> Client:
    deadline = time.monotonic() + START_SECONDS
    while True:
        try:
            return await Client.connect(f"{LOOPBACK}:{port}")
        except RuntimeError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the dev server on {port} did not start") from None
            await asyncio.sleep(0.2)


async def wait_for_poller(client: Client, task_queue: str) -> None:
    deadline = time.monotonic() + START_SECONDS
    request = DescribeTaskQueueRequest(
        namespace=client.namespace,
        task_queue=TaskQueue(name=task_queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    )
    while time.monotonic() < deadline:
        if (await client.workflow_service.describe_task_queue(request)).pollers:
            return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"no worker polls {task_queue}")


# -- stacks -------------------------------------------------------------------------------


@dataclass
class Stack:
    """A running stack: its Temporal client and the pids whose memory and CPU are read."""

    client: Client
    data_dir: Path
    server: int  # the dev server's pid
    worker: int  # the raw worker's, or the `slaflow up` process's (worker and API)

    def rss(self) -> tuple[float, float]:
        """(worker, server) resident memory in MB."""
        return round(rss_mb(self.worker), 1), round(rss_mb(self.server), 1)


@dataclass
class SlaflowStack(Stack):
    http: HttpClient


@contextlib.asynccontextmanager
async def raw_stack(mode: str = "wal+normal", cached: int = 10_000) -> AsyncIterator[Stack]:
    """A bare dev server with slaflow's flags and the raw worker in its own process."""
    with tempfile.TemporaryDirectory(prefix="slaflow-bench-raw-") as tmp:
        data = Path(tmp)
        port = free_port()
        server = spawn(server_args(data, port, mode), data / "server.log", clean_env())
        worker: subprocess.Popen[bytes] | None = None
        try:
            client = await connect(port, server)
            worker = spawn(
                [
                    sys.executable, "-m", "bench.raw",
                    "--address", f"{LOOPBACK}:{port}",
                    "--task-queue", RAW_TASK_QUEUE,
                    "--escalations", str(data / "escalations.txt"),
                    "--max-cached", str(cached),
                ],
                data / "worker.log",
                clean_env(),
            )  # fmt: skip
            await wait_for_poller(client, RAW_TASK_QUEUE)
            yield Stack(client, data, server.pid, worker.pid)
        finally:
            if worker is not None:
                stop(worker)
            stop(server)


@contextlib.asynccontextmanager
async def slaflow_stack(
    config: Path | None = None, env: dict[str, str] | None = None, connections: int = 256
) -> AsyncIterator[SlaflowStack]:
    """`slaflow up --no-ui` on free ports in a temporary data dir: server, worker and API."""
    with tempfile.TemporaryDirectory(prefix="slaflow-bench-up-") as tmp:
        data = Path(tmp)
        api_port, temporal_port = free_port(), free_port()
        args = [
            str(BIN / "slaflow"), "up", "--no-ui",
            "--data-dir", str(data),
            "--api-port", str(api_port),
            "--temporal-port", str(temporal_port),
        ]  # fmt: skip
        if config is not None:
            args += ["--config", str(config)]
        up = spawn(args, data / "slaflow.log", clean_env(**(env or {})))
        http = HttpClient(LOOPBACK, api_port, connections)
        try:
            client = await connect(temporal_port, up)
            await wait_healthy(http, up)
            servers = children(up.pid)
            if len(servers) != 1:
                raise RuntimeError(f"expected one dev server under slaflow up, found {servers}")
            yield SlaflowStack(client, data, servers[0], up.pid, http)
        finally:
            await http.close()
            stop(up)


async def wait_healthy(http: HttpClient, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"slaflow up exited with {process.returncode}")
        with contextlib.suppress(OSError, asyncio.TimeoutError, ConnectionError):
            if (await http.get("/healthz"))[0] == 200:
                return
        await asyncio.sleep(0.2)
    raise RuntimeError("slaflow up never became healthy")
