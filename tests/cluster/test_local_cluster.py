"""The loopback control plane itself (tooling.local_cluster), as the program's stacks rely on it: workloads
become ready on kwok's fake nodes, claims of the default StorageClass bind and can be expanded,
LoadBalancer Services and Ingresses get an address, claims outlive their StatefulSet, the Prometheus
Operator's and cert-manager's kinds are served and cert-manager's controller runs beside it; and the tier runs
on a cluster of its own, never on the one `make up` deploys to.

The tests run in file order on one namespace (what was scripts/local-cluster/smoke-test.sh).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cluster.conftest import Kubectl, eventually
from tooling.local_cluster import LocalCluster, instance
from tooling.local_cluster.api import Client
from tooling.local_cluster.processes import cmdline

pytestmark = pytest.mark.cluster

NS = "local-cluster-smoke"


def manifest(api_version: str, kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}, "spec": spec}


def workload(kind: str, app: str, image: str, replicas: int, **extra: Any) -> dict[str, Any]:
    mounts = [{"name": c["metadata"]["name"], "mountPath": "/data"} for c in extra.get("volumeClaimTemplates", [])]
    container = {"name": app, "image": image, **({"volumeMounts": mounts} if mounts else {})}
    template = {"metadata": {"labels": {"app": app}}, "spec": {"containers": [container]}}
    spec = {"replicas": replicas, "selector": {"matchLabels": {"app": app}}, "template": template, **extra}
    return manifest("apps/v1", kind, app, spec)


def service(name: str, app: str, port: int, **extra: Any) -> dict[str, Any]:
    return manifest("v1", "Service", name, {"selector": {"app": app}, "ports": [{"port": port}], **extra})


def workloads() -> list[dict[str, Any]]:
    claim = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    return [
        workload("Deployment", "web", "nginx:1.27", 2),
        service("web", "web", 80),
        service("db", "db", 5432, clusterIP="None"),
        workload(
            "StatefulSet",
            "db",
            "postgres:16",
            2,
            serviceName="db",
            volumeClaimTemplates=[{"metadata": {"name": "data"}, "spec": claim}],
        ),
    ]


def ready_replicas(kubectl: Kubectl, kind: str, name: str) -> int:
    return kubectl.get(kind, NS, name).get("status", {}).get("readyReplicas") or 0


@pytest.fixture(scope="module")
def smoke(kubectl: Kubectl) -> Iterator[Kubectl]:
    kubectl.run("create", "namespace", NS)
    try:
        assert eventually(lambda: kubectl.exists("serviceaccount", NS, "default"), 30)
        kubectl.apply(NS, *workloads())
        yield kubectl
    finally:
        kubectl.run("delete", "namespace", NS, "--wait=false", check=False)


def test_the_tier_runs_on_a_cluster_of_its_own(kubeconfig: str) -> None:
    own, make_up = instance("test"), instance("default")
    assert Path(kubeconfig).is_relative_to(own.state_dir)
    assert not Path(kubeconfig).is_relative_to(make_up.state_dir)
    server = yaml.safe_load(Path(kubeconfig).read_text())["clusters"][0]["cluster"]["server"]
    assert server == f"https://127.0.0.1:{own.ports.apiserver}" != make_up.server
    assert not {port for _, port in own.ports.items()} & {port for _, port in make_up.ports.items()}


def test_a_deployment_becomes_ready_on_the_fake_nodes(smoke: Kubectl) -> None:
    assert eventually(lambda: ready_replicas(smoke, "deployment", "web") == 2, 90)
    nodes = {
        pod["spec"].get("nodeName") for pod in smoke.items("pods", NS) if pod["metadata"]["name"].startswith("web")
    }
    assert nodes and nodes <= {"kwok-node-0", "kwok-node-1"}


def test_the_deployments_service_has_two_ready_endpoints(smoke: Kubectl) -> None:
    def ready() -> int:
        slices = smoke.run("get", "endpointslices", "-n", NS, "-l", "kubernetes.io/service-name=web", "-o", "json")
        items = yaml.safe_load(slices.stdout)["items"]
        return sum(1 for s in items for e in s.get("endpoints") or [] if e["conditions"].get("ready"))

    assert eventually(lambda: ready() == 2, 30)


def test_a_statefulset_becomes_ready_with_bound_claims_of_the_default_class(smoke: Kubectl) -> None:
    assert eventually(lambda: ready_replicas(smoke, "statefulset", "db") == 2, 120)
    for claim in ("data-db-0", "data-db-1"):
        pvc = smoke.get("pvc", NS, claim)
        assert (pvc["status"]["phase"], pvc["spec"]["storageClassName"]) == ("Bound", "standard"), claim


def test_an_expanded_claim_reports_its_new_capacity(smoke: Kubectl) -> None:
    smoke.run(
        "patch",
        "pvc",
        "data-db-0",
        "-n",
        NS,
        "--type",
        "merge",
        "-p",
        '{"spec":{"resources":{"requests":{"storage":"2Gi"}}}}',
    )
    assert smoke.get("pvc", NS, "data-db-0")["spec"]["resources"]["requests"]["storage"] == "2Gi"
    assert eventually(lambda: smoke.get("pvc", NS, "data-db-0")["status"]["capacity"]["storage"] == "2Gi", 30)


def test_a_statefulset_scales_up(smoke: Kubectl) -> None:
    smoke.run("scale", "statefulset", "db", "-n", NS, "--replicas=3")
    assert eventually(lambda: ready_replicas(smoke, "statefulset", "db") == 3, 60)


def test_load_balancer_services_and_ingresses_get_a_loopback_address(smoke: Kubectl) -> None:
    path = {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}
    rule = {"host": "web.nexus.test", "http": {"paths": [path]}}
    smoke.apply(
        NS,
        service("web-lb", "web", 80, type="LoadBalancer"),
        manifest("networking.k8s.io/v1", "Ingress", "web", {"rules": [rule]}),
    )
    for kind, name in (("service", "web-lb"), ("ingress", "web")):

        def address(kind: str = kind, name: str = name) -> str | None:
            ingress = smoke.get(kind, NS, name).get("status", {}).get("loadBalancer", {}).get("ingress") or [{}]
            return ingress[0].get("ip")

        assert eventually(lambda: address() == "127.0.0.1", 30), f"{kind}/{name}"


def test_claims_outlive_their_statefulset(smoke: Kubectl) -> None:
    smoke.run("delete", "statefulset", "db", "-n", NS, "--wait=true", "--timeout=60s")
    smoke.run("delete", "deployment", "web", "-n", NS, "--wait=true", "--timeout=60s")
    assert eventually(lambda: smoke.items("pods", NS) == [], 60)
    claims = {pvc["metadata"]["name"]: pvc["status"]["phase"] for pvc in smoke.items("pvc", NS)}
    assert claims == {"data-db-0": "Bound", "data-db-1": "Bound", "data-db-2": "Bound"}


def test_the_cluster_serves_the_prometheus_operators_scrape_and_rule_kinds(kubectl: Kubectl) -> None:
    # Staging and prod ship ServiceMonitors and PrometheusRules; without their CRDs those stacks cannot deploy.
    served = kubectl.run("api-resources", "--api-group=monitoring.coreos.com", "-o", "name").stdout.split()
    assert {"servicemonitors.monitoring.coreos.com", "podmonitors.monitoring.coreos.com"} <= set(served)
    assert "prometheusrules.monitoring.coreos.com" in served


def test_the_cluster_serves_cert_managers_kinds_at_v1(kubectl: Kubectl) -> None:
    # Stacks with TLS ask cert-manager for their servers' certificates; its controller runs beside the cluster.
    for group, kinds in (
        ("cert-manager.io", {"certificates", "certificaterequests", "issuers", "clusterissuers"}),
        ("acme.cert-manager.io", {"orders", "challenges"}),
    ):
        served = kubectl.run("api-resources", f"--api-group={group}", "-o", "name").stdout.split()
        assert {f"{kind}.{group}" for kind in kinds} <= set(served), group
        assert kubectl.run("api-versions").stdout.split().count(f"{group}/v1") == 1, group


def test_cert_managers_controller_runs_beside_the_control_plane_on_the_tiers_own_ports(kubeconfig: str) -> None:
    cluster = LocalCluster(instance("test"))
    args = cmdline(cluster.procs.pid_of("cert-manager-controller") or 0)
    assert args, "cert-manager-controller is not running"

    def flag(name: str) -> str:
        return args[args.index(name) + 1]

    ports = cluster.instance.ports
    assert flag("--kubeconfig") == str(cluster.instance.state_dir / "cert-manager.kubeconfig")
    assert flag("--metrics-listen-address") == f"127.0.0.1:{ports.cert_manager_metrics}"
    assert flag("--healthz-listen-address") == f"127.0.0.1:{ports.cert_manager_healthz}"
    assert Client(ports.cert_manager_healthz, tls=False).ok("/livez", "ok")
