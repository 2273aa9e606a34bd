"""The Kubernetes manifests: the offline renderer, and what the rendered overlays promise."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from chatkeeper.cli import cli
from chatkeeper.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
KUSTOMIZE = ROOT / "deploy" / "kubernetes"
OVERLAYS = ("staging", "production")
sys.path.insert(0, str(KUSTOMIZE))

import render  # noqa: E402  (deploy/kubernetes/render.py is a script, not a package)


def rendered(overlay: str) -> dict[tuple[str, str], dict[str, Any]]:
    docs = render.render(KUSTOMIZE / "overlays" / overlay)
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def pod(doc: dict[str, Any]) -> dict[str, Any]:
    return dict(doc["spec"]["template"]["spec"])


def test_strategic_merge_merges_keyed_lists_and_replaces_others() -> None:
    """Containers merge by name, their resources merge as maps, plain lists are replaced."""
    base = {
        "containers": [{"name": "a", "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}],
        "args": ["x", "y"],
    }
    patch = {
        "containers": [{"name": "a", "resources": {"requests": {"cpu": "2"}}}, {"name": "b"}],
        "args": ["z"],
    }
    merged = render.merge(base, patch)
    assert merged["containers"][0]["resources"]["requests"] == {"cpu": "2", "memory": "1Gi"}
    assert [c["name"] for c in merged["containers"]] == ["a", "b"]
    assert merged["args"] == ["z"]
    assert base["containers"][0]["resources"]["requests"]["cpu"] == "1"


def test_renderer_refuses_a_field_it_does_not_implement(tmp_path: Path) -> None:
    """An unsupported kustomization field stops rendering instead of being dropped."""
    (tmp_path / "kustomization.yaml").write_text("resources: []\nnamePrefix: x-\n")
    with pytest.raises(render.RenderError, match="namePrefix"):
        render.render(tmp_path)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_sets_namespace_image_digest_and_replicas(overlay: str) -> None:
    """Every resource is namespaced; images are pinned by digest; replicas as the overlay says."""
    docs = rendered(overlay)
    assert {d["metadata"]["namespace"] for d in docs.values()} == {
        "chatkeeper" if overlay == "production" else "chatkeeper-staging"
    }
    for kind, name in (("Deployment", "chatkeeper-serve"), ("Deployment", "chatkeeper-console")):
        spec = pod(docs[(kind, name)])
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            assert "@sha256:" in container["image"], container["image"]
    serve = docs[("Deployment", "chatkeeper-serve")]
    assert serve["spec"]["replicas"] == (3 if overlay == "production" else 2)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_are_non_root_read_only_limited_and_probed_on_healthz(overlay: str) -> None:
    """Non-root, read-only root, no capabilities, requests and limits, probes on /healthz."""
    docs = rendered(overlay)
    for name in ("chatkeeper-serve", "chatkeeper-console"):
        spec = pod(docs[("Deployment", name)])
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] >= 10000
        assert spec["automountServiceAccountToken"] is False
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            ctx = container["securityContext"]
            assert ctx["readOnlyRootFilesystem"] is True
            assert ctx["allowPrivilegeEscalation"] is False
            assert ctx["capabilities"]["drop"] == ["ALL"]
            assert {"cpu", "memory"} <= set(container["resources"]["limits"])
            assert {"cpu", "memory"} <= set(container["resources"]["requests"])
        main = spec["containers"][0]
        for probe in ("readinessProbe", "livenessProbe"):
            assert main[probe]["httpGet"]["path"] == "/healthz"


def test_secrets_are_mounted_as_files_never_as_environment() -> None:
    """serve reads its secrets through CHATKEEPER_*_FILE from Secret volumes."""
    docs = rendered("production")
    spec = pod(docs[("Deployment", "chatkeeper-serve")])
    serve = spec["containers"][0]
    assert not any("valueFrom" in e for e in serve.get("env", []))
    files = {e["name"]: e["value"] for e in serve["env"]}
    assert files["CHATKEEPER_JOURNAL_DSN_FILE"].startswith("/run/secrets/chatkeeper/")
    assert files["CHATKEEPER_SLACK_SIGNING_SECRET_FILE"].startswith("/run/secrets/chatkeeper/")
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["secrets"]["secret"]["secretName"] == "chatkeeper-secrets"
    assert volumes["signing-key"]["secret"]["secretName"] == "chatkeeper-signing-key"
    config = docs[("ConfigMap", "chatkeeper-config")]["data"]
    assert not any(k.endswith(("_SECRET", "_TOKEN", "_DSN", "_SECRET_KEY")) for k in config)


def test_disruption_budget_network_policy_and_service_monitor_cover_serve() -> None:
    """PDB, default-deny NetworkPolicy and the ServiceMonitor select the serve pods."""
    docs = rendered("production")
    labels = docs[("Deployment", "chatkeeper-serve")]["spec"]["template"]["metadata"]["labels"]

    def selects(selector: dict[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in selector.items())

    assert selects(
        docs[("PodDisruptionBudget", "chatkeeper-serve")]["spec"]["selector"]["matchLabels"]
    )
    deny = docs[("NetworkPolicy", "chatkeeper-default-deny")]["spec"]
    assert selects(deny["podSelector"]["matchLabels"])
    assert deny["policyTypes"] == ["Ingress", "Egress"] and "ingress" not in deny
    monitor = docs[("ServiceMonitor", "chatkeeper-serve")]["spec"]
    assert monitor["endpoints"][0]["path"] == "/metrics"
    service = docs[("Service", "chatkeeper-serve")]
    assert selects(monitor["selector"]["matchLabels"]) or all(
        service["metadata"]["labels"].get(k) == v
        for k, v in monitor["selector"]["matchLabels"].items()
    )
    assert service["spec"]["ports"][0]["name"] == monitor["endpoints"][0]["port"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_renderer_agrees_with_kubectl_kustomize(overlay: str) -> None:
    """Where kubectl is installed, its kustomize renders the same resources as render.py."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: render.py is checked by the tests above only")
    done = subprocess.run(
        [kubectl, "kustomize", str(KUSTOMIZE / "overlays" / overlay)],
        capture_output=True,
        text=True,
        check=True,
    )
    theirs = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(done.stdout)}
    assert rendered(overlay) == theirs


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_console_deployment_runs_the_console_command_on_its_probed_port(
    overlay: str, tmp_path: Path
) -> None:
    """`chatkeeper console` with the pod's environment listens on the port probes and Service
    use, journals into PostgreSQL, pins an archive key, and keeps accounts on a volume."""
    docs = rendered(overlay)
    spec = pod(docs[("Deployment", "chatkeeper-console")])
    main = spec["containers"][0]
    assert main["args"] == ["console"]
    assert CliRunner().invoke(cli, [*main["args"], "--help"]).exit_code == 0
    env = dict(docs[("ConfigMap", "chatkeeper-config")]["data"])
    for entry in main["env"]:
        value = entry["value"]
        if entry["name"].endswith("_FILE"):  # a Secret file: a stand-in with a value
            stand_in = tmp_path / Path(value).name
            stand_in.write_text("postgresql://chatkeeper@db.invalid/chatkeeper\n")
            value = str(stand_in)
        env[entry["name"]] = value
    env["CHATKEEPER_HOME"] = str(tmp_path / "home")
    settings = load_settings(None, env=env)
    port = next(p for p in main["ports"] if p["name"] == "http")["containerPort"]
    assert settings.console.host == "0.0.0.0"  # noqa: S104 (the pod's address, probed)
    assert settings.console.port == port
    for probe in ("readinessProbe", "livenessProbe"):
        assert main[probe]["httpGet"]["port"] == "http"
    service = docs[("Service", "chatkeeper-console")]["spec"]["ports"][0]
    assert service["targetPort"] == "http"
    assert settings.journal.dsn.startswith("postgresql://")
    assert settings.search.backend == "postgres"
    assert settings.archive.trusted_keys  # no signing key in the pod: a pinned anchor
    volumes = {v["name"]: v for v in spec["volumes"]}
    claim = volumes["state"]["persistentVolumeClaim"]["claimName"]
    assert ("PersistentVolumeClaim", claim) in docs
    deployment = docs[("Deployment", "chatkeeper-console")]["spec"]
    assert deployment["replicas"] == 1 and deployment["strategy"]["type"] == "Recreate"
    policy = docs[("NetworkPolicy", "chatkeeper-console")]["spec"]
    egress_ports = {p["port"] for rule in policy["egress"] for p in rule.get("ports", [])}
    assert 5432 in egress_ports  # the journal and the search index
