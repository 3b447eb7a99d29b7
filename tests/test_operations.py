"""What an operator sets for running slaflow apart (docs/api.md, "Health and metrics"): the
metrics addresses (and the older ports), the log level and the graceful shutdown, each bad value
refused by name; a worker's metrics address already taken stops it with a clear line."""

from __future__ import annotations

import socket
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from temporalio.testing import WorkflowEnvironment

from settings import Settings
from tests.test_cli import slaflow
from worker import build_worker
from worker_probes import bind


@pytest.mark.parametrize("address", ["0.0.0.0:9464", "127.0.0.1:1", "[::]:9464", "[::1]:80"])
def test_a_metrics_address_is_an_ip_and_a_port(address: str) -> None:
    settings = Settings(worker_metrics_address=address, sdk_metrics_address=address)
    assert settings.worker_metrics_address == settings.sdk_metrics_address == address


@pytest.mark.parametrize(
    "address", ["localhost:9464", "0.0.0.0", "0.0.0.0:0", "0.0.0.0:65536", "::1:80", ":9464"]
)
def test_anything_else_is_refused_naming_the_form(address: str) -> None:
    with pytest.raises(ValidationError, match="is not host:port with an IP address"):
        Settings(worker_metrics_address=address)


def test_the_older_ports_mean_loopback_addresses() -> None:
    settings = Settings(worker_metrics_port=9100, sdk_metrics_port=9101)
    assert settings.worker_metrics_address == "127.0.0.1:9100"
    assert settings.sdk_metrics_address == "127.0.0.1:9101"
    same = Settings(worker_metrics_port=9100, worker_metrics_address="127.0.0.1:9100")
    assert same.worker_metrics_address == "127.0.0.1:9100"
    with pytest.raises(ValidationError, match="disagree: set only the address"):
        Settings(worker_metrics_port=9100, worker_metrics_address="0.0.0.0:9100")


def test_log_level_graceful_shutdown_and_sticky_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().log_level == "INFO"
    assert Settings().graceful_shutdown == timedelta(seconds=30)
    monkeypatch.setenv("SLAFLOW_LOG_LEVEL", "debug")
    monkeypatch.setenv("SLAFLOW_GRACEFUL_SHUTDOWN", "2m")
    monkeypatch.setenv("SLAFLOW_STICKY_TIMEOUT", "5s")
    assert Settings().log_level == "DEBUG"
    assert Settings().graceful_shutdown == timedelta(minutes=2)
    assert Settings().sticky_timeout == timedelta(seconds=5)


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({"SLAFLOW_LOG_LEVEL": "loud"}, "SLAFLOW_LOG_LEVEL: Input should be 'DEBUG'"),
        ({"SLAFLOW_GRACEFUL_SHUTDOWN": "soon"}, "SLAFLOW_GRACEFUL_SHUTDOWN: 'soon' is not a"),
        ({"SLAFLOW_STICKY_TIMEOUT": "0s"}, "SLAFLOW_STICKY_TIMEOUT: Input should be greater"),
        (
            {"SLAFLOW_WORKER_METRICS_ADDRESS": "localhost:9"},
            "SLAFLOW_WORKER_METRICS_ADDRESS: 'localhost:9' is not host:port",
        ),
    ],
)
def test_a_bad_value_stops_the_command_with_one_line(
    tmp_path: Path, env: dict[str, str], said: str
) -> None:
    done = slaflow("worker", cwd=tmp_path, **env)
    assert done.returncode == 1
    assert said in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_a_taken_metrics_address_stops_the_worker_naming_it() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        with pytest.raises(
            SystemExit, match=f"cannot serve SLAFLOW_WORKER_METRICS_ADDRESS {address}"
        ):
            bind(address)


@pytest.mark.parametrize(("level", "shown"), [("debug", True), ("INFO", False)])
def test_the_log_level_is_the_processes(tmp_path: Path, level: str, shown: bool) -> None:
    # Every command says which event loop it runs on, at DEBUG, as it starts.
    done = slaflow("replay", str(tmp_path / "none.json"), cwd=tmp_path, SLAFLOW_LOG_LEVEL=level)
    assert ("event loop: uvloop" in done.stderr) is shown, done.stderr


async def test_the_worker_drains_activities_for_the_graceful_shutdown(
    time_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, graceful_shutdown="45s")
    worker = build_worker(time_env.client, settings)
    assert worker.config()["graceful_shutdown_timeout"] == timedelta(seconds=45)
    # A ticket's task waits 30 s for the worker that caches it, not the SDK's 10 s.
    assert worker.config()["sticky_queue_schedule_to_start_timeout"] == timedelta(seconds=30)
