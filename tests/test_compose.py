"""The distributed deployment (docker-compose.yml, Dockerfile, deploy/) checked without Docker.

No Docker engine is needed: these tests read the files and hold them against the code they
deploy (Settings, pyproject.toml, the search attributes the workflows write, README.md). Where
PostgreSQL's server binaries are installed (CI installs them), the one-shot that creates the
store's database also runs, against a throwaway server, and the store migrates in what it made.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY
from sqlalchemy.engine import URL, make_url

import telemetry  # noqa: F401  (registers the slaflow_* metrics)
from settings import Settings
from sla.durations import parse_duration
from store import Store

REPO = Path(__file__).resolve().parent.parent
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
DEPLOY = REPO / "deploy"

NAMESPACE_SERVICE = "temporal-create-namespace"
DATABASE_SERVICE = "slaflow-database"
SETUP_SERVICE = "slaflow-setup"
REQUIRED_SERVICES = {
    "postgresql",
    "temporal-admin-tools",
    "temporal",
    NAMESPACE_SERVICE,
    DATABASE_SERVICE,
    SETUP_SERVICE,
    "temporal-ui",
    "worker",
    "api",
}
APP_SERVICES = {"worker": ["slaflow", "worker"], "api": ["slaflow", "api"]}
# Every container that runs the slaflow image, with its command.
SLAFLOW_SERVICES = {**APP_SERVICES, SETUP_SERVICE: ["slaflow", "setup"]}
KEYS_SERVICE = "slaflow-keys"  # `slaflow keys` on the API's keys volume, run by hand
ONE_SHOT_SCRIPTS = ("temporal-admin-tools", NAMESPACE_SERVICE, DATABASE_SERVICE)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict), "docker-compose.yml is not a YAML mapping"
    assert isinstance(data.get("services"), dict), "docker-compose.yml has no services mapping"
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment, whether written as a list of KEY=VALUE or as a mapping."""
    env = service.get("environment") or {}
    if isinstance(env, dict):
        return {str(k): "" if v is None else str(v) for k, v in env.items()}
    out: dict[str, str] = {}
    for item in env:
        key, _, value = str(item).partition("=")
        out[key] = value
    return out


def command(service: dict[str, Any]) -> list[str]:
    cmd = service.get("command")
    if cmd is None:
        return []
    return shlex.split(cmd) if isinstance(cmd, str) else [str(part) for part in cmd]


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    """depends_on as {service: condition}; the short list form means service_started."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: "service_started" for name in deps}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def bind_mounts(service: dict[str, Any]) -> dict[str, Path]:
    """Container path -> host path, for the service's relative bind mounts."""
    mounts: dict[str, Path] = {}
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            source, target = volume.get("source", ""), volume.get("target", "")
        else:
            source, target, *_ = [*str(volume).split(":"), ""]
        if source.startswith("."):
            mounts[target] = (REPO / source).resolve()
    return mounts


def accepted_env_names() -> set[str]:
    """Every environment variable name Settings reads: SLAFLOW_<field> or the field's aliases."""
    prefix = Settings.model_config.get("env_prefix", "")
    names: set[str] = set()
    for field_name, field in Settings.model_fields.items():
        alias = field.validation_alias
        if alias is None:
            names.add(f"{prefix}{field_name}".upper())
        elif isinstance(alias, str):
            names.add(alias.upper())
        else:
            for choice in getattr(alias, "choices", []):
                if isinstance(choice, str):
                    names.add(choice.upper())
    return names


def settings_under(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings() as a container builds it: only the service's own SLAFLOW_/TEMPORAL_ vars."""
    for name in list(os.environ):
        if name.upper().startswith(("SLAFLOW_", "TEMPORAL_")):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings()


def app_env(services: dict[str, dict[str, Any]], name: str) -> dict[str, str]:
    return {
        k: v
        for k, v in environment(services[name]).items()
        if k.upper().startswith(("SLAFLOW_", "TEMPORAL_"))
    }


# --- compose file -----------------------------------------------------------------------------


def test_required_services_exist(services: dict[str, dict[str, Any]]) -> None:
    missing = REQUIRED_SERVICES - services.keys()
    assert not missing, f"docker-compose.yml lacks services {sorted(missing)}"


def test_depends_on_names_real_services(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        unknown = set(depends_on(service)) - services.keys()
        assert not unknown, f"{name} depends on unknown services {sorted(unknown)}"


def test_images_are_pinned(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        image = service.get("image")
        if image is None:
            assert "build" in service, f"{name} has neither image nor build"
            continue
        repo, _, tag = str(image).rpartition(":")
        assert repo and tag, f"{name}: image {image!r} has no tag"
        assert tag != "latest", f"{name}: image {image!r} is not pinned"
        # ${VAR} without a default would make the file depend on an .env that is not shipped.
        for ref in re.findall(r"\$\{([^}]*)\}", str(image)):
            assert ":-" in ref, f"{name}: image variable ${{{ref}}} has no default"


def test_temporal_stack_follows_the_recipe(services: dict[str, dict[str, Any]]) -> None:
    assert depends_on(services["temporal-admin-tools"]) == {"postgresql": "service_healthy"}
    assert depends_on(services["temporal"]).get("temporal-admin-tools") == (
        "service_completed_successfully"
    )
    assert depends_on(services[NAMESPACE_SERVICE]).get("temporal") == "service_healthy"
    for name in ("temporal-admin-tools", "temporal"):
        env = environment(services[name])
        assert env.get("DB") == "postgres12", name
        assert env.get("POSTGRES_SEEDS") == "postgresql", name
        assert env.get("DB_PORT") == "5432", name
    assert environment(services["temporal-ui"]).get("TEMPORAL_ADDRESS") == "temporal:7233"
    assert "127.0.0.1:8080:8080" in [str(p) for p in services["temporal-ui"].get("ports", [])]
    assert "127.0.0.1:7233:7233" in [str(p) for p in services["temporal"].get("ports", [])]


def test_dynamic_config_file_is_mounted(services: dict[str, dict[str, Any]]) -> None:
    temporal = services["temporal"]
    rel = environment(temporal)["DYNAMIC_CONFIG_FILE_PATH"]
    in_container = rel if rel.startswith("/") else f"/etc/temporal/{rel}"
    mounts = bind_mounts(temporal)
    host = next(
        (src / in_container[len(dst) :].lstrip("/"))
        for dst, src in mounts.items()
        if in_container.startswith(dst.rstrip("/") + "/")
    )
    assert host.is_file(), f"{in_container} maps to {host}, which does not exist"
    assert isinstance(yaml.safe_load(host.read_text(encoding="utf-8")), dict)


def test_one_shot_scripts_exist(services: dict[str, dict[str, Any]]) -> None:
    for name in ONE_SHOT_SCRIPTS:
        service = services[name]
        mounts = bind_mounts(service)
        scripts = [part for part in command(service) if part.endswith(".sh")]
        assert scripts, f"{name} runs no script"
        for script in scripts:
            dst = next(d for d in mounts if script.startswith(d.rstrip("/") + "/"))
            host = mounts[dst] / script[len(dst) :].lstrip("/")
            assert host.is_file(), f"{name} runs {script}, but {host} does not exist"


def test_slaflow_services_build_from_repo_and_run_slaflow(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, expected in SLAFLOW_SERVICES.items():
        service = services[name]
        build = service.get("build")
        assert build is not None, f"{name} is not built"
        if isinstance(build, str):
            build = {"context": build}
        assert (REPO / build.get("context", ".")).resolve() == REPO, name
        assert (
            REPO / build.get("context", ".") / build.get("dockerfile", "Dockerfile")
        ).resolve() == (DOCKERFILE), name
        assert command(service) == expected, f"{name} runs {command(service)}"


def test_app_services_wait_for_setup(services: dict[str, dict[str, Any]]) -> None:
    for name in APP_SERVICES:
        deps = depends_on(services[name])
        assert deps.get(SETUP_SERVICE) == "service_completed_successfully", name
        assert deps.get("temporal") == "service_healthy", name


def test_setup_runs_after_the_namespace_and_the_database(
    services: dict[str, dict[str, Any]],
) -> None:
    """`slaflow setup` does not create the namespace, and migrates a database it cannot create."""
    deps = depends_on(services[SETUP_SERVICE])
    assert deps.get(NAMESPACE_SERVICE) == "service_completed_successfully", deps
    assert deps.get(DATABASE_SERVICE) == "service_completed_successfully", deps
    assert deps.get("temporal") == "service_healthy", deps


def test_setup_sees_what_the_apps_see(services: dict[str, dict[str, Any]]) -> None:
    """Setup makes schedules for a task queue, retention for a namespace and tables in a store:
    the worker's and the API's own, only if their environments agree with its."""
    setup = app_env(services, SETUP_SERVICE)
    for name in APP_SERVICES:
        env = app_env(services, name)
        differ = {k for k in setup if k in env and env[k] != setup[k]}
        assert not differ, f"{name} and {SETUP_SERVICE} disagree on {sorted(differ)}"
        missing = set(setup) - set(env)
        assert not missing, f"{name} lacks {sorted(missing)}, which {SETUP_SERVICE} sets"


def test_settings_reads_the_store_and_cluster_names() -> None:
    """The names this deployment may set exist in Settings (so the check below can fail)."""
    accepted = accepted_env_names()
    for name in (
        "SLAFLOW_DATABASE_URL",
        "SLAFLOW_RETENTION",
        "SLAFLOW_SDK_METRICS_PORT",
        "SLAFLOW_WORKER_METRICS_PORT",
        "SLAFLOW_SDK_METRICS_ADDRESS",
        "SLAFLOW_WORKER_METRICS_ADDRESS",
        "SLAFLOW_GRACEFUL_SHUTDOWN",
        "SLAFLOW_LOG_LEVEL",
        "TEMPORAL_ADDRESS",
        "TEMPORAL_NAMESPACE",
    ):
        assert name in accepted, name
    assert "SLAFLOW_NO_SUCH_SETTING" not in accepted


def test_slaflow_env_vars_are_read_by_settings(services: dict[str, dict[str, Any]]) -> None:
    accepted = accepted_env_names()
    for name in SLAFLOW_SERVICES:
        unknown = set(app_env(services, name)) - accepted
        assert not unknown, f"{name} sets {sorted(unknown)}, which Settings does not read"


@pytest.mark.parametrize("name", sorted(SLAFLOW_SERVICES))
def test_settings_under_service_env(
    name: str, services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_under(app_env(services, name), monkeypatch)
    assert settings.temporal_address == "temporal:7233"
    assert settings.temporal_namespace == "default"
    assert settings.task_queue == "slaflow-tickets"
    assert settings.data_dir == Path("/data")
    assert settings.api_port == 8000
    assert settings.database_url, f"{name} has no SLAFLOW_DATABASE_URL: its store would be SQLite"
    assert make_url(settings.database_url).drivername == "postgresql+psycopg", name
    assert settings.retention.total_seconds() > 0, name
    # A config path inside the image must be one the Dockerfile puts there.
    if str(settings.config).startswith("/app/"):
        assert (REPO / settings.config.relative_to("/app")).is_file(), settings.config


def test_api_settings_listen_on_published_port(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    api = services["api"]
    settings = settings_under(app_env(services, "api"), monkeypatch)
    assert settings.api_host == "0.0.0.0"
    published = [str(p) for p in api.get("ports", [])]
    assert f"{settings.api_port}:{settings.api_port}" in published, published
    health = " ".join(command({"command": api["healthcheck"]["test"]}))
    assert f":{settings.api_port}/readyz" in health, health


def test_the_worker_is_probed_on_its_metrics_address(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    worker = services["worker"]
    settings = settings_under(app_env(services, "worker"), monkeypatch)
    assert settings.worker_metrics_address is not None
    host, _, port = settings.worker_metrics_address.rpartition(":")
    assert host == "0.0.0.0", "a Prometheus beside it scrapes the worker over the network"
    health = " ".join(command({"command": worker["healthcheck"]["test"]}))
    assert f"127.0.0.1:{port}/readyz" in health, health


@pytest.mark.parametrize("name", ["worker", "api"])
def test_docker_waits_out_the_graceful_shutdown(
    name: str, services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_under(app_env(services, name), monkeypatch)
    grace = services[name].get("stop_grace_period", "10s")  # Docker's default
    assert parse_duration(grace) > settings.graceful_shutdown, grace


def published(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(host address, host port) of each published port; "" when it binds every address."""
    out = []
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            out.append((str(port.get("host_ip", "")), str(port.get("published", ""))))
        else:
            parts = str(port).rsplit(":", 2)
            out.append(("", parts[0]) if len(parts) == 2 else (parts[0], parts[1]))
    return out


def test_only_the_api_is_published_beyond_loopback(services: dict[str, dict[str, Any]]) -> None:
    """Temporal's gRPC port and Web UI have no login: anyone who reaches them runs tickets
    without the API's keys (SECURITY.md). They are for this machine only."""
    for name, service in services.items():
        for address, port in published(service):
            assert name == "api" or address == "127.0.0.1", (
                f"{name} publishes {port} on {address!r}"
            )
    assert published(services["temporal"]) == [("127.0.0.1", "7233")]
    assert published(services["temporal-ui"]) == [("127.0.0.1", "8080")]


def keys_volume(service: dict[str, Any], path: Path) -> tuple[str, bool] | None:
    """(named volume, read only) mounted on the directory of `path`, if any."""
    for volume in service.get("volumes") or []:
        source, target, *mode = str(volume).split(":")
        if not source.startswith((".", "/")) and Path(target) == path.parent:
            return source, mode == ["ro"]
    return None


def test_the_api_serves_every_address_with_a_keys_file_from_a_volume(
    compose: dict[str, Any], services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without keys `slaflow api` would refuse 0.0.0.0 (cli.py _check_bind); with them it
    serves, and reads the file from a volume it cannot write."""
    from cli import _check_bind

    settings = settings_under(app_env(services, "api"), monkeypatch)
    assert settings.api_keys_file is not None, "the api service has no SLAFLOW_API_KEYS_FILE"
    _check_bind(settings)  # would raise SystemExit without the keys file
    with pytest.raises(SystemExit, match="refusing"):
        _check_bind(settings.model_copy(update={"api_keys_file": None}))
    mounted = keys_volume(services["api"], settings.api_keys_file)
    assert mounted is not None, f"no volume holds {settings.api_keys_file}"
    volume, read_only = mounted
    assert read_only and volume in (compose.get("volumes") or {}), mounted
    for name in ("worker", SETUP_SERVICE):  # the keys are the API's alone
        assert not environment(services[name]).get("SLAFLOW_API_KEYS_FILE"), name
        assert keys_volume(services[name], settings.api_keys_file) is None, name


def test_keys_are_made_by_slaflow_keys_on_the_same_volume(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    keys_file = settings_under(app_env(services, "api"), monkeypatch).api_keys_file
    assert keys_file is not None
    maker = services[KEYS_SERVICE]
    assert maker.get("profiles"), f"{KEYS_SERVICE} would start with `docker compose up`"
    entrypoint = maker.get("entrypoint")
    assert entrypoint == ["slaflow", "keys", "--file", str(keys_file)], entrypoint
    api_volume = keys_volume(services["api"], keys_file)
    assert api_volume is not None
    assert keys_volume(maker, keys_file) == (api_volume[0], False), "not the API's, or read only"
    build = maker.get("build") or {}
    assert (REPO / build.get("context", ".") / build.get("dockerfile", "Dockerfile")).resolve() == (
        DOCKERFILE
    )
    # The image makes the volume's directory its user's, so `slaflow keys` may write there.
    runs = " ".join(rest for op, rest in dockerfile_instructions() if op == "RUN")
    directory = re.escape(str(keys_file.parent))
    assert re.search(rf"mkdir\b[^&]*\s{directory}\b", runs), runs
    assert re.search(rf"chown\b[^&]*\s{directory}\b", runs), runs
    # And the README says how to run it.
    section = "\n".join(readme_compose_section() or [])
    assert f"docker compose run --rm {KEYS_SERVICE}" in section


def test_the_board_links_the_published_temporal_ui(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_under(app_env(services, "api"), monkeypatch)
    address, port = published(services["temporal-ui"])[0]
    assert settings.temporal_ui in (f"http://localhost:{port}", f"http://{address}:{port}")


def test_data_volume_is_shared(
    compose: dict[str, Any], services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    volumes = compose.get("volumes") or {}
    for name in SLAFLOW_SERVICES:
        data_dir = settings_under(app_env(services, name), monkeypatch).data_dir
        mounted = [str(v) for v in services[name].get("volumes") or []]
        assert f"slaflow-data:{data_dir}" in mounted, f"{name} mounts {mounted}"
    assert "slaflow-data" in volumes, "volume slaflow-data is not declared"


# --- the store's database ---------------------------------------------------------------------


def store_url(services: dict[str, dict[str, Any]]) -> URL:
    url = environment(services["worker"]).get("SLAFLOW_DATABASE_URL")
    assert url, "worker has no SLAFLOW_DATABASE_URL"
    return make_url(url)


def test_store_url_points_at_the_postgresql_service(services: dict[str, dict[str, Any]]) -> None:
    url = store_url(services)
    assert url.drivername == "postgresql+psycopg", url.drivername
    assert url.host == "postgresql" and url.host in services, url.host
    assert url.port in (None, 5432), url.port
    # Not Temporal's own databases: slaflow's tables live apart from the cluster's.
    assert url.database not in (None, "", "postgres", "temporal", "temporal_visibility")


def test_store_database_is_created_by_the_compose(services: dict[str, dict[str, Any]]) -> None:
    """The one-shot makes the database, role and password the URL names, on `postgresql`,
    as that server's superuser, and idempotently (CREATE only WHERE NOT EXISTS)."""
    url = store_url(services)
    maker, server = services[DATABASE_SERVICE], services["postgresql"]
    env, server_env = environment(maker), environment(server)
    assert env.get("DB_NAME") == url.database
    assert env.get("DB_OWNER") == url.username
    assert env.get("DB_OWNER_PASSWORD") == url.password
    assert env.get("PGHOST") == url.host
    assert env.get("PGPORT", "5432") == str(url.port or 5432)
    assert env.get("PGUSER") == server_env.get("POSTGRES_USER")
    assert env.get("PGPASSWORD") == server_env.get("POSTGRES_PASSWORD")
    assert maker.get("image") == server.get("image"), "psql should come from the server's image"
    assert depends_on(maker) == {"postgresql": "service_healthy"}
    script = script_of(services, DATABASE_SERVICE).read_text(encoding="utf-8")
    assert re.search(r"CREATE DATABASE.*\n?.*WHERE NOT EXISTS.*pg_database.*\\gexec", script)
    assert re.search(r"CREATE ROLE.*\n?.*WHERE NOT EXISTS.*pg_roles.*\\gexec", script)


def script_of(services: dict[str, dict[str, Any]], name: str) -> Path:
    service = services[name]
    mounts = bind_mounts(service)
    script = next(part for part in command(service) if part.endswith(".sh"))
    dst = next(d for d in mounts if script.startswith(d.rstrip("/") + "/"))
    return mounts[dst] / script[len(dst) :].lstrip("/")


def test_store_database_script_runs_and_the_store_migrates(
    services: dict[str, dict[str, Any]],
    postgres_url: str,  # tests/conftest.py: a throwaway server
) -> None:
    """The one-shot, twice, against a real server; then the store migrates in what it made, as
    the role the compose's URL names (PostgreSQL 15+ lets only the owner create in public)."""
    if not (shutil.which("psql") and shutil.which("pg_isready")):
        pytest.skip("psql/pg_isready not installed: apt-get install postgresql-client")
    server = make_url(postgres_url)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PG")},
        **environment(services[DATABASE_SERVICE]),
        "PGHOST": str(server.host),
        "PGPORT": str(server.port),
        "PGUSER": str(server.username),
    }
    env.pop("PGPASSWORD", None)  # the throwaway server trusts loopback
    script = script_of(services, DATABASE_SERVICE)
    for run in (1, 2):  # the second run finds both and must still succeed
        done = subprocess.run(
            ["sh", str(script)], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, f"run {run}: {done.stdout}{done.stderr}"
    url = store_url(services).set(host=server.host, port=server.port)
    store = Store(url.render_as_string(hide_password=False))
    try:
        with store.engine.connect() as connection:
            owner = connection.exec_driver_sql(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
            ).scalar()
        assert owner == url.username
    finally:
        store.close()


# --- search attributes, retention, schedules --------------------------------------------------


def test_namespace_step_creates_the_namespace_the_apps_use(
    services: dict[str, dict[str, Any]],
) -> None:
    namespace = environment(services[NAMESPACE_SERVICE]).get("DEFAULT_NAMESPACE")
    for name in SLAFLOW_SERVICES:
        assert environment(services[name]).get("TEMPORAL_NAMESPACE") == namespace, name
    script = script_of(services, NAMESPACE_SERVICE).read_text(encoding="utf-8")
    assert "temporal operator namespace create" in script


def test_search_attributes_come_from_slaflow_setup_alone() -> None:
    """`slaflow setup` registers them from the workflow's own keys; a second list in a deploy
    script could only drift from those (a type changed in one place and not the other)."""
    for path in sorted(DEPLOY.rglob("*")):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            assert "search-attribute create" not in text, f"{path} registers search attributes"


async def test_setup_registers_every_workflow_key_with_its_type() -> None:
    """What the `slaflow-setup` container runs asks the cluster for each key the workflows
    write, with the type they write it as."""
    from temporalio.api.enums.v1 import IndexedValueType

    from cluster import register_search_attributes
    from workflows.search_attributes import ALL_KEYS

    sent: dict[str, int] = {}

    class Operator:
        async def add_search_attributes(self, request: Any) -> None:
            sent.update(request.search_attributes)

    class FakeClient:
        namespace = "default"
        operator_service = Operator()

    await register_search_attributes(FakeClient())  # type: ignore[arg-type]
    assert sent == {key.name: key.indexed_value_type for key in ALL_KEYS}
    assert set(sent.values()) <= set(IndexedValueType.values())


# --- Dockerfile -------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            op, _, rest = line.partition(" ")
            out.append((op.upper(), rest.strip()))
    return out


def copied_sources() -> set[str]:
    sources: set[str] = set()
    for op, rest in dockerfile_instructions():
        if op in {"COPY", "ADD"}:
            args = [a for a in shlex.split(rest) if not a.startswith("--")]
            sources.update(a.rstrip("/") for a in args[:-1])
    return sources


def setuptools_targets() -> tuple[list[str], list[str]]:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    tool = pyproject["tool"]["setuptools"]
    return list(tool.get("packages", [])), list(tool.get("py-modules", []))


def test_dockerfile_basics() -> None:
    instructions = dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    assert ("WORKDIR", "/app") in instructions
    users = [rest for op, rest in instructions if op == "USER"]
    assert users and users[-1] not in {"root", "0"}, "the image must run as a non-root user"
    assert instructions[-1] == ("CMD", '["slaflow", "api"]')


def pip_installs() -> list[list[str]]:
    """The arguments of each `pip install` in a RUN, as the shell would split them."""
    installs = []
    for op, rest in dockerfile_instructions():
        if op != "RUN":
            continue
        for step in re.split(r"&&|;", rest):
            words = shlex.split(step)
            if words[:2] == ["pip", "install"]:
                installs.append(words[2:])
    return installs


def test_dockerfile_installs_the_project_with_the_postgres_extra() -> None:
    """psycopg comes with the extra; without it SLAFLOW_DATABASE_URL=postgresql+psycopg fails."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    extra = pyproject["project"]["optional-dependencies"]["postgres"]
    assert any(dep.startswith("psycopg") for dep in extra), extra
    targets = [arg for args in pip_installs() for arg in args if not arg.startswith("-")]
    assert ".[postgres]" in targets, f"the image installs {targets}"
    assert any("--no-cache-dir" in args for args in pip_installs())


def test_dockerfile_copies_every_setuptools_target() -> None:
    packages, modules = setuptools_targets()
    assert packages and modules, "pyproject.toml lists no packages/py-modules"
    sources = copied_sources()
    for package in packages:
        top = package.split(".")[0]
        assert top in sources, f"package {package} is not copied into the image"
    for module in modules:
        assert f"{module}.py" in sources, f"module {module}.py is not copied into the image"


def test_setuptools_targets_exist_in_repo() -> None:
    packages, modules = setuptools_targets()
    for package in packages:
        assert (REPO / package.replace(".", "/")).is_dir(), f"package {package} does not exist"
    for module in modules:
        assert (REPO / f"{module}.py").is_file(), f"module {module}.py does not exist"


def test_dockerfile_copy_sources_exist_and_are_not_ignored() -> None:
    ignored = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for source in sorted(copied_sources()):
        assert (REPO / source).exists(), f"Dockerfile copies {source}, which does not exist"
        hits = [p for p in ignored if fnmatch.fnmatch(source, p.removeprefix("**/"))]
        assert not hits, f"Dockerfile copies {source}, but .dockerignore excludes it ({hits})"


def test_dockerignore_keeps_the_context_small() -> None:
    ignored = {line.strip() for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()}
    for entry in (".venv", ".git", ".slaflow", "tests", "bench", "docs"):
        assert entry in ignored, f".dockerignore does not exclude {entry}"


def test_dockerfile_prepares_the_data_dir(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = str(settings_under(app_env(services, "worker"), monkeypatch).data_dir)
    runs = " ".join(rest for op, rest in dockerfile_instructions() if op == "RUN")
    assert re.search(rf"mkdir\b[^&]*\s{re.escape(data_dir)}\b", runs), runs
    assert re.search(rf"chown\b[^&]*\s{re.escape(data_dir)}\b", runs), runs


# --- README -----------------------------------------------------------------------------------


def readme_compose_section() -> list[str] | None:
    readme = REPO / "README.md"
    if not readme.is_file():
        return None
    lines = readme.read_text(encoding="utf-8").splitlines()
    hit = next((i for i, line in enumerate(lines) if "docker compose" in line), None)
    if hit is None:
        return None
    start, level = 0, 0
    for i in range(hit, -1, -1):
        m = re.match(r"^(#+)\s", lines[i])
        if m:
            start, level = i, len(m.group(1))
            break
    end = len(lines)
    for i in range(start + 1, len(lines)):
        m = re.match(r"^(#+)\s", lines[i])
        if m and (level == 0 or len(m.group(1)) <= level):
            end = i
            break
    return lines[start:end]


def named_services(section: list[str], not_services: set[str]) -> set[str]:
    """Backticked names that the text presents as services: on a line that says "service",
    or leading a list item / table row."""
    token = r"`([a-z][a-z0-9]*(?:[-_][a-z0-9]+)*)`"
    names: set[str] = set()
    in_code = False
    for line in section:
        if line.lstrip().startswith("```"):
            in_code = not in_code
            continue
        if in_code:
            continue
        if "service" in line.lower():
            names.update(re.findall(token, line))
        lead = re.match(rf"^\s*(?:[-*+]|\d+\.|\|)\s*{token}", line)
        if lead:
            names.add(lead.group(1))
    return names - not_services


def not_service_words(compose: dict[str, Any]) -> set[str]:
    """Backticked words the README may mention that are not services: volumes, networks and
    environment values such as the namespace (`default`) or the task queue."""
    words = set(compose.get("volumes") or {}) | set(compose.get("networks") or {})
    for service in compose["services"].values():
        words.update(environment(service).values())
    return words


def test_readme_names_only_real_services(compose: dict[str, Any]) -> None:
    section = readme_compose_section()
    if section is None:
        pytest.skip("README has no compose section yet")
    unknown = named_services(section, not_service_words(compose)) - set(compose["services"])
    assert not unknown, f"README's compose section names services that do not exist: {unknown}"


def test_readme_service_extraction_finds_names() -> None:
    """The README check can fail: its extraction picks up service names as README writes them."""
    section = [
        "## Run it with Docker",
        "`docker compose up --build` starts these services:",
        "- `temporal` — the server, `slaflow-data` is a volume",
        "| `temporal-web` | the UI |",
        "The `api` service listens on 8000; the namespace is `default`.",
        "```",
        "- `inside-code`",
        "```",
    ]
    found = named_services(section, {"slaflow-data", "default"})
    assert found == {"temporal", "temporal-web", "api"}


def test_readme_non_service_words_cover_namespace_and_volume(compose: dict[str, Any]) -> None:
    words = not_service_words(compose)
    assert {"default", "slaflow-tickets", "slaflow-data"} <= words
    assert not {"worker", "api", "temporal-ui"} & words


# --- monitoring (profile `monitoring`) ---------------------------------------------------------

PROMETHEUS = REPO / "deploy" / "prometheus" / "prometheus.yml"
DASHBOARD = REPO / "docs" / "grafana-dashboard.json"


def scrape_targets() -> dict[str, dict[str, Any]]:
    config = yaml.safe_load(PROMETHEUS.read_text(encoding="utf-8"))
    return {job["job_name"]: job for job in config["scrape_configs"]}


def test_monitoring_starts_only_when_asked(services: dict[str, dict[str, Any]]) -> None:
    for name in ("prometheus", "grafana"):
        assert services[name].get("profiles") == ["monitoring"], name
    assert services["slaflow-prometheus-key"].get("profiles") == ["tools"]


def test_prometheus_scrapes_the_addresses_the_services_serve(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    worker = settings_under(app_env(services, "worker"), monkeypatch)
    assert worker.worker_metrics_address and worker.sdk_metrics_address
    jobs = scrape_targets()
    ours = worker.worker_metrics_address.rpartition(":")[2]
    sdk = worker.sdk_metrics_address.rpartition(":")[2]
    assert jobs["slaflow-worker"]["static_configs"] == [{"targets": [f"worker:{ours}"]}]
    assert jobs["temporal-sdk"]["static_configs"] == [{"targets": [f"worker:{sdk}"]}]
    api = settings_under(app_env(services, "api"), monkeypatch)
    assert jobs["slaflow-api"]["static_configs"] == [{"targets": [f"api:{api.api_port}"]}]
    assert bind_mounts(services["prometheus"])["/etc/prometheus/prometheus.yml"] == PROMETHEUS


def test_prometheus_reads_the_key_slaflow_prometheus_key_writes(
    services: dict[str, dict[str, Any]],
) -> None:
    """The API's /metrics wants a staff key: the tool writes one to a volume of its own, which
    Prometheus mounts read-only; the keys file stays on the API's volume."""
    key_file = Path(scrape_targets()["slaflow-api"]["authorization"]["credentials_file"])
    prometheus = keys_volume(services["prometheus"], key_file)
    maker = services["slaflow-prometheus-key"]
    assert prometheus is not None and prometheus[1], "Prometheus should mount the key read-only"
    assert keys_volume(maker, key_file) == (prometheus[0], False)
    script = maker["entrypoint"][-1]
    assert "--role agent" in script and f"> {key_file}" in script, script
    assert not any(str(v).startswith("slaflow-keys:") for v in services["prometheus"]["volumes"])
    runs = " ".join(rest for op, rest in dockerfile_instructions() if op == "RUN")
    assert re.search(rf"chown\b[^&]*\s{re.escape(str(key_file.parent))}\b", runs), runs


def test_grafana_is_provisioned_with_the_dashboard(services: dict[str, dict[str, Any]]) -> None:
    mounts = bind_mounts(services["grafana"])
    assert mounts["/var/lib/grafana/dashboards/slaflow.json"] == DASHBOARD
    provider = yaml.safe_load(
        mounts["/etc/grafana/provisioning/dashboards/slaflow.yaml"].read_text()
    )
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    sources = yaml.safe_load(
        mounts["/etc/grafana/provisioning/datasources/slaflow.yaml"].read_text()
    )
    assert sources["datasources"][0]["url"] == "http://prometheus:9090"


SUFFIXES = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"], "gauge": [""]}


def test_the_dashboard_reads_only_metrics_slaflow_serves() -> None:
    served = {
        family.name + suffix
        for family in REGISTRY.collect()
        if family.name.startswith("slaflow_")
        for suffix in SUFFIXES[family.type]
    }
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    used = {
        name
        for panel in board["panels"]
        for target in panel["targets"]
        for name in re.findall(r"slaflow_[a-z_]+", target["expr"])
    }
    wanted = {  # the numbers: open tickets by SLA state, breaches, lateness, deliveries
        "slaflow_open_tickets",
        "slaflow_breaches_total",
        "slaflow_escalation_lateness_seconds_bucket",
        "slaflow_deliveries_total",
    }
    assert wanted <= used and used <= served, used - served
