"""PostgresCluster deploys the upstream Bitnami chart (16.7.26) with the values, Secret keys and Service
names that version really uses, generates every password, and exports writer/reader endpoints whose
password-bearing parts are Pulumi secrets."""

from __future__ import annotations

import json

import pytest

from components.postgres_cluster import chart_values, service_names, storage_claims
from platform_config import load_platform_config
from tooling.stacks import run_stack, stack_config

pytestmark = pytest.mark.unit

CHART = "orders-postgresql"
PASSWORD = "random:index/randomPassword:RandomPassword"


def values_of(run) -> dict:
    return run.charts()[CHART].inputs["values"]


# --- Facts about Bitnami PostgreSQL 16.7.26 (read from the chart's _helpers.tpl and values.yaml) ------------


def test_replication_architecture_names_the_writer_service_primary_and_the_reader_service_read():
    assert service_names("orders-postgresql") == ("orders-postgresql-primary", "orders-postgresql-read")


def test_the_chart_reads_the_three_password_keys_it_expects_from_the_existing_secret(dev_stack):
    auth = values_of(dev_stack)["auth"]
    assert auth["existingSecret"] == "orders-postgresql-credentials"
    assert auth["secretKeys"] == {
        "adminPasswordKey": "postgres-password",
        "userPasswordKey": "password",
        "replicationPasswordKey": "replication-password",
    }
    secret = dev_stack.named("orders-credentials").inputs
    assert set(secret["stringData"]) == {"postgres-password", "password", "replication-password"}


def test_the_credentials_secret_data_is_a_pulumi_secret(any_stack):
    assert any_stack.named("orders-credentials").is_secret_input("stringData")


def test_the_legacy_image_repository_is_allowed_explicitly(dev_stack):
    values = values_of(dev_stack)
    assert values["global"]["security"]["allowInsecureImages"] is True
    assert values["image"] == {
        "registry": "docker.io",
        "repository": "bitnamilegacy/postgresql",
        "tag": "17.6.0-debian-12-r0",
    }


# --- Per-stack shape -----------------------------------------------------------------------------------------


def test_every_stack_deploys_the_orders_cluster_from_the_pinned_chart(any_stack):
    chart = any_stack.charts()[CHART].inputs
    assert chart["chart"] == "oci://registry-1.docker.io/bitnamicharts/postgresql"
    assert chart["version"] == "16.7.26"
    assert chart["name"] == CHART


def test_the_chart_always_runs_replication_so_adding_replicas_never_renames_the_primary(any_stack):
    assert values_of(any_stack)["architecture"] == "replication"
    assert values_of(any_stack)["fullnameOverride"] == CHART


def test_prod_runs_at_least_two_read_replicas_on_separate_nodes(prod_stack):
    values = values_of(prod_stack)
    assert values["readReplicas"]["replicaCount"] >= 2
    assert values["primary"]["podAntiAffinityPreset"] == "hard"
    assert values["readReplicas"]["podAntiAffinityPreset"] == "hard"


def test_prod_protects_primary_and_replicas_with_disruption_budgets(prod_stack):
    values = values_of(prod_stack)
    assert values["primary"]["pdb"]["create"] is True
    assert values["readReplicas"]["pdb"]["create"] is True


def test_dev_is_a_single_small_primary_without_ha_machinery(dev_stack):
    values = values_of(dev_stack)
    assert values["readReplicas"]["replicaCount"] == 0
    assert values["primary"]["pdb"]["create"] is False
    assert values["networkPolicy"]["enabled"] is False
    assert values["primary"]["persistence"]["size"] == "2Gi"


def test_instance_type_becomes_a_node_selector_on_primary_and_replicas(prod_stack):
    values = values_of(prod_stack)
    expected = {"node.kubernetes.io/instance-type": "m6i.xlarge"}
    assert values["primary"]["nodeSelector"] == expected
    assert values["readReplicas"]["nodeSelector"] == expected


def test_storage_size_and_encrypted_class_reach_primary_and_replicas(prod_stack):
    values = values_of(prod_stack)
    for role in ("primary", "readReplicas"):
        assert values[role]["persistence"] == {"enabled": True, "size": "100Gi", "storageClass": "encrypted-gp3"}


def test_resources_reach_primary_and_replicas(prod_stack):
    values = values_of(prod_stack)
    expected = {"requests": {"cpu": "2", "memory": "4Gi"}, "limits": {"cpu": "4", "memory": "8Gi"}}
    assert values["primary"]["resources"] == expected
    assert values["readReplicas"]["resources"] == expected


def test_prod_exposes_writer_and_reader_through_load_balancers_with_dns_names(prod_stack):
    values = values_of(prod_stack)
    annotation = "external-dns.alpha.kubernetes.io/hostname"
    allowed = {"nexus-platform/load-balancer-allowed": "true"}
    assert values["primary"]["service"] == {
        "type": "LoadBalancer",
        "annotations": {annotation: "orders-db.nexus.example.com", **allowed},
    }
    assert values["readReplicas"]["service"]["annotations"] == {
        annotation: "reader-orders-db.nexus.example.com",
        **allowed,
    }


def test_the_primary_declares_itself_the_single_writer_with_a_reason(any_stack):
    annotations = values_of(any_stack)["primary"]["annotations"]
    assert annotations["nexus-platform/single-pod-by-design"] == "true"
    assert annotations["nexus-platform/single-pod-reason"]


def test_metrics_and_network_policy_toggles_reach_the_chart(staging_stack, dev_stack):
    assert values_of(staging_stack)["metrics"]["enabled"] is True
    assert values_of(staging_stack)["networkPolicy"]["enabled"] is True
    assert values_of(dev_stack)["metrics"]["enabled"] is False


# --- Secrets -------------------------------------------------------------------------------------------------


def test_admin_user_and_replication_passwords_are_generated(any_stack):
    generated = {r.name for r in any_stack.of_type(PASSWORD)}
    assert {"orders-admin-password", "orders-user-password", "orders-replication-password"} <= generated


def test_generated_passwords_are_long_and_url_safe(dev_stack):
    for password in dev_stack.of_type(PASSWORD):
        assert password.inputs["length"] >= 32
        assert password.inputs["special"] is False


def test_no_password_reaches_the_chart_values(any_stack):
    rendered_values = json.dumps(values_of(any_stack))
    assert "generated-" not in rendered_values


def test_an_operator_supplied_password_is_used_instead_of_a_generated_one():
    run = run_stack("dev", {"postgresClusters": {"orders": {"password": "operator-chosen"}}})
    assert "orders-user-password" not in {r.name for r in run.of_type(PASSWORD)}
    assert run.named("orders-credentials").inputs["stringData"]["password"] == "operator-chosen"
    assert run.is_secret("postgres.orders.writerUrl")


def test_an_operator_supplied_password_for_the_postgres_user_is_the_admin_password_deployed_and_exported():
    run = run_stack("dev", {"postgresClusters": {"orders": {"username": "postgres", "password": "operator-chosen"}}})
    assert "orders-admin-password" not in {r.name for r in run.of_type(PASSWORD)}
    # The chart reads the admin's password from `postgres-password` when auth.username is unset.
    assert run.named("orders-credentials").inputs["stringData"]["postgres-password"] == "operator-chosen"
    orders = run.outputs["postgres"]["orders"]
    assert orders["writerUrl"].startswith("postgresql://postgres:operator-chosen@")
    assert orders["readerUrl"].startswith("postgresql://postgres:operator-chosen@")


def test_the_admin_user_shares_the_admin_password_key(dev_stack):
    run = run_stack("dev", {"postgresClusters": {"orders": {"username": "postgres"}}})
    assert "username" not in values_of(run)["auth"]
    assert run.outputs["postgres"]["orders"]["passwordSecretKey"] == "postgres-password"


# --- Outputs -------------------------------------------------------------------------------------------------


def test_writer_and_reader_urls_point_at_the_primary_and_read_services(prod_stack):
    orders = prod_stack.outputs["postgres"]["orders"]
    domain = "postgres.svc.cluster.local"
    assert orders["writerHost"] == f"orders-postgresql-primary.{domain}"
    assert orders["readerHost"] == f"orders-postgresql-read.{domain}"
    password = "generated-orders-user-password"
    # prod requires TLS: clients verify the certificate and the host name.
    tls = "sslmode=verify-full"
    assert (
        orders["writerUrl"]
        == f"postgresql://orders:{password}@orders-postgresql-primary.{domain}:5432/orderdb_prod?{tls}"
    )
    assert (
        orders["readerUrl"] == f"postgresql://orders:{password}@orders-postgresql-read.{domain}:5432/orderdb_prod?{tls}"
    )


def test_without_replicas_the_reader_endpoint_is_the_writer(dev_stack):
    orders = dev_stack.outputs["postgres"]["orders"]
    assert orders["readerHost"] == orders["writerHost"]
    assert orders["readerUrl"] == orders["writerUrl"]


def test_connection_urls_are_secret_and_plain_fields_are_not(any_stack):
    assert any_stack.is_secret("postgres.orders.writerUrl")
    assert any_stack.is_secret("postgres.orders.readerUrl")
    for plain in ("writerHost", "readerHost", "database", "username", "passwordSecretName"):
        assert not any_stack.is_secret(f"postgres.orders.{plain}"), plain


def test_outputs_name_the_secret_app_teams_mount(any_stack):
    orders = any_stack.outputs["postgres"]["orders"]
    assert orders["passwordSecretName"] == "orders-postgresql-credentials"
    assert orders["passwordSecretKey"] == "password"
    assert orders["writerPort"] == orders["readerPort"] == 5432


# --- Data safety ---------------------------------------------------------------------------------------------


def test_the_namespace_holding_the_volumes_survives_destroy_by_default(any_stack):
    namespace = any_stack.named("orders-namespace")
    assert namespace.inputs["metadata"]["name"] == "postgres"


def test_the_storage_guard_records_one_claim_per_statefulset_pod(prod_stack):
    claims = prod_stack.named("orders-storage").inputs["claims"]
    assert claims == {
        "data-orders-postgresql-primary-0": "100Gi",
        "data-orders-postgresql-read-0": "100Gi",
        "data-orders-postgresql-read-1": "100Gi",
    }


def test_chart_values_are_a_pure_function_of_the_validated_config():
    config = load_platform_config(stack_config("staging")).postgresClusters["orders"]
    first = chart_values("orders", config, "orders-postgresql-credentials")
    assert first == chart_values("orders", config, "orders-postgresql-credentials")
    assert storage_claims("orders", config) == {
        "data-orders-postgresql-primary-0": "20Gi",
        "data-orders-postgresql-read-0": "20Gi",
    }
