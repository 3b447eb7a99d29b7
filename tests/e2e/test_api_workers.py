"""`slaflow api` with SLAFLOW_API_WORKERS=2: two uvicorn processes serve one API, and stop
together on SIGTERM."""

from __future__ import annotations

import signal

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.processes import Processes, children, cmdline, gone, wait_for


def test_two_api_processes_serve_tickets_and_stop_with_their_supervisor(
    processes: Processes,
) -> None:
    processes.env["SLAFLOW_API_WORKERS"] = "2"
    client = processes.up()
    api = processes.running["api"]
    # uvicorn spawns its servers with multiprocessing (beside a resource tracker).
    servers = [p for p in children(api.pid) if "multiprocessing.spawn" in cmdline(p)]
    assert len(servers) == 2

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


def opened_p2(text: str) -> float:
    """slaflow_tickets_opened_total{priority="P2"} in a Prometheus text, 0 if absent."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "slaflow_tickets_opened_total" and sample.labels == {
                "priority": "P2"
            }:
                return sample.value
    return 0.0


def test_any_api_process_answers_metrics_with_the_sum_of_all(processes: Processes) -> None:
    processes.env["SLAFLOW_API_WORKERS"] = "2"
    processes.up().close()
    for n in range(8):  # a connection each: the kernel spreads them over both processes
        opened = httpx.post(
            f"{processes.url}/tickets",
            json={"title": f"t{n}", "priority": "P2", "customer_id": "metrics-sum"},
            timeout=60,
        )
        assert opened.status_code == 201, opened.text
    # Each scrape on a new connection, so both processes answer some: every answer is the sum.
    scraped = {opened_p2(httpx.get(f"{processes.url}/metrics", timeout=30).text) for _ in range(8)}
    assert scraped == {8.0}
    assert "slaflow_store_up 1.0" in httpx.get(f"{processes.url}/metrics", timeout=30).text
