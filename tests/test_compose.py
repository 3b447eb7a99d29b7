"""The distributed deployment (docker-compose.yml, Dockerfile, deploy/) checked without Docker.

No Docker engine is needed: these tests read the files and hold them against the code they
deploy (Settings, pyproject.toml, the search attributes the workflows write, README.md).
"""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from settings import Settings

REPO = Path(__file__).resolve().parent.parent
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
DEPLOY = REPO / "deploy"

SETUP_SERVICE = "temporal-create-namespace"
REQUIRED_SERVICES = {
    "postgresql",
    "temporal-admin-tools",
    "temporal",
    SETUP_SERVICE,
    "temporal-ui",
    "worker",
    "api",
}
APP_SERVICES = {"worker": ["slaflow", "worker"], "api": ["slaflow", "api"]}
SEARCH_ATTRIBUTES = {
    "TicketStatus": "Keyword",
    "TicketPriority": "Keyword",
    "CustomerId": "Keyword",
    "SlaBreached": "Bool",
    "ResponseDueAt": "Datetime",
    "ResolutionDueAt": "Datetime",
    "EscalationLevel": "Int",
}


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
    assert depends_on(services[SETUP_SERVICE]).get("temporal") == "service_healthy"
    for name in ("temporal-admin-tools", "temporal"):
        env = environment(services[name])
        assert env.get("DB") == "postgres12", name
        assert env.get("POSTGRES_SEEDS") == "postgresql", name
        assert env.get("DB_PORT") == "5432", name
    assert environment(services["temporal-ui"]).get("TEMPORAL_ADDRESS") == "temporal:7233"
    assert "8080:8080" in [str(p) for p in services["temporal-ui"].get("ports", [])]
    assert "7233:7233" in [str(p) for p in services["temporal"].get("ports", [])]


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
    for name in ("temporal-admin-tools", SETUP_SERVICE):
        service = services[name]
        mounts = bind_mounts(service)
        scripts = [part for part in command(service) if part.endswith(".sh")]
        assert scripts, f"{name} runs no script"
        for script in scripts:
            dst = next(d for d in mounts if script.startswith(d.rstrip("/") + "/"))
            host = mounts[dst] / script[len(dst) :].lstrip("/")
            assert host.is_file(), f"{name} runs {script}, but {host} does not exist"


def test_app_services_build_from_repo_and_run_slaflow(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, expected in APP_SERVICES.items():
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


def test_app_env_vars_are_read_by_settings(services: dict[str, dict[str, Any]]) -> None:
    accepted = accepted_env_names()
    for name in APP_SERVICES:
        unknown = set(app_env(services, name)) - accepted
        assert not unknown, f"{name} sets {sorted(unknown)}, which Settings does not read"


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_settings_under_service_env(
    name: str, services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_under(app_env(services, name), monkeypatch)
    assert settings.temporal_address == "temporal:7233"
    assert settings.temporal_namespace == "default"
    assert settings.task_queue == "slaflow-tickets"
    assert settings.data_dir == Path("/data")
    assert settings.api_port == 8000
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
    assert f":{settings.api_port}/healthz" in health, health


def test_data_volume_is_shared(
    compose: dict[str, Any], services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    volumes = compose.get("volumes") or {}
    for name in APP_SERVICES:
        data_dir = settings_under(app_env(services, name), monkeypatch).data_dir
        mounted = [str(v) for v in services[name].get("volumes") or []]
        assert f"slaflow-data:{data_dir}" in mounted, f"{name} mounts {mounted}"
    assert "slaflow-data" in volumes, "volume slaflow-data is not declared"


# --- search attributes ------------------------------------------------------------------------


def setup_text() -> str:
    """The compose file plus every script/config under deploy/: where registration can live."""
    parts = [COMPOSE.read_text(encoding="utf-8")]
    parts += [p.read_text(encoding="utf-8") for p in sorted(DEPLOY.rglob("*")) if p.is_file()]
    return "\n".join(parts)


def registers(text: str, name: str, kind: str) -> bool:
    patterns = [
        rf"^\s*register\s+{name}\s+{kind}\s*$",
        rf"--name[ =]\"?{name}\"?\s+--type[ =]\"?{kind}\"?",
    ]
    return any(re.search(p, text, re.MULTILINE) for p in patterns)


@pytest.mark.parametrize(("name", "kind"), sorted(SEARCH_ATTRIBUTES.items()))
def test_search_attribute_registered(name: str, kind: str) -> None:
    assert registers(setup_text(), name, kind), f"{name} ({kind}) is not registered by the setup"


def test_registered_attributes_match_the_workflow_keys() -> None:
    from workflows.search_attributes import ALL_KEYS

    text = setup_text()
    for key in ALL_KEYS:
        kind = key.indexed_value_type.name.removeprefix("INDEXED_VALUE_TYPE_").title()
        kind = {"Keywordlist": "KeywordList"}.get(kind, kind)
        assert registers(text, key.name, kind), f"{key.name} ({kind}) is not registered"


def test_setup_creates_the_namespace_the_apps_use(services: dict[str, dict[str, Any]]) -> None:
    namespace = environment(services[SETUP_SERVICE]).get("DEFAULT_NAMESPACE")
    for name in APP_SERVICES:
        assert environment(services[name]).get("TEMPORAL_NAMESPACE") == namespace, name
    assert "temporal operator namespace create" in setup_text()


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
    assert any(op == "RUN" and "pip install --no-cache-dir ." in rest for op, rest in instructions)


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
