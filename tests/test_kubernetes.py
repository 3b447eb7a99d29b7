"""deploy/kubernetes/ (Kustomize) checked without a cluster.

Every document is validated against the Kubernetes API's own JSON schemas, strictly (an
unknown field is an error), by `kubernetes-validate`, which bundles the schemas of each
Kubernetes version (no network). The overlay is rendered by a small loader of our own that
does what deploy/kubernetes/kustomization.yaml asks and no more: it reads `resources` (plain
files in the directory), sets `namespace` on the namespaced objects and applies `images`.
Where `kubectl` is installed, `kubectl kustomize` renders it too and must give the same
objects. Then the manifests are held against the code they deploy: the commands, the
settings' names, the probes' ports, the config and keys mounts, and no privilege.
"""

from __future__ import annotations

import argparse
import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from pydantic import ValidationError

from api.auth import KeysFile
from cli import _parser
from settings import Settings, load_config_file
from sla.policy import parse_config

REPO = Path(__file__).resolve().parent.parent
OVERLAY = REPO / "deploy" / "kubernetes"
# The oldest Kubernetes minor still in its providers' support when this was written, and the
# newest whose schemas the installed kubernetes-validate bundles.
VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
# Kinds that live outside a namespace (the only cluster-scoped kind the overlay has).
CLUSTER_SCOPED = {"Namespace"}
WORKLOADS = {"Deployment", "Job"}
TEMPORAL_ENV = {
    "TEMPORAL_ADDRESS",
    "TEMPORAL_NAMESPACE",
    "TEMPORAL_PROFILE",
    "TEMPORAL_CONFIG_FILE",
    "TEMPORAL_API_KEY",
}

Doc = dict[str, Any]


def kustomization() -> Doc:
    data = yaml.safe_load((OVERLAY / "kustomization.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def render() -> list[Doc]:
    """The overlay as `kubectl kustomize` would render it, for what kustomization.yaml uses."""
    spec = kustomization()
    handled = {"apiVersion", "kind", "namespace", "resources", "images"}
    assert set(spec) <= handled, f"the test's loader does not apply {set(spec) - handled}"
    images = {image["name"]: image for image in spec.get("images", [])}
    docs: list[Doc] = []
    for name in spec["resources"]:
        path = OVERLAY / name
        assert path.is_file(), f"{name}: the loader reads plain files only"
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc is None:
                continue
            if "namespace" in spec and doc["kind"] not in CLUSTER_SCOPED:
                doc["metadata"]["namespace"] = spec["namespace"]
            for container in containers(doc):
                image = images.get(container["image"])
                if image is not None:
                    container["image"] = f"{image['newName']}:{image['newTag']}"
            docs.append(doc)
    return docs


def pod_spec(doc: Doc) -> Doc | None:
    if doc["kind"] not in WORKLOADS:
        return None
    spec: Doc = doc["spec"]["template"]["spec"]
    return spec


def containers(doc: Doc) -> list[Doc]:
    spec = pod_spec(doc)
    if spec is None:
        return []
    return [*spec.get("initContainers", []), *spec["containers"]]


@pytest.fixture(scope="module")
def docs() -> list[Doc]:
    return render()


def one(docs: list[Doc], kind: str, name: str) -> Doc:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def main_container(docs: list[Doc], kind: str, name: str) -> Doc:
    spec = pod_spec(one(docs, kind, name))
    assert spec is not None
    (container,) = spec["containers"]
    assert isinstance(container, dict)
    return container


def key(doc: Doc) -> tuple[str, str, str]:
    return (doc["kind"], doc["metadata"].get("namespace", ""), doc["metadata"]["name"])


def test_every_document_is_valid_against_the_kubernetes_schemas(docs: list[Doc]) -> None:
    assert {d["kind"] for d in docs} >= {
        "Namespace",
        "ConfigMap",
        "Secret",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "Job",
    }
    for doc in docs:
        for version in VERSIONS:
            kubernetes_validate.validate(doc, version, strict=True)


def test_the_validation_is_real(docs: list[Doc]) -> None:
    """A misspelt field and a wrong type are refused: the check above can fail."""
    deployment = copy.deepcopy(one(docs, "Deployment", "slaflow-worker"))
    deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRot"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, VERSIONS[-1], strict=True)
    deployment = copy.deepcopy(one(docs, "Deployment", "slaflow-worker"))
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, VERSIONS[-1], strict=True)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="no kubectl on PATH")
def test_kubectl_kustomize_renders_what_the_loader_renders(docs: list[Doc]) -> None:
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(OVERLAY)], capture_output=True, text=True, timeout=60
    )
    assert rendered.returncode == 0, rendered.stderr
    theirs = {key(d): d for d in yaml.safe_load_all(rendered.stdout) if d}
    ours = {key(d): d for d in docs}
    assert theirs == ours


def test_names_resolve_within_the_overlay(docs: list[Doc]) -> None:
    """Every ConfigMap and Secret a pod reads is in the overlay, with the keys it mounts; the
    Service and the PodDisruptionBudgets select the pods they mean."""
    config_maps = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ConfigMap"}
    secrets = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Secret"}
    for doc in docs:
        spec = pod_spec(doc)
        if spec is None:
            continue
        for container in containers(doc):
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in config_maps
                if "secretRef" in source:
                    assert source["secretRef"]["name"] in secrets
        for volume in spec.get("volumes", []):
            if "configMap" in volume:
                assert volume["configMap"]["name"] in config_maps
            if "secret" in volume:
                assert volume["secret"]["secretName"] in secrets
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    selectors = [
        *(d["spec"]["selector"]["matchLabels"] for d in docs if d["kind"] == "PodDisruptionBudget"),
        *(d["spec"]["selector"] for d in docs if d["kind"] == "Service"),
    ]
    for selector in selectors:
        matched = [
            name
            for name, d in deployments.items()
            if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(matched) == 1, f"{selector} selects {matched}"
    for doc in docs:
        if doc["kind"] == "PodDisruptionBudget":
            (target,) = (
                d
                for d in deployments.values()
                if doc["spec"]["selector"]["matchLabels"].items()
                <= d["spec"]["template"]["metadata"]["labels"].items()
            )
            # Below the replicas, or a drain could never evict any of them; pods not ready
            # (an outage) never hold a drain up.
            assert doc["spec"]["minAvailable"] < target["spec"]["replicas"]
            assert doc["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"


def test_the_commands_are_slaflows(docs: list[Doc]) -> None:
    (subcommands,) = (
        action for action in _parser()._actions if isinstance(action, argparse._SubParsersAction)
    )
    commands = set(subcommands.choices)
    assert main_container(docs, "Deployment", "slaflow-worker")["command"] == [
        "slaflow",
        "worker",
    ]
    assert main_container(docs, "Deployment", "slaflow-api")["command"] == ["slaflow", "api"]
    assert main_container(docs, "Job", "slaflow-setup")["command"] == ["slaflow", "setup"]
    image = kustomization()["images"][0]
    for doc in docs:
        for container in containers(doc):
            assert container["command"][0] == "slaflow"
            assert container["command"][1] in commands
            assert container["image"] == f"{image['newName']}:{image['newTag']}"


def environment(docs: list[Doc], container: Doc) -> dict[str, str]:
    """A container's environment as the pod sees it: envFrom first, env over it."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        ref = source.get("configMapRef") or source.get("secretRef")
        kind = "ConfigMap" if "configMapRef" in source else "Secret"
        obj = one(docs, kind, ref["name"])
        env.update(obj.get("data") or {})
        env.update(obj.get("stringData") or {})
    env.update({item["name"]: item.get("value", "") for item in container.get("env", [])})
    return env


def test_every_setting_named_is_one_slaflow_reads(docs: list[Doc]) -> None:
    fields = set(Settings.model_fields)
    for doc in docs:
        for container in containers(doc):
            for name in environment(docs, container):
                if name.startswith("SLAFLOW_"):
                    assert name.removeprefix("SLAFLOW_").lower() in fields, name
                else:  # Temporal's environment config (cluster.py), the archive's AWS_*,
                    # OpenTelemetry's (tracing.py)
                    assert name in TEMPORAL_ENV or name.startswith(("AWS_", "OTEL_")), name


def test_every_process_agrees_on_temporal_and_the_store(docs: list[Doc]) -> None:
    shared = ("TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "SLAFLOW_TASK_QUEUE", "SLAFLOW_CONFIG")
    seen = {
        tuple(environment(docs, c).get(name) for name in shared)
        for d in docs
        for c in containers(d)
    }
    assert len(seen) == 1 and None not in next(iter(seen))
    for doc in docs:
        for container in containers(doc):
            env = environment(docs, container)
            # A SQLite file in an emptyDir would be a store per pod, lost with it.
            assert env["SLAFLOW_DATABASE_URL"].startswith("postgresql+psycopg://")
            assert env["SLAFLOW_ARCHIVE_URL"].startswith("s3://")


def mounts(doc: Doc, container: Doc) -> dict[str, Doc]:
    """Mount path -> the volume behind it."""
    spec = pod_spec(doc)
    assert spec is not None
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    return {m["mountPath"]: volumes[m["name"]] for m in container.get("volumeMounts", [])}


def test_no_privilege_and_a_read_only_root(docs: list[Doc]) -> None:
    """The restricted Pod Security Standard, and a read-only root filesystem with an emptyDir
    wherever the process writes (the data dir, /tmp); secrets and config mounted read-only."""
    namespace = one(docs, "Namespace", "slaflow")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    workloads = [d for d in docs if pod_spec(d) is not None]
    assert len(workloads) == 3
    for doc in workloads:
        spec = pod_spec(doc)
        assert spec is not None
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True
        # The image's user is a name; Kubernetes can check non-root only for a number.
        assert pod["runAsUser"] > 0 and pod["runAsGroup"] > 0
        assert pod["seccompProfile"]["type"] == "RuntimeDefault"
        assert spec["automountServiceAccountToken"] is False
        assert not spec.get("hostNetwork") and not spec.get("hostPID") and not spec.get("hostIPC")
        for container in containers(doc):
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["readOnlyRootFilesystem"] is True
            assert context.get("privileged", False) is False
            assert context["capabilities"] == {"drop": ["ALL"]}
            assert "runAsUser" not in context or context["runAsUser"] > 0
            env = environment(docs, container)
            by_path = mounts(doc, container)
            for mount in container["volumeMounts"]:
                volume = by_path[mount["mountPath"]]
                if "emptyDir" not in volume:
                    assert mount.get("readOnly") is True, mount
            for writable in (env["SLAFLOW_DATA_DIR"], "/tmp"):
                assert "emptyDir" in by_path[writable], writable
            config = Path(env["SLAFLOW_CONFIG"])
            assert by_path[str(config.parent)]["configMap"]["name"] == "slaflow-config"


def test_the_config_map_holds_a_valid_config(docs: list[Doc], tmp_path: Path) -> None:
    text = one(docs, "ConfigMap", "slaflow-config")["data"]["sla.yaml"]
    (tmp_path / "sla.yaml").write_text(text, encoding="utf-8")
    load_config_file(tmp_path / "sla.yaml")  # ConfigError names the key
    shipped = yaml.safe_load((REPO / "config" / "sla.yaml").read_text(encoding="utf-8"))
    assert parse_config(yaml.safe_load(text)) == parse_config(shipped)


def test_the_keys_come_from_the_secret_and_the_placeholder_opens_nothing(
    docs: list[Doc],
) -> None:
    api = one(docs, "Deployment", "slaflow-api")
    (container,) = api["spec"]["template"]["spec"]["containers"]
    keys_file = Path(environment(docs, container)["SLAFLOW_API_KEYS_FILE"])
    volume = mounts(api, container)[str(keys_file.parent)]
    assert volume["secret"]["secretName"] == "slaflow-keys"
    placeholder = one(docs, "Secret", "slaflow-keys")["stringData"][keys_file.name]
    # Shipped as is, the API refuses the file and does not start: no known key ever opens it.
    with pytest.raises(ValidationError):
        KeysFile.model_validate(yaml.safe_load(placeholder))
    # Only the API has the keys.
    for doc in docs:
        if doc is not api:
            for spec_volume in (pod_spec(doc) or {}).get("volumes", []):
                assert spec_volume.get("secret", {}).get("secretName") != "slaflow-keys"


def port_of(container: Doc, port: str | int) -> int:
    if isinstance(port, int):
        return port
    (number,) = (p["containerPort"] for p in container["ports"] if p["name"] == port)
    return int(number)


def test_probes_ask_the_right_process_the_right_question(docs: list[Doc]) -> None:
    """Liveness asks /livez (nothing but the process), readiness /readyz (its dependencies),
    on the port the process serves them on."""
    api = main_container(docs, "Deployment", "slaflow-api")
    worker = main_container(docs, "Deployment", "slaflow-worker")
    api_port = int(environment(docs, api)["SLAFLOW_API_PORT"])
    metrics = environment(docs, worker)["SLAFLOW_WORKER_METRICS_ADDRESS"]
    host, _, worker_port = metrics.rpartition(":")
    assert host == "0.0.0.0"  # the kubelet probes the pod's IP, not its loopback
    for container, port in ((api, api_port), (worker, int(worker_port))):
        for probe, path in (
            ("startupProbe", "/livez"),
            ("livenessProbe", "/livez"),
            ("readinessProbe", "/readyz"),
        ):
            check = container[probe]["httpGet"]
            assert check["path"] == path, (container["name"], probe)
            assert port_of(container, check["port"]) == port, (container["name"], probe)
    # Every address the worker serves is on every interface and declared as a port.
    for name in ("SLAFLOW_WORKER_METRICS_ADDRESS", "SLAFLOW_SDK_METRICS_ADDRESS"):
        host, _, port = environment(docs, worker)[name].rpartition(":")
        assert host == "0.0.0.0"
        assert int(port) in {p["containerPort"] for p in worker["ports"]}
    service = one(docs, "Service", "slaflow-api")
    (service_port,) = service["spec"]["ports"]
    assert port_of(api, service_port["targetPort"]) == api_port


def test_every_container_has_resources(docs: list[Doc]) -> None:
    for doc in docs:
        for container in containers(doc):
            resources = container["resources"]
            assert {"cpu", "memory"} <= resources["requests"].keys(), doc["metadata"]["name"]
            assert "memory" in resources["limits"], doc["metadata"]["name"]


def test_a_rolling_update_lets_the_worker_drain(docs: list[Doc]) -> None:
    """The pods get longer than the worker's graceful shutdown to stop."""
    for name in ("slaflow-worker", "slaflow-api"):
        deployment = one(docs, "Deployment", name)
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        grace = environment(docs, container)["SLAFLOW_GRACEFUL_SHUTDOWN"]
        assert grace.endswith("s")
        period = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        assert period > int(grace.removesuffix("s"))
