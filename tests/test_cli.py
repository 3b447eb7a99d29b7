"""The `slaflow` command's own checks, as real processes: `slaflow api` will not serve an open
API beyond loopback, and `slaflow keys` makes a keys file the API reads."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from api.auth import Keyring, Role
from cli import add_key
from sla.outcome import TicketChanges
from store import Store
from tests.sla.test_what_if import early_and_late
from tests.support.processes import SLAFLOW


def slaflow(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLAFLOW_", "TEMPORAL_"))}
    # Nothing listens here: a command that tried to reach Temporal would wait, then fail.
    clean.update({"TEMPORAL_ADDRESS": "127.0.0.1:9", **env})
    return subprocess.run(
        [SLAFLOW, *args], cwd=cwd, env=clean, capture_output=True, text=True, timeout=30
    )


@pytest.mark.parametrize(("host", "workers"), [("0.0.0.0", "1"), ("::", "2")])
def test_api_refuses_a_non_loopback_bind_without_keys_before_anything_else(
    tmp_path: Path, host: str, workers: str
) -> None:
    done = slaflow("api", cwd=tmp_path, SLAFLOW_API_HOST=host, SLAFLOW_API_WORKERS=workers)
    assert done.returncode == 1
    assert f"refusing to serve the API on {host}" in done.stderr
    assert "SLAFLOW_API_KEYS_FILE" in done.stderr and "cannot reach Temporal" not in done.stderr


def test_keys_makes_a_private_file_the_api_reads_and_prints_each_key_once(
    tmp_path: Path,
) -> None:
    path = tmp_path / "keys.yaml"
    ops = slaflow("keys", "--file", str(path), "--name", "ops", "--role", "admin", cwd=tmp_path)
    assert ops.returncode == 0, ops.stderr
    acme = slaflow("keys", "--file", str(path), "--name", "acme-portal", "--role", "customer",
                   "--customer-id", "acme", cwd=tmp_path)  # fmt: skip
    assert acme.returncode == 0, acme.stderr

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["keys.yaml"]  # no partial file left
    keys = {"ops": ops.stdout.strip(), "acme-portal": acme.stdout.strip()}
    assert all(len(key) >= 40 for key in keys.values()) and len(set(keys.values())) == 2
    assert keys["ops"] not in ops.stderr  # stdout carries the key, and nothing else
    keyring = Keyring.load(path)
    admin, customer = keyring.identify(keys["ops"]), keyring.identify(keys["acme-portal"])
    assert admin is not None and admin.role is Role.ADMIN
    assert customer is not None and (customer.role, customer.customer_id) == (Role.CUSTOMER, "acme")


@pytest.mark.parametrize(
    ("args", "problem"),
    [(("ops", "agent", None), "key names must be unique"),
     (("x", "customer", None), "customer_id goes with role customer"),
     (("y", "agent", "acme"), "customer_id goes with role customer"),
     (("a b", "agent", None), "keys.1.name")],
)  # fmt: skip
def test_keys_refuses_an_entry_the_api_would_refuse_and_leaves_the_file(
    tmp_path: Path, args: tuple[str, str, str | None], problem: str
) -> None:
    path = tmp_path / "keys.yaml"
    first = add_key(path, "ops", "admin", None)
    path.chmod(0o640)  # say, for a group that runs the API
    before = path.read_text()
    with pytest.raises(SystemExit) as refused:
        add_key(path, *args)
    assert problem in str(refused.value) and first not in str(refused.value)
    assert path.read_text() == before
    add_key(path, "z", "agent", None)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # a file's mode is kept
    assert [p.name for p in tmp_path.iterdir()] == ["keys.yaml"]


WHAT_IF_CONFIG = """
default_policy: standard
customers:
  acme: {monthly_fee: 10000, currency: EUR}
policies:
  standard:
    targets:
      P1: {response: 15m, resolution: 2h}
      P2: {response: 1h, resolution: 8h}
      P3: {response: 4h, resolution: 1d}
    credits: {response_breach: {P1: 2%}, monthly_cap: 30%}
"""


def test_what_if_prints_the_deltas_of_a_policy_from_a_config_file(tmp_path: Path) -> None:
    store = Store.at(tmp_path / "slaflow.sqlite3")
    for ticket in early_and_late():  # answered after 10 and 20 minutes of 15
        store.record_changes(
            TicketChanges(
                outcome=ticket.outcome,
                opening=ticket.opening,
                journal=ticket.entries,
                journaled=ticket.journaled,
                as_of=ticket.as_of,
            )
        )
    store.close()
    (tmp_path / "sla.yaml").write_text(WHAT_IF_CONFIG)
    (tmp_path / "proposed.yaml").write_text(
        WHAT_IF_CONFIG.replace("default_policy: standard", "default_policy: tight")
        .replace("  standard:", "  tight:")
        .replace("{response: 15m", "{response: 5m")
    )
    env = {"SLAFLOW_DATA_DIR": str(tmp_path), "SLAFLOW_CONFIG": str(tmp_path / "sla.yaml")}
    args = ["what-if", "--from", "2026-03-01", "--to", "2026-03-31", "--config", "proposed.yaml"]
    done = slaflow(*args, "--csv", cwd=tmp_path, **env)
    assert done.returncode == 0, done.stderr
    assert "all,all,response_breached,1,2,+1" in done.stdout
    assert "all,acme,credits_EUR,200.00,400.00,+200.00" in done.stdout
    assert "ticket,T-1,response,met,breached," in done.stdout
    assert "all,all,reproduced,true" in done.stdout
    table = slaflow(*args, cwd=tmp_path, **env)
    assert table.stdout.splitlines()[0].split() == [
        "scope",
        "name",
        "measure",
        "actual",
        "proposed",
        "delta",
    ]
    wrong = slaflow(*args, "--policy", "nope", cwd=tmp_path, **env)
    assert wrong.returncode == 1 and "has no policy 'nope' (it has tight)" in wrong.stderr


def test_commands_run_on_uvloop_and_the_api_parses_http_with_httptools() -> None:
    """The process's own loop and HTTP parser in C (docs/tuning.md, "The event loop")."""
    import asyncio

    import uvicorn
    import uvloop
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    from cli import run_on_fast_loop

    loops: list[asyncio.AbstractEventLoop] = []

    async def note_the_loop() -> None:
        loops.append(asyncio.get_running_loop())

    run_on_fast_loop(note_the_loop())
    assert len(loops) == 1 and isinstance(loops[0], uvloop.Loop)

    async def app(scope: object, receive: object, send: object) -> None: ...

    config = uvicorn.Config(app)
    config.load()
    assert config.http_protocol_class is HttpToolsProtocol
