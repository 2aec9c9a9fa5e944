"""The values PostgresCluster passes, rendered by helm through the Bitnami 16.7.26 test double
(tests/fixtures/bitnami-postgresql-standin), produce the objects the component's outputs point at:
the writer and reader Services behind the URLs, the Secret keys its Secret holds, one claim per pod."""

from __future__ import annotations

import pytest

from components.postgres_cluster import (
    ADMIN_PASSWORD_KEY,
    REPLICATION_PASSWORD_KEY,
    USER_PASSWORD_KEY,
    chart_values,
    service_names,
    storage_claims,
)
from platform_config import load_platform_config
from tooling.helm import containers, find, lint, one, render
from tooling.paths import BITNAMI_STANDIN
from tooling.stacks import STACKS, stack_config

pytestmark = pytest.mark.render

STANDIN = BITNAMI_STANDIN


def cluster_config(stack: str):
    return load_platform_config(stack_config(stack)).postgresClusters["orders"]


def rendered(stack: str, **changes) -> list[dict]:
    config = cluster_config(stack).model_copy(update=changes)
    values = chart_values("orders", config, "orders-postgresql-credentials")
    return render(STANDIN, values, release="orders-postgresql", namespace="postgres")


def test_the_test_double_is_lint_clean():
    lint(STANDIN)


@pytest.mark.parametrize("stack", STACKS)
def test_the_writer_and_reader_services_the_outputs_name_are_rendered(stack):
    manifests = rendered(stack)
    writer, reader = service_names("orders-postgresql")
    assert one(manifests, "Service", writer)["spec"]["ports"][0]["port"] == 5432
    assert one(manifests, "Service", reader)["spec"]["ports"][0]["port"] == 5432


@pytest.mark.parametrize("stack", STACKS)
def test_the_read_statefulset_runs_the_configured_replica_count(stack):
    manifests = rendered(stack)
    expected = cluster_config(stack).readReplicaCount
    assert one(manifests, "StatefulSet", "orders-postgresql-read")["spec"]["replicas"] == expected
    assert one(manifests, "StatefulSet", "orders-postgresql-primary")["spec"]["replicas"] == 1


@pytest.mark.parametrize("stack", STACKS)
def test_every_password_the_pods_read_comes_from_the_component_secret(stack):
    manifests = rendered(stack)
    references = {
        (env["valueFrom"]["secretKeyRef"]["name"], env["valueFrom"]["secretKeyRef"]["key"])
        for statefulset in find(manifests, "StatefulSet")
        for container in containers(statefulset)
        for env in container.get("env", [])
        if "valueFrom" in env
    }
    secret_keys = {ADMIN_PASSWORD_KEY, USER_PASSWORD_KEY, REPLICATION_PASSWORD_KEY}
    assert references == {("orders-postgresql-credentials", key) for key in secret_keys}
    assert not find(manifests, "Secret"), "the chart must not create a Secret of its own"


def test_claims_are_named_as_the_storage_guard_records_them():
    manifests = rendered("prod")
    claims = {
        f"{template['metadata']['name']}-{statefulset['metadata']['name']}-{ordinal}"
        for statefulset in find(manifests, "StatefulSet")
        for template in statefulset["spec"]["volumeClaimTemplates"]
        for ordinal in range(statefulset["spec"]["replicas"])
    }
    assert claims == set(storage_claims("orders", cluster_config("prod")))


def test_prod_renders_network_policy_and_both_disruption_budgets():
    manifests = rendered("prod")
    assert find(manifests, "NetworkPolicy")
    assert {p["metadata"]["name"] for p in find(manifests, "PodDisruptionBudget")} == {
        "orders-postgresql-primary",
        "orders-postgresql-read",
    }


def test_prod_spreads_replicas_across_nodes_with_required_anti_affinity():
    statefulset = one(rendered("prod"), "StatefulSet", "orders-postgresql-read")
    affinity = statefulset["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    assert affinity["requiredDuringSchedulingIgnoredDuringExecution"]


def test_the_legacy_image_is_refused_without_the_explicit_opt_in():
    values = chart_values("orders", cluster_config("dev"), "orders-postgresql-credentials")
    values["global"]["security"]["allowInsecureImages"] = False
    with pytest.raises(Exception, match="allowInsecureImages"):
        render(STANDIN, values, release="orders-postgresql", namespace="postgres")
