"""`slaflow setup` and how slaflow finds its Temporal.

Temporal's environment config (a `temporal.toml` profile chosen by TEMPORAL_PROFILE) names the
server and the namespace unless the environment names them; `slaflow setup` as a real process
finds the dev server and a namespace of its own through a profile file alone. A server that
refuses retention changes and search attributes (Temporal Cloud manages both with tcld) gets
the tcld commands printed, and the schedules and the store's migrations are done all the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.duration_pb2 import Duration
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from cli import setup
from cluster import (
    PROBE_SCHEDULE,
    STATEMENTS_SCHEDULE,
    client_connect_config,
    connect_temporal,
    retention_of,
)
from settings import Settings
from sla.policy import ConfigError
from tests.support.processes import SLAFLOW
from workflows.search_attributes import ALL_KEYS


@pytest.fixture
def temporal_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """No TEMPORAL_* or SLAFLOW_* from the outside, no ~/.config/temporalio/temporal.toml;
    the path of a profile file the test may write."""
    for name in list(os.environ):
        if name.startswith(("TEMPORAL_", "SLAFLOW_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    yield tmp_path / "temporal.toml"


def profiles(path: Path, **named: dict[str, str]) -> Path:
    path.write_text(
        "".join(
            f"[profile.{name}]\n" + "".join(f'{k} = "{v}"\n' for k, v in values.items())
            for name, values in named.items()
        ),
        encoding="utf-8",
    )
    return path


def test_without_a_profile_or_an_address_slaflow_looks_on_its_own_port(
    temporal_env: Path,
) -> None:
    config = client_connect_config(Settings())
    assert config["target_host"] == "127.0.0.1:7233"
    assert config["namespace"] == "default"
    assert "tls" not in config and "api_key" not in config


def test_the_profile_names_the_server_and_the_namespace(
    temporal_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    profiles(
        temporal_env,
        default={"address": "default.example:7233", "namespace": "one"},
        cloud={"address": "ns.acct.tmprl.cloud:7233", "namespace": "ns.acct", "api_key": "k"},
    )
    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(temporal_env))
    config = client_connect_config(Settings())
    assert (config["target_host"], config["namespace"]) == ("default.example:7233", "one")
    monkeypatch.setenv("TEMPORAL_PROFILE", "cloud")
    config = client_connect_config(Settings())
    assert (config["target_host"], config["namespace"]) == ("ns.acct.tmprl.cloud:7233", "ns.acct")
    assert config["api_key"] == "k" and config["tls"] is True  # an API key means TLS


@pytest.mark.parametrize("prefix", ["", "SLAFLOW_"])
def test_the_environment_goes_over_the_profile(
    temporal_env: Path, monkeypatch: pytest.MonkeyPatch, prefix: str
) -> None:
    profiles(temporal_env, ops={"address": "profile.example:7233", "namespace": "from-profile"})
    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(temporal_env))
    monkeypatch.setenv("TEMPORAL_PROFILE", "ops")
    monkeypatch.setenv(f"{prefix}TEMPORAL_ADDRESS", "env.example:7233")
    config = client_connect_config(Settings())
    assert (config["target_host"], config["namespace"]) == ("env.example:7233", "from-profile")
    monkeypatch.setenv(f"{prefix}TEMPORAL_NAMESPACE", "from-env")
    config = client_connect_config(Settings())
    assert (config["target_host"], config["namespace"]) == ("env.example:7233", "from-env")
    # An address given to connect_temporal (`slaflow up`'s own server) goes over both; without
    # the profile, nothing of Temporal's environment config is used.
    config = client_connect_config(Settings(), "127.0.0.1:7999", use_profile=False)
    assert (config["target_host"], config["namespace"]) == ("127.0.0.1:7999", "from-env")


def test_a_profile_that_is_not_there_is_named(
    temporal_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    profiles(temporal_env, default={"address": "default.example:7233"})
    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(temporal_env))
    monkeypatch.setenv("TEMPORAL_PROFILE", "prod")
    with pytest.raises(ConfigError, match=r"TEMPORAL_PROFILE.*prod"):
        client_connect_config(Settings())


def address_of(env: WorkflowEnvironment) -> str:
    return str(env.client.service_client.config.target_host)


@pytest.fixture
async def namespace(dev_env: WorkflowEnvironment) -> AsyncIterator[str]:
    """A namespace of the test's own on the dev server (schedules have fixed ids), once every
    frontend call sees it."""
    name = f"setup-{uuid.uuid4().hex[:10]}"
    await dev_env.client.workflow_service.register_namespace(
        RegisterNamespaceRequest(
            namespace=name, workflow_execution_retention_period=Duration(seconds=86_400)
        )
    )
    client = await Client.connect(address_of(dev_env), namespace=name)
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        try:
            [_ async for _ in await client.list_schedules()]
            break
        except RPCError:
            assert asyncio.get_running_loop().time() < deadline, f"{name} never showed up"
            await asyncio.sleep(0.5)
    yield name


async def schedule_ids(client: Client) -> set[str]:
    return {schedule.id async for schedule in await client.list_schedules()}


async def search_attributes(client: Client) -> set[str]:
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    return set(listed.custom_attributes)


async def test_setup_finds_its_temporal_through_a_profile_file(
    dev_env: WorkflowEnvironment, namespace: str, tmp_path: Path
) -> None:
    """`slaflow setup` as a process, with no TEMPORAL_ADDRESS or TEMPORAL_NAMESPACE: the
    profile chosen by TEMPORAL_PROFILE in TEMPORAL_CONFIG_FILE names the dev server and the
    namespace, and everything lands there."""
    toml = profiles(
        tmp_path / "temporal.toml",
        default={"address": "127.0.0.1:9", "namespace": "default"},
        ops={"address": address_of(dev_env), "namespace": namespace},
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLAFLOW_", "TEMPORAL_"))}
    env.update(
        HOME=str(tmp_path),
        TEMPORAL_CONFIG_FILE=str(toml),
        TEMPORAL_PROFILE="ops",
        SLAFLOW_DATA_DIR=str(tmp_path / "data"),
        SLAFLOW_RETENTION="12d",
    )
    done = await asyncio.to_thread(
        subprocess.run,
        [SLAFLOW, "setup"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert f"search attributes registered on {namespace}; store migrated" in done.stderr
    assert done.stdout == ""  # no tcld commands: the dev server did it all
    client = await Client.connect(address_of(dev_env), namespace=namespace)
    assert STATEMENTS_SCHEDULE in await schedule_ids(client)
    assert {key.name for key in ALL_KEYS} <= await search_attributes(client)
    assert await retention_of(client) == timedelta(days=12)
    assert migrated(tmp_path / "data")


def migrated(data_dir: Path) -> bool:
    """The store in `data_dir` has had its migrations run."""
    with contextlib.closing(sqlite3.connect(data_dir / "slaflow.sqlite3")) as db:
        return bool(db.execute("SELECT version_num FROM alembic_version").fetchall())


def refuse(status: RPCStatusCode, message: str) -> Any:
    async def refused(*_: Any, **__: Any) -> Any:
        raise RPCError(message, status, b"")

    return refused


@pytest.mark.parametrize(
    "status",
    [
        RPCStatusCode.PERMISSION_DENIED,
        RPCStatusCode.UNIMPLEMENTED,
        RPCStatusCode.INVALID_ARGUMENT,
    ],
)
async def test_what_the_server_refuses_is_left_to_tcld_and_the_rest_is_done(
    dev_env: WorkflowEnvironment,
    namespace: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    status: RPCStatusCode,
) -> None:
    """As Temporal Cloud answers: retention and search attributes refused (and the listing of
    search attributes too), so the tcld commands for all of them; the schedules are made and
    the store migrated all the same."""
    settings = Settings(
        temporal_address=address_of(dev_env),
        temporal_namespace=namespace,
        data_dir=tmp_path,
        retention="45d",
    )
    client = await connect_temporal(settings)
    operator, workflows = client.operator_service, client.workflow_service
    monkeypatch.setattr(operator, "add_search_attributes", refuse(status, "Request unauthorized"))
    monkeypatch.setattr(operator, "list_search_attributes", refuse(status, "not here"))
    monkeypatch.setattr(workflows, "update_namespace", refuse(status, "Request unauthorized"))

    await setup(client, settings)

    out, err = capsys.readouterr()
    flags = " ".join(
        f"--search-attribute {key.name}={kind}"
        for key in ALL_KEYS
        for kind in [key.indexed_value_type.name.removeprefix("INDEXED_VALUE_TYPE_").title()]
    )
    assert out.splitlines() == [
        f"tcld namespace search-attributes add --namespace {namespace} {flags}",
        f"tcld namespace retention set --namespace {namespace} --retention-days 45",
    ]
    assert f"refused to add the search attributes on {namespace} ({status.name}: " in err
    assert f"refused to set the retention to 45 days on {namespace} ({status.name}: " in err
    assert f"schedules made on {namespace}; store migrated" in err
    assert STATEMENTS_SCHEDULE in await schedule_ids(client)
    assert PROBE_SCHEDULE not in await schedule_ids(client)  # the shipped config has no probe
    assert await retention_of(client) == timedelta(days=1)  # untouched
    assert migrated(tmp_path)


async def test_after_tcld_did_its_part_setup_finds_nothing_to_ask(
    dev_env: WorkflowEnvironment,
    namespace: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Search attributes present and the retention already right: nothing is asked of the
    server that would refuse it, so a second run on Temporal Cloud is clean; a search
    attribute still missing is the only one named."""
    settings = Settings(
        temporal_address=address_of(dev_env),
        temporal_namespace=namespace,
        data_dir=tmp_path,
        retention="1d",  # what the namespace has
    )
    client = await connect_temporal(settings)
    await setup(client, settings)  # everything registered, as tcld would have
    capsys.readouterr()
    operator, workflows = client.operator_service, client.workflow_service
    denied = RPCStatusCode.PERMISSION_DENIED
    monkeypatch.setattr(operator, "add_search_attributes", refuse(denied, "Request unauthorized"))
    monkeypatch.setattr(workflows, "update_namespace", refuse(denied, "Request unauthorized"))
    await setup(client, settings)
    out, err = capsys.readouterr()
    assert out == ""
    assert f"search attributes registered on {namespace}; store migrated" in err

    real_list = operator.list_search_attributes
    first = ALL_KEYS[0]

    async def without_first(*args: Any, **kwargs: Any) -> Any:
        listed = await real_list(*args, **kwargs)
        del listed.custom_attributes[first.name]
        return listed

    monkeypatch.setattr(operator, "list_search_attributes", without_first)
    await setup(client, settings)
    out, _ = capsys.readouterr()
    kind = first.indexed_value_type.name.removeprefix("INDEXED_VALUE_TYPE_").title()
    assert out.splitlines() == [
        f"tcld namespace search-attributes add --namespace {namespace} "
        f"--search-attribute {first.name}={kind}"
    ]
