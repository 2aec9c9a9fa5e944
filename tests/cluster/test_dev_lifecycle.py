"""The dev stack's whole life on a real Kubernetes API server (the loopback control plane): up, the
objects the components promise, a no-op preview, a config change, a rejected config change, destroy.

Invariants protected: what `pulumi up` reports is what the cluster holds (workloads ready with the
configured replica counts, the writer/reader URLs name Services that select the right pods, every
credential Secret holds exactly the value the secret outputs reveal); nothing diffs perpetually against a
real server; growing a read pool or a tenant's RAM updates those objects in place and never replaces a
StatefulSet or a PersistentVolumeClaim; bad config fails before the cluster is touched; destroy removes
the workloads but keeps the claims and the namespaces that hold data.

The tests run in file order on one stack (module fixtures chain: dev -> changed -> rotated -> rejected ->
destroyed).
No committed stack deploys a FluxionDB tenant in the platform stack any more; this one adds the two example
tenants to it (the `fluxion.tenants` a deployment made before that change still has), example-basic at 1Gi of
RAM (EXAMPLE_TENANTS in tooling/stacks.py gives dev 512Mi) so the change is the issue's 1Gi -> 2Gi.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import pytest

from tests.cluster.conftest import PROGRAM_NAMESPACES, Kubectl
from tests.rotations import DEV_ROTATION
from tooling.engine import ProgramCopy, ScratchStack

pytestmark = pytest.mark.cluster

TENANTS_1GI = [{"id": "example-basic", "ram": "1Gi"}, {"id": "example-premium", "ram": "2Gi"}]
TENANTS_2GI = [{"id": "example-basic", "ram": "2Gi"}, {"id": "example-premium", "ram": "2Gi"}]
REPLACING_OPS = {"replace", "create-replacement", "delete-replaced", "delete", "discard"}
# Kinds whose resourceVersion must not move when a bad config is rejected.
WATCHED_KINDS = "deployments,statefulsets,services,secrets,configmaps,persistentvolumeclaims,networkpolicies"


@dataclass
class Dev:
    stack: ScratchStack
    outputs: dict[str, Any]
    secrets: dict[str, Any]
    export: dict[str, Any]
    facts: dict[str, Any] = field(default_factory=dict)


def secret_value(kubectl: Kubectl, namespace: str, name: str, key: str) -> str:
    data = kubectl.get("secret", namespace, name)["data"]
    return base64.b64decode(data[key]).decode()


def uids(kubectl: Kubectl, kinds: str) -> dict[str, str]:
    return {
        f"{o['kind']}/{o['metadata']['namespace']}/{o['metadata']['name']}": o["metadata"]["uid"]
        for ns in PROGRAM_NAMESPACES
        for o in kubectl.items(kinds, ns)
    }


def resource_versions(kubectl: Kubectl) -> dict[str, str]:
    return {
        f"{o['kind']}/{o['metadata']['namespace']}/{o['metadata']['name']}": o["metadata"]["resourceVersion"]
        for ns in PROGRAM_NAMESPACES
        for o in kubectl.items(WATCHED_KINDS, ns)
    }


def workload(kubectl: Kubectl, kind: str, namespace: str, name: str) -> dict[str, Any]:
    return kubectl.get(kind, namespace, name)


@pytest.fixture(scope="module")
def dev(program: ProgramCopy, kubectl: Kubectl) -> Iterator[Dev]:
    kubectl.clear_program_namespaces()
    stack = program.stack("cluster-dev", "dev", overrides={"fluxion": {"tenants": TENANTS_1GI}}, render=False)
    try:
        stack.up().check("pulumi up of dev on the local cluster")
        yield Dev(stack, stack.outputs(), stack.outputs(show_secrets=True), stack.export())
    finally:
        stack.destroy()
        stack.remove()
        kubectl.clear_program_namespaces()


def test_every_workload_of_the_state_is_ready_in_the_cluster(dev: Dev, kubectl: Kubectl) -> None:
    kinds = {"kubernetes:apps/v1:Deployment": "deployment", "kubernetes:apps/v1:StatefulSet": "statefulset"}
    workloads = [r for r in dev.export["deployment"]["resources"] if r["type"] in kinds]
    assert len(workloads) >= 10
    for resource in workloads:
        meta = resource["outputs"]["metadata"]
        live = workload(kubectl, kinds[resource["type"]], meta["namespace"], meta["name"])
        assert (live["status"].get("readyReplicas") or 0) == live["spec"]["replicas"], meta["name"]


def test_orders_runs_one_primary_and_the_configured_number_of_readers(dev: Dev, kubectl: Kubectl) -> None:
    ns = dev.outputs["postgres"]["orders"]["namespace"]
    assert workload(kubectl, "statefulset", ns, "orders-postgresql-primary")["spec"]["replicas"] == 1
    assert workload(kubectl, "statefulset", ns, "orders-postgresql-read")["spec"]["replicas"] == 0


def test_writer_and_reader_hosts_name_services_that_select_the_primary(dev: Dev, kubectl: Kubectl) -> None:
    orders = dev.outputs["postgres"]["orders"]
    primary = workload(kubectl, "statefulset", orders["namespace"], "orders-postgresql-primary")
    pod_labels = primary["spec"]["template"]["metadata"]["labels"]
    for host in (orders["writerHost"], orders["readerHost"]):
        name, namespace = host.split(".")[:2]
        service = kubectl.get("service", namespace, name)
        assert service["spec"]["selector"].items() <= pod_labels.items(), host
        assert orders["writerPort"] in [p["port"] for p in service["spec"]["ports"]]


def test_data_tier_and_order_platform_run_the_dev_replica_counts(dev: Dev, kubectl: Kubectl) -> None:
    data = dev.outputs["dataTier"]["namespace"]
    statefulsets = kubectl.items("statefulsets", data)
    assert {s["metadata"]["name"] for s in statefulsets} >= {"kafka", "redis", "zookeeper", "order-postgres"}
    assert {s["spec"]["replicas"] for s in statefulsets} == {1}
    apps = dev.outputs["orderPlatform"]["namespace"]
    deployments = {d["metadata"]["name"]: d["spec"]["replicas"] for d in kubectl.items("deployments", apps)}
    assert deployments == {"api-gateway": 1, "order-command-service": 1, "order-query-service": 1}


def test_orders_password_secret_holds_the_password_of_the_secret_writer_url(dev: Dev, kubectl: Kubectl) -> None:
    orders = dev.secrets["postgres"]["orders"]
    password = secret_value(kubectl, orders["namespace"], orders["passwordSecretName"], orders["passwordSecretKey"])
    assert len(password) >= 16
    assert f":{password}@" in unquote(orders["writerUrl"])
    assert password not in json.dumps(dev.outputs)  # masked without --show-secrets


def test_data_tier_secrets_hold_the_passwords_of_the_secret_urls(dev: Dev, kubectl: Kubectl) -> None:
    tier = dev.secrets["dataTier"]
    endpoints = [*tier["mongodb"].values(), *tier["postgres"].values(), tier["redis"]]
    for endpoint in endpoints:
        password = secret_value(kubectl, endpoint["namespace"], endpoint["secretName"], endpoint["secretKey"])
        assert password and password in unquote(endpoint["url"]), endpoint["secretName"]


def test_fluxion_api_key_secrets_hold_the_keys_the_outputs_reveal(dev: Dev, kubectl: Kubectl) -> None:
    for tenant in dev.secrets["fluxion"]["tenants"].values():
        stored = secret_value(kubectl, tenant["namespace"], tenant["apiKeySecretName"], tenant["apiKeySecretKey"])
        assert stored == tenant["apiKey"]


def test_dev_creates_no_network_policies(dev: Dev, kubectl: Kubectl) -> None:
    assert [p["metadata"]["name"] for ns in PROGRAM_NAMESPACES for p in kubectl.items("networkpolicies", ns)] == []


def test_a_second_preview_against_the_cluster_shows_no_changes(dev: Dev) -> None:
    dev.stack.preview("--expect-no-changes").check("pulumi preview --expect-no-changes after up")


@pytest.fixture(scope="module")
def changed(dev: Dev, kubectl: Kubectl) -> Dev:
    """One more orders read replica, and example-basic's RAM 1Gi -> 2Gi."""
    dev.facts["uids_before"] = uids(kubectl, "statefulsets,persistentvolumeclaims")
    dev.stack.update_config(
        {"postgresClusters": {"orders": {"readReplicaCount": 1}}, "fluxion": {"tenants": TENANTS_2GI}}
    )
    preview = dev.stack.run("preview", "--json").check("pulumi preview --json of the change")
    dev.facts["steps"] = json.loads(preview.stdout)["steps"]
    dev.stack.up().check("pulumi up of the change")
    dev.facts["uids_after"] = uids(kubectl, "statefulsets,persistentvolumeclaims")
    return dev


def test_the_change_replaces_and_deletes_nothing(changed: Dev) -> None:
    assert [(s["op"], s["urn"]) for s in changed.facts["steps"] if s["op"] in REPLACING_OPS] == []


def test_the_change_updates_only_the_orders_readers_and_the_tenant(changed: Dev) -> None:
    touched = {s["urn"].rsplit("::", 1)[1] for s in changed.facts["steps"] if s["op"] != "same"}
    unexpected = {n for n in touched if not n.startswith(("orders-", "fluxiondb-example-basic", "nexus-platform-"))}
    assert unexpected == set()
    assert "orders-postgresql:postgres/orders-postgresql-read" in touched
    assert any(n.startswith("fluxiondb-example-basic") and n.endswith("/fluxiondb-example-basic") for n in touched)


def test_the_orders_read_pool_runs_one_ready_replica(changed: Dev, kubectl: Kubectl) -> None:
    read = workload(kubectl, "statefulset", "postgres", "orders-postgresql-read")
    assert (read["spec"]["replicas"], read["status"].get("readyReplicas")) == (1, 1)


def test_the_tenant_container_gets_2gi_of_memory(changed: Dev, kubectl: Kubectl) -> None:
    deployment = workload(kubectl, "deployment", "fluxiondb-example-basic", "fluxiondb-example-basic")
    limits = [c["resources"]["limits"]["memory"] for c in deployment["spec"]["template"]["spec"]["containers"]]
    assert "2Gi" in limits


def test_no_statefulset_or_claim_was_recreated(changed: Dev) -> None:
    before, after = changed.facts["uids_before"], changed.facts["uids_after"]
    assert {k: after.get(k) for k in before} == before


# Pods that read a rotated credential, and must roll: (kind, namespace, name).
ROTATED_READERS = [
    ("statefulset", "data", "product-postgres"),
    ("statefulset", "data", "redis"),
    ("statefulset", "postgres", "orders-postgresql-primary"),
    ("deployment", "core-pipeline", "core-pipeline"),
]


def pod_template_annotations(kubectl: Kubectl, kind: str, namespace: str, name: str) -> dict[str, str]:
    return workload(kubectl, kind, namespace, name)["spec"]["template"]["metadata"].get("annotations", {})


def engine_events(stream: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.splitlines() if line.strip().startswith("{")]


@pytest.fixture(scope="module")
def rotated(changed: Dev, kubectl: Kubectl) -> Dev:
    """Credentials rotated: the preview's steps, the engine's event log of the `up`, the readers' pod templates
    and the workloads' uids before and after."""
    changed.facts["rotation_uids_before"] = uids(kubectl, "statefulsets,persistentvolumeclaims")
    changed.facts["annotations_before"] = {r: pod_template_annotations(kubectl, *r) for r in ROTATED_READERS}
    changed.stack.update_config({"credentialRotation": DEV_ROTATION})
    preview = changed.stack.run("preview", "--json").check("pulumi preview --json of the rotation")
    changed.facts["rotation_steps"] = json.loads(preview.stdout)["steps"]
    # `up --json` streams the engine's events, one JSON object a line, in the order the engine emits them.
    up = changed.stack.up("--json").check("pulumi up of the rotation")
    changed.facts["rotation_events"] = engine_events(up.stdout)
    changed.facts["rotation_uids_after"] = uids(kubectl, "statefulsets,persistentvolumeclaims")
    changed.facts["annotations_after"] = {r: pod_template_annotations(kubectl, *r) for r in ROTATED_READERS}
    changed.facts["rotated_secrets"] = changed.stack.outputs(show_secrets=True)
    return changed


def _replaced(steps: list[dict[str, Any]]) -> set[str]:
    """The types (without their parents') of the resources the steps replace."""
    return {s["urn"].split("::")[-2].rsplit("$", 1)[-1] for s in steps if s["op"] in REPLACING_OPS}


def test_a_rotation_replaces_only_passwords_jobs_and_their_content_named_scripts(rotated: Dev) -> None:
    steps = rotated.facts["rotation_steps"]
    assert _replaced(steps) <= {
        "random:index/randomPassword:RandomPassword",
        "kubernetes:batch/v1:Job",
        "kubernetes:core/v1:ConfigMap",
    }
    # Secrets and ConfigMaps are updated in place (the provider's enableSecretMutable/enableConfigMapMutable):
    # only the Jobs' own immutable, content-named script ConfigMaps are replaced.
    replaced_config_maps = [
        s for s in steps if s["op"] in REPLACING_OPS and s["urn"].split("::")[-2].endswith("core/v1:ConfigMap")
    ]
    assert all(
        (s.get("newState") or s.get("oldState") or {}).get("inputs", {}).get("immutable") for s in replaced_config_maps
    )
    before, after = rotated.facts["rotation_uids_before"], rotated.facts["rotation_uids_after"]
    assert {k: after.get(k) for k in before} == before, "a StatefulSet or claim was recreated"


def _finished(events: list[dict[str, Any]], name_part: str, kind: str) -> list[int]:
    """Sequence numbers at which the engine finished a resource step of `kind` whose name contains `name_part`."""
    return [
        e["sequence"]
        for e in events
        if "resOutputsEvent" in e
        and e["resOutputsEvent"]["metadata"]["type"] == kind
        and name_part in e["resOutputsEvent"]["metadata"]["urn"].rsplit("::", 1)[-1]
        and e["resOutputsEvent"]["metadata"]["op"] != "same"
    ]


def _started(events: list[dict[str, Any]], name_part: str, kind: str) -> list[int]:
    return [
        e["sequence"]
        for e in events
        if "resourcePreEvent" in e
        and e["resourcePreEvent"]["metadata"]["type"] == kind
        and e["resourcePreEvent"]["metadata"]["urn"].rsplit("::", 1)[-1] == name_part
        and e["resourcePreEvent"]["metadata"]["op"] != "same"
    ]


@pytest.mark.parametrize(
    ("job", "secret"),
    [
        ("product-postgres-rotation", "data-tier-product-postgres-secret"),
        ("redis-rotation", "data-tier-redis-secret"),
        ("orders-rotation", "orders-credentials"),
        ("core-pipeline-db-bootstrap", "core-pipeline-credentials"),
    ],
)
def test_each_rotation_job_finishes_before_the_secret_its_clients_read_changes(rotated: Dev, job: str, secret: str):
    events = rotated.facts["rotation_events"]
    jobs_done = _finished(events, job, "kubernetes:batch/v1:Job")
    secret_update = _started(events, secret, "kubernetes:core/v1:Secret")
    assert jobs_done and secret_update, (job, secret)
    assert min(jobs_done) < min(secret_update)


@pytest.mark.parametrize("reader", ROTATED_READERS, ids=lambda r: "/".join(r))
def test_every_pod_that_reads_a_rotated_credential_rolls(rotated: Dev, reader) -> None:
    before, after = rotated.facts["annotations_before"][reader], rotated.facts["annotations_after"][reader]
    changed = {k for k in after if k.startswith("checksum/secret-") and after[k] != before.get(k)}
    assert changed, f"{reader}: no checksum/secret-* annotation changed ({before} -> {after})"


def test_the_outputs_hand_app_teams_the_rotated_logins(rotated: Dev) -> None:
    outputs = rotated.facts["rotated_secrets"]
    product = outputs["dataTier"]["postgres"]["product"]
    assert product["username"] == "productservice_alt"
    assert unquote(product["url"].split("@")[0].split(":")[-1]) != unquote(
        rotated.secrets["dataTier"]["postgres"]["product"]["url"].split("@")[0].split(":")[-1]
    )
    assert outputs["postgres"]["orders"]["username"].endswith("_alt")


def test_a_second_preview_after_the_rotation_shows_no_changes(rotated: Dev) -> None:
    rotated.stack.preview("--expect-no-changes").check("pulumi preview --expect-no-changes after the rotation")


@pytest.fixture(scope="module")
def rejected(rotated: Dev, kubectl: Kubectl) -> Dev:
    """A read replica count below zero: the program must refuse it before touching the cluster."""
    changed = rotated
    good = changed.stack.config()
    versions = resource_versions(kubectl)
    changed.stack.update_config({"postgresClusters": {"orders": {"readReplicaCount": -1}}})
    try:
        changed.facts["bad_up"] = changed.stack.up()
    finally:
        changed.stack.write_config(good)
    changed.facts["versions"] = (versions, resource_versions(kubectl))
    return changed


def test_a_bad_config_change_fails_naming_the_key(rejected: Dev) -> None:
    result = rejected.facts["bad_up"]
    assert result.returncode != 0
    assert "readReplicaCount" in result.output


def test_a_bad_config_change_leaves_every_object_untouched(rejected: Dev) -> None:
    before, after = rejected.facts["versions"]
    assert after == before


@pytest.fixture(scope="module")
def destroyed(rejected: Dev, kubectl: Kubectl) -> Dev:
    export = rejected.stack.export()["deployment"]["resources"]
    rejected.facts["retained"] = sorted(
        r["outputs"]["metadata"]["name"]
        for r in export
        if r["type"] == "kubernetes:core/v1:Namespace" and r.get("retainOnDelete")
    )
    rejected.facts["claims"] = {k for k in uids(kubectl, "persistentvolumeclaims")}
    rejected.stack.destroy().check("pulumi destroy")
    return rejected


def test_destroy_removes_every_workload(destroyed: Dev, kubectl: Kubectl) -> None:
    left = [ns for ns in PROGRAM_NAMESPACES if kubectl.exists("namespace", None, ns)]
    assert [w["metadata"]["name"] for ns in left for w in kubectl.items("deployments,statefulsets", ns)] == []


def test_destroy_keeps_the_namespaces_that_hold_data(destroyed: Dev, kubectl: Kubectl) -> None:
    assert destroyed.facts["retained"]
    assert [ns for ns in destroyed.facts["retained"] if not kubectl.exists("namespace", None, ns)] == []


def test_destroy_keeps_every_claim(destroyed: Dev, kubectl: Kubectl) -> None:
    assert destroyed.facts["claims"]
    assert destroyed.facts["claims"] <= set(uids(kubectl, "persistentvolumeclaims"))
