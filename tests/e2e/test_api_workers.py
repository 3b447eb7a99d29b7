"""`slaflow api` with SLAFLOW_API_WORKERS=2: two uvicorn processes serve one API, and stop
together on SIGTERM."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx

from tests.e2e import test_contract_month
from tests.e2e.test_contract_month import Processes, healthy
from tests.e2e.test_slaflow_up import gone, wait_for

processes = test_contract_month.processes  # the same fixture: worker and API processes


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_two_api_processes_serve_tickets_and_stop_with_their_supervisor(
    processes: Processes,
) -> None:
    processes.env["SLAFLOW_API_WORKERS"] = "2"
    processes.start("worker")
    processes.start("api")
    api = processes.running["api"]
    wait_for(lambda: healthy(processes.url), seconds=60)
    # uvicorn spawns its servers with multiprocessing (beside a resource tracker).
    servers = [p for p in children(api.pid) if "multiprocessing.spawn" in _cmdline(p)]
    assert len(servers) == 2

    client = httpx.Client(base_url=processes.url, timeout=60)
    ids = []
    for n in range(6):  # new connections: the kernel spreads them over both processes
        opened = client.post(
            "/tickets", json={"title": f"t{n}", "priority": "P2", "customer_id": "acme"}
        )
        assert opened.status_code == 201, opened.text
        ids.append(opened.json()["ticket_id"])
    for ticket_id in ids:
        read = httpx.get(f"{processes.url}/tickets/{ticket_id}", timeout=60)
        assert read.status_code == 200 and read.json()["status"] == "open"

    processes.running.pop("api")
    api.send_signal(signal.SIGTERM)
    api.wait(timeout=30)
    wait_for(lambda: all(gone(p) for p in servers), seconds=30)


def _cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""
