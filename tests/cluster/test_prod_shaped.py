"""A prod-shaped stack on the loopback API server: the committed prod config with its sizes scaled down
to what two fake nodes hold.

Invariants protected: prod's shape itself (several replicas per workload, PodDisruptionBudgets, a
NetworkPolicy in every namespace the stack creates, LoadBalancer exposure where allowed, HPAs) deploys
on a real API server and every workload becomes ready; nothing diffs afterwards; and once every HPA has
scaled its workload to its floor, the drift check (`python -m tooling.drift`, the scheduled drift workflow's)
reports nothing: what controllers change there is expected drift, not drift. One deploy serves all of them.

It also holds prod's security profile: cert-manager (run on the host by the local cluster) issues every
Certificate the stack asks for, and every data-store pod mounts the issued Secret its server reads.

Scaled down, and nothing else changed: storage sizes to 1Gi, container resources and tenant RAM to small
values, `instanceType` unset (kwok nodes carry no instance-type label), every StorageClass to the local
`standard`, and hard pod anti-affinity to soft (two fake nodes cannot hold three members of a set apart).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any

import pytest

from policy.rules import SINGLE_POD_ANNOTATION, TLS_MODE_ANNOTATION
from tests.cluster.conftest import Kubectl
from tooling import drift
from tooling.engine import ProgramCopy, ScratchStack
from tooling.stackfiles import stack_config

pytestmark = pytest.mark.cluster

SMALL_RESOURCES = {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "256Mi"}}


def scaled_down(value: Any) -> Any:
    """Overrides for the prod config: small sizes (see the module docstring); None removes a key."""
    if isinstance(value, list):
        return [scaled_down(item) for item in value]
    if not isinstance(value, dict):
        return value
    result: dict[str, Any] = {}
    for key, child in value.items():
        if key in ("storageSize", "size") and isinstance(child, str):
            result[key] = "1Gi"
        elif key == "storageClass":
            result[key] = "standard"
        elif key == "instanceType":
            result[key] = None
        elif key == "podAntiAffinity" and child == "hard":
            result[key] = "soft"
        elif key == "resources":
            result[key] = SMALL_RESOURCES
        elif key == "ram":
            result[key] = "512Mi"
        else:
            result[key] = scaled_down(child)
    return result


@pytest.fixture(scope="module")
def prod(program: ProgramCopy, kubectl: Kubectl) -> Iterator[ScratchStack]:
    kubectl.clear_program_namespaces()
    stack = program.stack("cluster-prod", "prod", overrides=scaled_down(stack_config("prod")), render=False)
    try:
        stack.up().check("pulumi up of the prod-shaped stack on the local cluster")
        yield stack
    finally:
        stack.destroy()
        stack.remove()
        kubectl.clear_program_namespaces()


def created_namespaces(stack: ScratchStack) -> list[str]:
    resources = stack.export()["deployment"]["resources"]
    return sorted(r["outputs"]["metadata"]["name"] for r in resources if r["type"] == "kubernetes:core/v1:Namespace")


def single_pod_by_design(workload: dict[str, Any]) -> bool:
    return (workload["metadata"].get("annotations") or {}).get(SINGLE_POD_ANNOTATION) == "true"


def test_every_prod_workload_is_ready(prod: ScratchStack, kubectl: Kubectl) -> None:
    workloads = [w for ns in created_namespaces(prod) for w in kubectl.items("deployments,statefulsets", ns)]
    assert len(workloads) >= 10
    for w in workloads:
        name = f"{w['metadata']['namespace']}/{w['metadata']['name']}"
        assert (w["status"].get("readyReplicas") or 0) == w["spec"]["replicas"], name


def test_prod_workloads_run_two_replicas_or_more_unless_single_pod_by_design(
    prod: ScratchStack, kubectl: Kubectl
) -> None:
    # Under an autoscaler the chart leaves spec.replicas to the HPA, whose floor is the promise.
    floors = {
        f"{h['metadata']['namespace']}/{h['spec']['scaleTargetRef']['name']}": h["spec"].get("minReplicas", 1)
        for ns in created_namespaces(prod)
        for h in kubectl.items("horizontalpodautoscalers", ns)
    }
    workloads = [w for ns in created_namespaces(prod) for w in kubectl.items("deployments,statefulsets", ns)]
    single = [
        name
        for w in workloads
        if max(w["spec"]["replicas"], floors.get(name := f"{w['metadata']['namespace']}/{w['metadata']['name']}", 0))
        < 2
    ]
    exempt = [f"{w['metadata']['namespace']}/{w['metadata']['name']}" for w in workloads if single_pod_by_design(w)]
    assert sorted(set(single) - set(exempt)) == []


def test_every_namespace_the_prod_stack_creates_has_a_network_policy(prod: ScratchStack, kubectl: Kubectl) -> None:
    namespaces = created_namespaces(prod)
    # The platform's four systems; tenants live in stacks of their own (tests/cluster/test_tenant_stacks.py).
    assert namespaces == ["core-pipeline", "data", "order-platform", "postgres"]
    assert [ns for ns in namespaces if not kubectl.items("networkpolicies", ns)] == []


def test_the_orders_read_pool_runs_the_two_prod_replicas(prod: ScratchStack, kubectl: Kubectl) -> None:
    read = kubectl.get("statefulset", "postgres", "orders-postgresql-read")
    assert (read["spec"]["replicas"], read["status"].get("readyReplicas")) == (2, 2)


def issued_certificates(kubectl: Kubectl, namespaces: list[str]) -> list[dict[str, Any]]:
    return [c for ns in namespaces for c in kubectl.items("certificates.cert-manager.io", ns)]


def test_cert_manager_issues_every_certificate_of_the_prod_stack(prod: ScratchStack, kubectl: Kubectl) -> None:
    certificates = issued_certificates(kubectl, created_namespaces(prod))
    # One per data-tier server (5 PostgreSQL, 2 MongoDB, Redis, Kafka, ZooKeeper), the Bitnami cluster, and the
    # two consumers' own (core-pipeline, the order platform).
    assert len(certificates) >= 13
    not_ready = [
        f"{c['metadata']['namespace']}/{c['metadata']['name']}"
        for c in certificates
        if not any(cond["type"] == "Ready" and cond["status"] == "True" for cond in c["status"].get("conditions", []))
    ]
    assert not_ready == []


def test_every_issued_secret_holds_a_certificate_for_its_servers_names_signed_by_the_stacks_ca(
    prod: ScratchStack, kubectl: Kubectl
) -> None:
    from cryptography import x509

    for certificate in issued_certificates(kubectl, created_namespaces(prod)):
        namespace, spec = certificate["metadata"]["namespace"], certificate["spec"]
        data = kubectl.get("secret", namespace, spec["secretName"])["data"]
        assert {"tls.crt", "tls.key", "ca.crt"} <= set(data), spec["secretName"]
        leaf = x509.load_pem_x509_certificates(base64.b64decode(data["tls.crt"]))[0]
        ca = x509.load_pem_x509_certificate(base64.b64decode(data["ca.crt"]))
        leaf.verify_directly_issued_by(ca)
        if not spec.get("dnsNames"):
            continue  # a consumer's client certificate (core-pipeline, the order platform): no server names
        names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName
        )
        assert set(spec["dnsNames"]) <= set(names), spec["secretName"]


def test_every_data_store_pod_mounts_the_issued_certificate_its_server_reads(
    prod: ScratchStack, kubectl: Kubectl
) -> None:
    namespaces = created_namespaces(prod)
    issued = {(c["metadata"]["namespace"], c["spec"]["secretName"]) for c in issued_certificates(kubectl, namespaces)}
    stores = [s for ns in namespaces for s in kubectl.items("statefulsets", ns)]
    databases = [s for s in stores if s["metadata"]["namespace"] in ("data", "postgres")]
    assert len(databases) >= 11
    for store in databases:
        namespace = store["metadata"]["namespace"]
        pods = kubectl.items("pods", namespace)
        name = store["metadata"]["name"]
        owned = [p for p in pods if any(o["name"] == name for o in p["metadata"].get("ownerReferences", []))]
        assert owned, name
        for pod in owned:
            secrets = {v["secret"]["secretName"] for v in pod["spec"]["volumes"] if "secret" in v}
            assert {(namespace, secret) for secret in secrets} & issued, pod["metadata"]["name"]
            assert pod["metadata"]["annotations"].get(TLS_MODE_ANNOTATION) == "required", pod["metadata"]["name"]


def test_the_prod_shaped_stack_shows_no_changes_after_up(prod: ScratchStack) -> None:
    prod.preview("--expect-no-changes").check("pulumi preview --expect-no-changes of the prod-shaped stack")


def hpa_workloads_below_their_floor(kubectl: Kubectl) -> list[str]:
    below = []
    for hpa in kubectl.items("horizontalpodautoscalers"):
        ns, ref = hpa["metadata"]["namespace"], hpa["spec"]["scaleTargetRef"]
        target = kubectl.get(ref["kind"].lower(), ns, ref["name"])
        if target["spec"]["replicas"] < hpa["spec"].get("minReplicas", 1):
            below.append(f"{ns}/{ref['name']}")
    return below


def test_every_hpa_of_the_prod_shaped_stack_scales_its_workload_to_its_floor(
    prod: ScratchStack, kubectl: Kubectl
) -> None:
    assert len(kubectl.items("horizontalpodautoscalers")) >= 2
    deadline = time.monotonic() + 180
    while (below := hpa_workloads_below_their_floor(kubectl)) and time.monotonic() < deadline:
        time.sleep(3)
    assert below == []


def test_a_clean_prod_shaped_deploy_under_hpas_shows_no_drift(prod: ScratchStack, kubectl: Kubectl) -> None:
    preview = drift.refresh_preview(prod.name, cwd=prod.program.root, env=prod.program.env)
    report = drift.build_report(prod.name, preview)
    assert report.drifted == (), drift.format_report(report, show_expected=True)
