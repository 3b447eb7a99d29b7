"""Settings: the one place that reads slaflow's environment (SLAFLOW_*, TEMPORAL_*).

Values only: the store, the archive and the Temporal client are built where a process is wired
(worker.py, api/app.py, cli.py) from these values."""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import yaml
from pydantic import (
    AfterValidator,
    AliasChoices,
    BeforeValidator,
    Field,
    SecretStr,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from config import shipped_config_path
from config.resolve import check_edges
from config.secrets import resolve_secrets
from sla.durations import parse_duration
from sla.policy import ConfigError, SlaConfig, parse_config

DEFAULT_TASK_QUEUE = "slaflow-tickets"
# A name as the Host header carries it, without the port: a DNS name or IPv4 address, or an IPv6
# address in brackets.
HOST_NAME = re.compile(r"[a-z0-9._-]+|\[[0-9a-f:.]+\]")


def _host_names(value: Any) -> Any:
    """SLAFLOW_ALLOWED_HOSTS is comma-separated; names compare in lower case."""
    if isinstance(value, str):
        value = value.split(",")
    return [str(name).strip().lower() for name in value if str(name).strip()]


def _check_host_names(names: list[str]) -> list[str]:
    for name in names:
        if not HOST_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not a host name (no scheme, no port; IPv6 in [])")
    return names


def _http_url(url: str | None) -> str | None:
    # The board puts it in a link: anything but http(s) (javascript:) would run on its origin.
    if url is not None and not re.match(r"https?://[^\s]+$", url, re.IGNORECASE):
        raise ValueError(f"{url!r} is not an http(s) URL")
    return url


def _bind_address(address: str | None) -> str | None:
    """host:port with an IP address for host (0.0.0.0 or [::] for every interface): the SDK's
    Prometheus server binds it as given and takes no host names."""
    if address is None:
        return None
    host, _, port = address.rpartition(":")
    try:
        ipaddress.ip_address(host.removeprefix("[").removesuffix("]"))
        ok = host.startswith("[") == (":" in host) and port.isdigit() and 0 < int(port) < 65536
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"{address!r} is not host:port with an IP address (0.0.0.0:9464, [::]:9464)"
        )
    return address


def _log_level(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


class LogSettings(BaseSettings):
    """What logging needs, read before anything else (a command's other settings may fail)."""

    model_config = SettingsConfigDict(env_prefix="SLAFLOW_", extra="ignore")

    log_level: Annotated[
        Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], BeforeValidator(_log_level)
    ] = "INFO"


class Settings(LogSettings):
    model_config = SettingsConfigDict(env_prefix="SLAFLOW_", extra="ignore")

    config: Path = Field(default_factory=shipped_config_path)
    data_dir: Path = Path(".slaflow")
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    temporal_port: int = 7233
    ui_port: int = 8233
    ui: bool = True
    task_queue: str = DEFAULT_TASK_QUEUE
    # An external Temporal; unset means `slaflow up` embeds a dev server.
    temporal_address: str | None = Field(
        default=None, validation_alias=AliasChoices("TEMPORAL_ADDRESS", "SLAFLOW_TEMPORAL_ADDRESS")
    )
    temporal_namespace: str = Field(
        default="default",
        validation_alias=AliasChoices("TEMPORAL_NAMESPACE", "SLAFLOW_TEMPORAL_NAMESPACE"),
    )
    # Open tickets a worker keeps in memory; an action on an evicted ticket costs a replay.
    # About 100 KB each (docs/benchmarks.md): size it to the open tickets you expect.
    max_cached_workflows: int = 10_000
    # The Temporal sandbox re-imports the workflow's module for every ticket it runs or
    # replays and wraps each activation: 37-52% of a busy worker's Python time (docs/tuning.md).
    # Tests and `slaflow replay` always run the sandbox, which is where non-determinism gets
    # caught; true runs it here too.
    workflow_sandbox: bool = False
    # Worker tuning (None: the SDK's defaults, which the benchmarks found good on 2 cores).
    max_concurrent_workflow_tasks: int | None = None
    max_concurrent_activities: int | None = None
    workflow_task_pollers: int | None = None
    activity_task_pollers: int | None = None
    # How long a cached ticket's task waits for its worker before any worker may take it (with
    # a full replay). The SDK's 10 s timed tasks out in a breach burst on a busy worker, which
    # then cost more; 30 s did not (docs/tuning.md). A killed worker's closed polls hand its
    # tasks on at once; this bounds the wait when they do not (a host that vanished).
    sticky_timeout: Annotated[
        timedelta, BeforeValidator(parse_duration), Field(gt=timedelta(0))
    ] = timedelta(seconds=30)
    max_request_seconds: float = 10.0
    # Processes serving `slaflow api` (uvicorn workers; each its own Temporal client). `slaflow
    # up` keeps the API in the worker's process: on 2 cores a separate API process measured
    # no faster (docs/tuning.md). With more than one, any answers /metrics with the sum of all.
    api_workers: int = Field(default=1, ge=1)
    # API keys with roles (YAML); unset: the API is open, and `slaflow up` says so loudly.
    api_keys_file: Path | None = None
    # Without keys the API answers only requests addressed to a loopback name (Host header),
    # so a web page cannot reach it by DNS rebinding; these names are answered too.
    allowed_hosts: Annotated[
        list[str], NoDecode, BeforeValidator(_host_names), AfterValidator(_check_host_names)
    ] = Field(default_factory=list)
    # Where the board links a ticket's workflow; unset: `slaflow up`'s embedded Web UI.
    temporal_ui_url: Annotated[str | None, AfterValidator(_http_url)] = None
    # The Temporal SDK's own worker metrics (Prometheus) on host:port; unset: off.
    sdk_metrics_address: Annotated[str | None, AfterValidator(_bind_address)] = None
    # `slaflow worker` and `up` serve the worker's slaflow_* metrics, /livez and /readyz here.
    worker_metrics_address: Annotated[str | None, AfterValidator(_bind_address)] = None
    # The older settings: a port on 127.0.0.1, the same as the address 127.0.0.1:<port>.
    sdk_metrics_port: int | None = Field(default=None, gt=0, lt=65536)
    worker_metrics_port: int | None = Field(default=None, gt=0, lt=65536)
    # How long a stopping worker lets its running activities finish, and the API its requests
    # in flight, before cancelling them (SIGTERM: a rolling update).
    graceful_shutdown: Annotated[timedelta, BeforeValidator(parse_duration)] = timedelta(seconds=30)
    # How long Temporal keeps a closed ticket's history; the archive keeps it after that.
    retention: Annotated[timedelta, BeforeValidator(parse_duration)] = timedelta(days=30)
    # The store that outlives Temporal's retention; a SQLite file in the data dir by default.
    database_url: str | None = None
    # The archive in an S3-compatible store (s3://bucket/prefix?endpoint_url=...&region=...,
    # credentials from the AWS environment); unset: a directory in the data dir.
    archive_url: str | None = None

    @model_validator(mode="after")
    def _addresses_from_ports(self) -> Self:
        for name in ("sdk_metrics", "worker_metrics"):
            address, port = getattr(self, f"{name}_address"), getattr(self, f"{name}_port")
            if port is None:
                continue
            if address is not None and address != f"127.0.0.1:{port}":
                env = f"SLAFLOW_{name.upper()}"
                raise ValueError(f"{env}_ADDRESS and {env}_PORT disagree: set only the address")
            setattr(self, f"{name}_address", f"127.0.0.1:{port}")
        return self

    @cached_property
    def config_file(self) -> ConfigFile:
        """The config file in force, reloaded on SIGHUP (cli.py)."""
        return ConfigFile(self.config)

    @property
    def sla_config(self) -> SlaConfig:
        """The config in force now: read it where it is used, so a reload reaches it."""
        return self.config_file.current

    @property
    def temporal_ui(self) -> str:
        return (self.temporal_ui_url or f"http://127.0.0.1:{self.ui_port}").rstrip("/")


class ClientSettings(BaseSettings):
    """What a client of the API reads (`slaflow import`): where the API is, and the key it
    sends as `Authorization: Bearer`; unset, none (an API without a keys file)."""

    model_config = SettingsConfigDict(env_prefix="SLAFLOW_", extra="ignore")

    api_url: Annotated[str, AfterValidator(_http_url)] = "http://127.0.0.1:8000"
    api_key: SecretStr | None = None


def load_config_file(path: Path) -> SlaConfig:
    """Read and validate a YAML config file; ConfigError names the file and the bad key."""
    return read_config_file(path).config


@dataclass(frozen=True)
class InForce:
    """A config and its version: the first 12 hex digits of the SHA-256 of the file's bytes."""

    config: SlaConfig
    version: str


def read_config_file(path: Path) -> InForce:
    try:
        raw = path.read_bytes()
        data: Any = yaml.safe_load(raw.decode("utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    try:
        # `${ENV_NAME}` and `{file: ...}` secrets (config/secrets.py); the version stays the
        # file's own bytes, so it never depends on (or hints at) a secret's value.
        config = parse_config(resolve_secrets(data, path.parent))
        check_edges(config, datetime.now(UTC))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return InForce(config, hashlib.sha256(raw).hexdigest()[:12])


class ConfigFile:
    """The config file in force. Read and validated at start; `reload` reads it again and
    swaps the new contents in only once they validate whole, so a bad edit never reaches a
    ticket: the old config stays, and the error names the key."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.in_force = read_config_file(path)  # fails at start, naming the key

    @property
    def current(self) -> SlaConfig:
        return self.in_force.config

    @property
    def version(self) -> str:
        return self.in_force.version

    def reload(self) -> InForce:
        """The new config in force; ConfigError (the old one stays) if the file is bad."""
        self.in_force = read_config_file(self.path)  # one assignment: readers see old or new
        return self.in_force
