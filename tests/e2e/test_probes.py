"""Probes as an orchestrator reads them, on real processes: `/livez` answers while the process
serves whatever is down, `/readyz` (and `/healthz`, its alias) only while Temporal answers and
a worker polls; a worker's own `/livez`, `/readyz` and `/metrics` on its metrics address; and
SIGTERM lets a request in flight finish."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from cli import embedded_temporal
from settings import Settings
from tests.e2e.test_slaflow_up import Product
from tests.support.ports import free_port
from tests.support.processes import Processes, wait_for
from tests.support.receiver import Receiver

# Not a customer other tests count tickets of (they share the dev server's visibility).
CUSTOMER = "probes"


def status(url: str) -> tuple[int, Any]:
    """(status, JSON body) of GET `url`; (0, None) while nothing answers there."""
    try:
        answer = httpx.get(url, timeout=10)
    except httpx.TransportError:
        return 0, None
    body = answer.json() if answer.headers.get("content-type") == "application/json" else None
    return answer.status_code, body


@pytest.fixture
def stoppable(tmp_path: Path) -> Iterator[tuple[Processes, Any]]:
    """slaflow processes (none started yet) on a Temporal dev server of their own, which the
    test may stop: (processes, the server's process)."""
    settings = Settings(data_dir=tmp_path / "temporal", temporal_port=free_port(), ui=False)
    with embedded_temporal(settings) as server:
        running = Processes(tmp_path, f"127.0.0.1:{settings.temporal_port}")
        try:
            yield running, server
        finally:
            running.kill_all()


def test_liveness_holds_and_readiness_follows_temporal(stoppable: tuple[Processes, Any]) -> None:
    processes, server = stoppable
    probes = f"http://127.0.0.1:{free_port()}"
    processes.env["SLAFLOW_WORKER_METRICS_ADDRESS"] = probes.removeprefix("http://")
    processes.start("worker")
    processes.start("api")
    api = processes.url

    wait_for(lambda: status(f"{probes}/readyz")[0] == 200, seconds=60)
    ready = status(f"{probes}/readyz")[1]
    assert ready == {
        "status": "ok",
        "temporal": "reachable",
        "pollers": {"workflow": True, "activity": True},
        "store": "ok",
    }
    assert status(f"{probes}/livez") == (200, {"status": "ok"})
    assert "slaflow_escalations_total" in httpx.get(f"{probes}/metrics").text
    wait_for(lambda: status(f"{api}/readyz")[0] == 200, seconds=60)
    assert status(f"{api}/readyz") == status(f"{api}/healthz")
    assert status(f"{api}/livez") == (200, {"status": "ok"})

    server.terminate()
    server.wait(timeout=15)
    # Readiness goes with Temporal; liveness stays, so nothing is restarted for a blip.
    wait_for(lambda: status(f"{api}/readyz")[0] == 503, seconds=30)
    assert status(f"{api}/readyz")[1]["status"] == "unavailable"
    assert status(f"{api}/healthz")[0] == 503
    assert status(f"{api}/livez") == (200, {"status": "ok"})
    wait_for(lambda: status(f"{probes}/readyz")[0] == 503, seconds=30)
    answer = status(f"{probes}/readyz")[1]
    assert answer["temporal"] == "unreachable" and answer["status"] == "unavailable", answer
    assert status(f"{probes}/livez") == (200, {"status": "ok"})


def test_a_worker_serves_liveness_while_it_waits_for_temporal(processes: Processes) -> None:
    probes = f"http://127.0.0.1:{free_port()}"
    processes.env["SLAFLOW_WORKER_METRICS_ADDRESS"] = probes.removeprefix("http://")
    processes.env["TEMPORAL_ADDRESS"] = f"127.0.0.1:{free_port()}"  # nothing listens there
    processes.start("worker")
    wait_for(lambda: status(f"{probes}/livez")[0] == 200, seconds=30)
    assert status(f"{probes}/readyz") == (503, {"status": "starting"})


def test_sigterm_lets_a_request_in_flight_finish(processes: Processes) -> None:
    processes.env["SLAFLOW_MAX_REQUEST_SECONDS"] = "50"
    processes.start("api")  # no worker yet: an action waits for one
    wait_for(lambda: status(f"{processes.url}/livez")[0] == 200, seconds=60)
    with httpx.Client(base_url=processes.url, timeout=60) as http:
        opened = http.post(
            "/tickets", json={"title": "t", "priority": "P2", "customer_id": CUSTOMER}
        )
        assert opened.status_code == 201, opened.text
        ticket_id = opened.json()["ticket_id"]
        answers: list[httpx.Response] = []
        respond = threading.Thread(
            target=lambda: answers.append(
                http.post(f"/tickets/{ticket_id}/respond", json={"agent_id": "alice"})
            )
        )
        respond.start()
        time.sleep(1)  # the request is in the API, which waits for a worker to take it
        processes.send("api", signal.SIGTERM)
        # The API takes no new connection, and still answers the one in flight once a worker
        # takes the update.
        wait_for(lambda: status(f"{processes.url}/livez")[0] == 0, seconds=10)
        processes.start("worker")
        respond.join(timeout=60)
    assert answers and answers[0].status_code == 200, answers
    assert answers[0].json()["ticket_id"] == ticket_id
    assert processes.running["api"].wait(timeout=30) == 0


def listening_on_every_interface(port: int) -> bool:
    """Some socket listens on 0.0.0.0:`port` (/proc/net/tcp: state 0A, address in hex)."""
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return any(row.split()[1] == f"00000000:{port:04X}" and row.split()[3] == "0A" for row in rows)


def test_worker_and_sdk_metrics_on_every_interface(processes: Processes) -> None:
    ours, sdk = free_port(), free_port()
    processes.env["SLAFLOW_WORKER_METRICS_ADDRESS"] = f"0.0.0.0:{ours}"
    processes.env["SLAFLOW_SDK_METRICS_ADDRESS"] = f"0.0.0.0:{sdk}"
    processes.start("worker")
    wait_for(lambda: status(f"http://127.0.0.1:{ours}/readyz")[0] == 200, seconds=60)
    assert listening_on_every_interface(ours) and listening_on_every_interface(sdk)
    assert "slaflow_breaches_total" in httpx.get(f"http://127.0.0.1:{ours}/metrics").text
    wait_for(lambda: "temporal_" in httpx.get(f"http://127.0.0.1:{sdk}/metrics").text)


def test_the_older_port_still_serves_on_loopback(processes: Processes) -> None:
    port = free_port()
    processes.env["SLAFLOW_WORKER_METRICS_PORT"] = str(port)
    processes.start("worker")
    wait_for(lambda: status(f"http://127.0.0.1:{port}/readyz")[0] == 200, seconds=60)
    assert not listening_on_every_interface(port)


def test_sigterm_lets_a_running_activity_finish(
    processes: Processes, receiver: Callable[..., Receiver], dev_env: WorkflowEnvironment
) -> None:
    hook = receiver(200, hang=True)  # holds the delivery's request: the activity is running
    processes.configure(WARNING_ONLY.format(url=hook.url))
    api = processes.up()
    api.post("/tickets", json={"title": "Down", "priority": "P1", "customer_id": CUSTOMER})
    wait_for(lambda: hook.received, seconds=30)

    processes.send("worker", signal.SIGTERM)
    time.sleep(1)
    hook.release()  # the receiver answers now, after the worker was told to stop
    assert processes.running["worker"].wait(timeout=30) == 0

    async def deliveries_sent() -> list[bool]:
        """Per `deliver` activity of this queue's deliveries: whether it completed."""
        queue = processes.env["SLAFLOW_TASK_QUEUE"]
        query = f"WorkflowType = 'Delivery' AND TaskQueue = '{queue}'"
        sent = []
        async for found in dev_env.client.list_workflows(query):
            history = await dev_env.client.get_workflow_handle(found.id).fetch_history()
            delivers = {
                e.event_id
                for e in history.events
                if e.activity_task_scheduled_event_attributes.activity_type.name == "deliver"
            }
            completed = {
                e.activity_task_completed_event_attributes.scheduled_event_id
                for e in history.events
                if e.HasField("activity_task_completed_event_attributes")
            }
            sent += [scheduled in completed for scheduled in delivers]
        return sent

    sent: list[bool] = []
    wait_for(lambda: sent.extend(asyncio.run(deliveries_sent())) or sent, seconds=20)
    assert sent == [True]  # finished inside the grace period, not cancelled by the shutdown
    assert len(hook.received) == 1


def test_past_the_grace_a_running_activity_is_cancelled_and_the_worker_stops(
    processes: Processes, receiver: Callable[..., Receiver]
) -> None:
    processes.env["SLAFLOW_GRACEFUL_SHUTDOWN"] = "1s"
    hook = receiver(200, hang=True)  # answers only when the test ends (or after 10 s)
    processes.configure(WARNING_ONLY.format(url=hook.url))
    api = processes.up()
    api.post("/tickets", json={"title": "Down", "priority": "P1", "customer_id": CUSTOMER})
    wait_for(lambda: hook.received, seconds=30)

    processes.send("worker", signal.SIGTERM)
    stopping = time.monotonic()
    assert processes.running["worker"].wait(timeout=30) == 0
    # The activity had its second, then was cancelled: the worker is not held by it.
    assert 1 <= time.monotonic() - stopping < 8


WARNING_ONLY = """
default_policy: standard
notifications:
  webhooks:
    - {{name: ops, url: "{url}", secret: "s3cret", events: [warning]}}
policies:
  standard:
    warn_at: [0.5]
    targets:
      P1: {{response: 2s, resolution: 1h}}
      P2: {{response: 1h, resolution: 8h}}
      P3: {{response: 4h, resolution: 24h}}
"""


def test_slaflow_up_serves_the_worker_probes_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    probes = f"127.0.0.1:{free_port()}"
    monkeypatch.setenv("SLAFLOW_WORKER_METRICS_ADDRESS", probes)
    product = Product(tmp_path)
    try:
        product.start()  # until the API's /healthz answers 200
        wait_for(lambda: status(f"http://{probes}/readyz")[0] == 200, seconds=30)
        assert status(f"{product.url}/readyz")[0] == 200
        assert status(f"{product.url}/livez") == (200, {"status": "ok"})
        assert status(f"http://{probes}/livez") == (200, {"status": "ok"})
        assert product.stop(signal.SIGTERM) == 0
    finally:
        if product.process is not None and product.process.poll() is None:
            product.stop(signal.SIGKILL)
