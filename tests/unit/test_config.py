"""Stack configuration is validated once, up front: every committed stack passes, and each kind of
bad input stops the program with a message naming the key, the value and what is allowed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from platform_config import ConfigError, Environment, PlatformConfig, load_platform_config
from platform_config.base import MAX_AUTOSCALED_REPLICAS, MAX_DATABASE_REPLICAS, MAX_SERVICE_REPLICAS
from platform_config.operator_secrets import OPERATOR_SECRET_KEYS
from tooling import stackfiles
from tooling.paths import CHARTS_DIR, REPO_ROOT
from tooling.stacks import STACKS, deep_merge, run_stack, stack_config

pytestmark = pytest.mark.unit


def config_with(stack: str, overrides: dict) -> dict:
    return deep_merge(stack_config(stack), overrides)


def rejection(overrides: dict, stack: str = "dev") -> str:
    with pytest.raises(ConfigError) as raised:
        load_platform_config(config_with(stack, overrides))
    return str(raised.value)


@pytest.mark.parametrize("stack", STACKS)
def test_every_committed_stack_passes_validation(stack):
    config = load_platform_config(stack_config(stack))
    assert config.environment == Environment(stack)


def test_an_unknown_environment_is_rejected_with_the_allowed_ones():
    message = rejection({"environment": "qa"})
    assert "nexus-platform:environment = 'qa'" in message
    assert "'dev', 'staging' or 'prod'" in message


def test_a_negative_replica_count_is_rejected():
    message = rejection({"postgresClusters": {"orders": {"readReplicaCount": -1}}})
    assert "nexus-platform:postgresClusters.orders.readReplicaCount = -1" in message
    assert "greater than or equal to 0" in message


def test_a_fractional_replica_count_is_rejected():
    message = rejection({"postgresClusters": {"orders": {"readReplicaCount": 1.5}}})
    assert "postgresClusters.orders.readReplicaCount = 1.5" in message


def test_a_replica_count_of_the_wrong_type_is_rejected():
    message = rejection({"postgresClusters": {"orders": {"readReplicaCount": "two"}}})
    assert "postgresClusters.orders.readReplicaCount = 'two'" in message


@pytest.mark.parametrize("size", ["20GB", "20G", "20gi", "-5Gi", "0Gi", "twenty"])
def test_a_malformed_storage_size_is_rejected_with_an_example_of_a_good_one(size):
    message = rejection({"postgresClusters": {"orders": {"storageSize": size}}})
    assert f"postgresClusters.orders.storageSize = '{size}'" in message
    assert "such as 20Gi" in message


def test_a_malformed_memory_quantity_is_rejected():
    message = rejection({"postgresClusters": {"orders": {"resources": {"limits": {"cpu": "1", "memory": "2GB"}}}}})
    assert "postgresClusters.orders.resources.limits.memory = '2GB'" in message


def test_requests_above_limits_are_rejected():
    message = rejection(
        {"postgresClusters": {"orders": {"resources": {"requests": {"cpu": "2", "memory": "1Gi"}}}}}, stack="dev"
    )
    assert "requests.cpu (2) may not exceed limits.cpu (500m)" in message


def test_an_unknown_top_level_key_is_rejected():
    message = rejection({"postgresClusterz": {}})
    assert "nexus-platform:postgresClusterz: unknown key" in message


def test_an_unknown_nested_key_is_rejected():
    message = rejection({"postgresClusters": {"orders": {"readReplicas": 2}}})
    assert "nexus-platform:postgresClusters.orders.readReplicas: unknown key" in message


def test_a_stack_without_the_orders_cluster_is_rejected():
    config = stack_config("dev") | {"postgresClusters": {"reporting": {}}}
    with pytest.raises(ConfigError) as raised:
        load_platform_config(config)
    message = str(raised.value)
    assert "must define the 'orders' cluster" in message


def test_a_missing_environment_is_reported_as_required():
    message = rejection({"environment": None})
    assert "nexus-platform:environment: required but not set" in message


def test_exposure_without_a_hostname_is_rejected():
    message = rejection({"postgresClusters": {"orders": {"expose": {"enabled": True}}}})
    assert "expose.hostname is not set" in message


def test_every_problem_is_reported_at_once():
    message = rejection({"environment": "qa", "postgresClusters": {"orders": {"storageSize": "1TB"}}})
    assert "environment" in message and "storageSize" in message


def test_the_program_stops_before_registering_anything_on_bad_config():
    with pytest.raises(ConfigError, match="readReplicaCount"):
        run_stack("prod", {"postgresClusters": {"orders": {"readReplicaCount": -2}}})


# --- Replica counts have upper bounds (the charts' schema maxima) -------------------------------------------

TEN_MILLION = 10_000_000
ORDER_SERVICES = ("gateway", "commandService", "queryService")


# (key, limit) of every replica count: each one's upper bound is its kind's (platform_config.base).
REPLICA_COUNTS = [
    # Unbounded, this planned one PVC patch per replica: ten million resources, a program that never ended.
    ("postgresClusters.orders.readReplicaCount", MAX_DATABASE_REPLICAS),
    ("corePipeline.replicaCount", MAX_SERVICE_REPLICAS),
    ("corePipeline.autoscaling.maxReplicas", MAX_AUTOSCALED_REPLICAS),
    ("dataTier.kafka.replicas", MAX_DATABASE_REPLICAS),
    *((f"orderPlatform.{service}.replicas", MAX_SERVICE_REPLICAS) for service in ORDER_SERVICES),
    *((f"orderPlatform.{service}.maxReplicas", MAX_AUTOSCALED_REPLICAS) for service in ORDER_SERVICES),
]


def nested(key: str, value: object) -> dict:
    """`a.b.c`, value -> {"a": {"b": {"c": value}}}."""
    for part in reversed(key.split(".")):
        value = {part: value}
    return value


@pytest.mark.parametrize(("key", "limit"), REPLICA_COUNTS)
def test_ten_million_replicas_are_refused_naming_the_key_the_value_and_the_limit(key, limit):
    message = rejection(nested(key, TEN_MILLION))
    assert f"nexus-platform:{key} = {TEN_MILLION}: Input should be less than or equal to {limit}" in message


def test_the_largest_allowed_read_replica_count_is_accepted():
    config = load_platform_config(config_with("dev", {"postgresClusters": {"orders": {"readReplicaCount": 15}}}))
    assert config.postgresClusters["orders"].readReplicaCount == MAX_DATABASE_REPLICAS


def _schema_maximum(chart: str, *path: str) -> int:
    node = json.loads((CHARTS_DIR / chart / "values.schema.json").read_text())
    for key in path:
        node = node[key]
    return node["maximum"]


def test_the_replica_limits_are_the_maxima_the_charts_schemas_allow():
    assert _schema_maximum("core-pipeline", "properties", "replicaCount") == MAX_SERVICE_REPLICAS
    assert (
        _schema_maximum("core-pipeline", "properties", "autoscaling", "properties", "maxReplicas")
        == MAX_AUTOSCALED_REPLICAS
    )
    assert _schema_maximum("nexus-database", "definitions", "replicas") == MAX_DATABASE_REPLICAS


# --- Reading the config ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_every_key_of_a_committed_stack_file_is_one_the_program_reads(stack):
    # The program asks pulumi.Config for the keys PlatformConfig declares; any other key would go unseen.
    assert set(stackfiles.stack_config(stack)) <= set(PlatformConfig.model_fields)


def test_every_operator_secret_is_a_key_of_the_config_model():
    assert set(OPERATOR_SECRET_KEYS) <= set(PlatformConfig.model_fields)


def test_operator_secrets_reach_the_program_as_pulumi_secrets():
    run = run_stack("staging")
    secret = run.named("order-platform-order-query-service-credentials")
    assert secret.is_secret_input("stringData")
    assert secret.inputs["stringData"]["elasticsearch-password"] == "test-orderPlatformElasticsearchPassword"


def test_the_operator_secret_keys_are_printed_one_a_line_for_the_scripts():
    printed = subprocess.run(
        [sys.executable, "-m", "platform_config", "operator-secrets"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert printed.stdout.splitlines() == list(OPERATOR_SECRET_KEYS)
    assert printed.stderr == ""
