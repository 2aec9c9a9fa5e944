"""CorePipeline takes Kafka, PostgreSQL and Redis from other components' outputs (never hand-typed hosts), so a
change in the data tier flows into the service's environment; its passwords reach the pods only through a
Secret it creates (never chart values or the ConfigMap); its own database is bootstrapped by a Job whose name
changes exactly when what it does changes; and bad config is refused with the key, the value and what is allowed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

import pulumi
import pytest

from components.core_pipeline import (
    BOOTSTRAP_SQL,
    CorePipeline,
    CorePipelineArgs,
    kafka_destination,
    otlp_destination,
)
from components.endpoints import DatabaseEndpoint
from platform_config import PROJECT, ConfigError, load_platform_config
from platform_config.core_pipeline import CorePipelineConfig, check_dependencies
from platform_config.data_tier import DataTierConfig
from tooling.stacks import RecordingMocks, StackRun, _resolve, deep_merge, run_stack, stack_config

pytestmark = pytest.mark.unit

NAME = "core-pipeline"
KAFKA = "nexus-kafka-0.nexus-kafka.data.svc.cluster.local:9092,nexus-kafka-1.nexus-kafka.data.svc.cluster.local:9092"
POSTGRES_HOST = "orders-postgresql-primary.postgres.svc.cluster.local"
REDIS_HOST = "nexus-redis-master.data.svc.cluster.local"
CLIENT_IMAGE = "docker.io/bitnamilegacy/postgresql:17.6.0-debian-12-r0"
CHART_TYPE = "kubernetes:helm.sh/v4:Chart"
JOB_TYPE = "kubernetes:batch/v1:Job"


def endpoint(host: str, port: int, namespace: str, secret: str, password: str) -> DatabaseEndpoint:
    """A stand-in for another component's endpoint: Outputs, the password a Pulumi secret."""
    out = pulumi.Output.from_input
    return DatabaseEndpoint(
        host=out(host),
        port=out(port),
        database=out("orderdb"),
        username=out("orders"),
        namespace=out(namespace),
        secret_name=out(secret),
        secret_key=out("password"),
        password=pulumi.Output.secret(password),
        url=pulumi.Output.secret(f"scheme://orders:{password}@{host}:{port}/orderdb"),
    )


def deploy(
    config: Mapping[str, Any] | None = None,
    *,
    kafka: str = KAFKA,
    postgres_host: str = POSTGRES_HOST,
    redis_host: str = REDIS_HOST,
    redis_password: str = "redis-secret-password",
) -> StackRun:
    """The component alone under Pulumi mocks, wired to fake data-tier and PostgreSQL endpoints."""
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack="test", preview=False)
    validated = CorePipelineConfig.model_validate(deep_merge({"enabled": True}, config or {}))
    resolved: dict[str, Any] = {}
    secrets: set[str] = set()

    @pulumi.runtime.test
    def program():
        component = CorePipeline(
            NAME,
            CorePipelineArgs(
                config=validated,
                kafka_bootstrap_servers=pulumi.Output.from_input(kafka),
                redis=endpoint(redis_host, 6379, "data", "nexus-redis", redis_password),
                postgres=endpoint(postgres_host, 5432, "postgres", "orders-postgresql-credentials", "admin-pw"),
                postgres_client_image=CLIENT_IMAGE,
            ),
        )

        async def resolve() -> None:
            resolved.update(await _resolve(component.outputs(), "", secrets))

        return asyncio.ensure_future(resolve())

    program()
    return StackRun(resources=mocks.resources, outputs=resolved, secret_paths=secrets)


def chart(run: StackRun) -> dict[str, Any]:
    return run.named(f"{NAME}-chart").inputs


def env(run: StackRun) -> dict[str, str]:
    return chart(run)["values"]["env"]


def job(run: StackRun) -> dict[str, Any]:
    return run.named(f"{NAME}-db-bootstrap").inputs


def job_env(run: StackRun) -> dict[str, Any]:
    container = job(run)["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


@pytest.fixture(scope="module")
def default_run() -> StackRun:
    return deploy()


# --- Wiring: the data tier's outputs flow into the service ------------------------------------------------------


def test_a_change_of_the_kafka_bootstrap_servers_flows_into_the_deployment_environment():
    moved = "kafka.streaming.svc.cluster.local:9094"
    assert env(deploy())["KAFKA_BROKERS"] == KAFKA
    assert env(deploy(kafka=moved))["KAFKA_BROKERS"] == moved


def test_a_change_of_the_postgres_host_flows_into_the_deployment_environment():
    moved = "orders2-postgresql-primary.postgres.svc.cluster.local"
    assert env(deploy())["POSTGRES_HOST"] == POSTGRES_HOST
    assert env(deploy(postgres_host=moved))["POSTGRES_HOST"] == moved


def test_a_change_of_the_redis_host_flows_into_the_deployment_environment():
    moved = "cache-master.cache.svc.cluster.local"
    assert env(deploy(redis_host=moved))["REDIS_HOST"] == moved


def test_ports_and_database_name_reach_the_environment_as_strings(default_run):
    values = env(default_run)
    assert (values["POSTGRES_PORT"], values["REDIS_PORT"], values["POSTGRES_DB"]) == ("5432", "6379", "core_pipeline")


def test_the_network_policy_egress_follows_the_wired_namespaces_and_ports(default_run):
    egress = chart(default_run)["values"]["networkPolicy"]["egress"]
    assert egress["kafka"] == {"namespace": "data", "ports": [9092]}
    assert egress["postgres"] == {"namespace": "postgres", "ports": [5432]}
    assert egress["redis"] == {"namespace": "data", "ports": [6379]}


def test_kafka_brokers_in_different_namespaces_open_egress_to_any_destination_on_their_ports():
    rule = kafka_destination("a.one.svc.cluster.local:9092, b.two.svc.cluster.local:9093")
    assert rule == {"namespace": "", "ports": [9092, 9093]}


def test_an_otlp_endpoint_outside_the_cluster_allows_both_otlp_ports_to_any_destination():
    assert otlp_destination("https://otlp.example.com:4318") == {"namespace": "", "ports": [4317, 4318]}


def test_a_change_of_the_postgres_host_reruns_the_bootstrap_job_against_the_new_host():
    moved = "orders2-postgresql-primary.postgres.svc.cluster.local"
    before, after = deploy(), deploy(postgres_host=moved)
    assert job_env(after)["PGHOST"] == moved
    assert job(before)["metadata"]["name"] != job(after)["metadata"]["name"]


# --- Secrets: passwords only in Secrets, never in chart values ------------------------------------------------


def test_the_chart_gets_the_secret_name_and_no_password(default_run):
    values = chart(default_run)["values"]
    assert values["secret"] == {"existingSecret": f"{NAME}-credentials"}
    text = json.dumps(values)
    assert "generated-" not in text and "redis-secret-password" not in text


def test_the_credentials_secret_holds_the_generated_user_password_and_the_redis_password(default_run):
    secret = default_run.named(f"{NAME}-credentials")
    assert secret.inputs["metadata"]["namespace"] == "core-pipeline"
    assert secret.inputs["stringData"] == {
        "POSTGRES_USER": "core_pipeline",
        "POSTGRES_PASSWORD": f"generated-{NAME}-db-password",
        "REDIS_PASSWORD": "redis-secret-password",
    }
    assert secret.is_secret_input("stringData")


def test_pods_carry_a_readable_checksum_of_the_credentials_secret_so_they_roll_when_it_changes(default_run):
    assert set(chart(default_run)["values"]["secretChecksums"]) == {f"{NAME}-credentials"}
    assert not default_run.named(f"{NAME}-chart").is_secret_input("values.secretChecksums")


def test_a_rotated_redis_password_changes_the_credentials_checksum(default_run):
    rotated = deploy(redis_password="rotated-redis-password")
    checksum = chart(default_run)["values"]["secretChecksums"][f"{NAME}-credentials"]
    assert chart(rotated)["values"]["secretChecksums"][f"{NAME}-credentials"] != checksum


def test_the_database_password_is_generated_by_pulumi_random(default_run):
    passwords = default_run.of_type("random:index/randomPassword:RandomPassword")
    assert [p.name for p in passwords] == [f"{NAME}-db-password"]
    assert passwords[0].inputs["special"] is False


def test_no_password_is_exported(default_run):
    assert "generated-" not in json.dumps(default_run.outputs)


# --- Own database: the bootstrap Job -----------------------------------------------------------------------------


def test_the_bootstrap_job_runs_in_the_cluster_namespace_as_the_admin_from_its_secret(default_run):
    assert job(default_run)["metadata"]["namespace"] == "postgres"
    variables = job_env(default_run)
    assert variables["PGUSER"] == "postgres"
    assert variables["PGPASSWORD"] == {
        "secretKeyRef": {"name": "orders-postgresql-credentials", "key": "postgres-password"}
    }
    assert variables["APP_PASSWORD"] == {"secretKeyRef": {"name": f"{NAME}-db-user", "key": "password"}}


def test_the_new_users_password_secret_lives_next_to_the_cluster(default_run):
    secret = default_run.named(f"{NAME}-db-user")
    assert secret.inputs["metadata"]["namespace"] == "postgres"
    assert secret.inputs["stringData"] == {"password": f"generated-{NAME}-db-password"}
    assert secret.is_secret_input("stringData")


def test_the_bootstrap_job_name_is_stable_for_unchanged_inputs():
    assert job(deploy())["metadata"]["name"] == job(deploy())["metadata"]["name"]


def test_the_bootstrap_job_name_carries_a_content_hash(default_run):
    name = job(default_run)["metadata"]["name"]
    prefix, digest = name.rsplit("-", 1)
    assert prefix == f"{NAME}-db-bootstrap" and len(digest) == 8 and int(digest, 16) >= 0


def test_a_new_database_name_reruns_the_bootstrap_job():
    assert job(deploy())["metadata"]["name"] != job(deploy({"database": "pipeline"}))["metadata"]["name"]


def test_the_bootstrap_script_is_idempotent_sql_with_quoted_names():
    assert "WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_roles" in BOOTSTRAP_SQL
    assert "WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_database" in BOOTSTRAP_SQL
    assert "PASSWORD :'app_password'" in BOOTSTRAP_SQL and "\\getenv app_password APP_PASSWORD" in BOOTSTRAP_SQL


def test_the_bootstrap_password_never_appears_on_the_command_line(default_run):
    container = job(default_run)["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == [
        "psql",
        "-v",
        "app_user=core_pipeline",
        "-v",
        "app_db=core_pipeline",
        "-v",
        "app_login=core_pipeline",
    ]
    assert "generated-" not in json.dumps(container["command"] + container["args"])


def test_the_bootstrap_job_is_awaited_and_replaced_when_it_failed(default_run):
    annotations = job(default_run)["metadata"]["annotations"]
    assert annotations == {"pulumi.com/replaceUnready": "true"}


def test_the_bootstrap_job_container_is_hardened(default_run):
    container = job(default_run)["spec"]["template"]["spec"]["containers"][0]
    security = container["securityContext"]
    assert security["runAsNonRoot"] and security["readOnlyRootFilesystem"]
    assert security["allowPrivilegeEscalation"] is False and security["capabilities"] == {"drop": ["ALL"]}
    assert set(container["resources"]) == {"requests", "limits"}


def test_the_bootstrap_script_config_map_is_immutable_and_named_like_the_job(default_run):
    script = default_run.named(f"{NAME}-db-bootstrap-script").inputs
    assert script["immutable"] is True
    assert script["metadata"]["name"] == job(default_run)["metadata"]["name"]


# --- Chart release and outputs -----------------------------------------------------------------------------------


def test_the_chart_is_our_local_chart_released_in_its_own_namespace(default_run):
    inputs = chart(default_run)
    assert inputs["chart"].endswith("charts/core-pipeline")
    assert (inputs["name"], inputs["namespace"]) == (NAME, "core-pipeline")


def test_the_chart_hooks_are_off_because_v4_chart_does_not_run_hooks(default_run):
    values = chart(default_run)["values"]
    assert values["migration"] == {"enabled": False} and values["smokeTest"] == {"enabled": False}


def test_the_namespace_is_not_retained_because_it_holds_no_data(default_run):
    assert default_run.named(f"{NAME}-namespace").inputs["metadata"]["name"] == "core-pipeline"


def test_outputs_name_the_service_url_secret_and_config_map(default_run):
    outputs = default_run.outputs
    assert outputs["serviceUrl"] == "http://core-pipeline.core-pipeline.svc.cluster.local"
    assert outputs["secretName"] == "core-pipeline-credentials"
    assert outputs["configMapName"] == "core-pipeline-config"
    assert outputs["database"] == {
        "host": POSTGRES_HOST,
        "port": 5432,
        "database": "core_pipeline",
        "username": "core_pipeline",
    }


def test_the_public_url_is_empty_without_an_ingress(default_run):
    assert default_run.outputs["publicUrl"] is None


def test_the_public_url_is_the_first_ingress_host_over_https():
    run = deploy({"ingress": {"enabled": True, "hosts": ["cp.example.com", "alias.example.com"]}})
    assert run.outputs["publicUrl"] == "https://cp.example.com"
    assert chart(run)["values"]["ingress"]["extraHosts"] == ["alias.example.com"]


# --- The real program: __main__ wires the data tier and the orders cluster --------------------------------------


def stack_env(run: StackRun) -> dict[str, str]:
    return run.charts()[f"{NAME}-chart"].inputs["values"]["env"]


def test_every_stack_wires_kafka_and_redis_from_the_data_tiers_outputs(any_stack):
    data_tier = any_stack.outputs["dataTier"]
    values = stack_env(any_stack)
    assert values["KAFKA_BROKERS"] == data_tier["kafka"]["bootstrapServers"]
    assert (values["REDIS_HOST"], values["REDIS_PORT"]) == (data_tier["redis"]["host"], str(data_tier["redis"]["port"]))


def test_every_stack_puts_the_services_database_on_the_orders_writer(any_stack):
    writer = any_stack.outputs["postgres"]["orders"]["writerHost"]
    assert stack_env(any_stack)["POSTGRES_HOST"] == writer
    assert any_stack.outputs["corePipeline"]["database"]["host"] == writer


def test_moving_the_data_tier_moves_the_services_kafka_and_redis():
    values = stack_env(run_stack("dev", {"dataTier": {"namespace": "data-v2"}}))
    assert values["KAFKA_BROKERS"].startswith("kafka-service.data-v2.svc")
    assert values["REDIS_HOST"].startswith("redis-service.data-v2.svc")


def test_moving_the_postgres_cluster_moves_the_services_database_and_bootstrap():
    run = run_stack("dev", {"postgresClusters": {"orders": {"namespace": "pg-v2"}}})
    assert stack_env(run)["POSTGRES_HOST"] == "orders-postgresql-primary.pg-v2.svc.cluster.local"
    assert job(run)["metadata"]["namespace"] == "pg-v2"


def test_the_stack_export_has_urls_and_object_names_and_no_secret(any_stack):
    exported = any_stack.outputs["corePipeline"]
    assert set(exported) == {"namespace", "serviceUrl", "publicUrl", "secretName", "configMapName", "database"}
    assert exported["publicUrl"].startswith("https://")
    assert not [path for path in any_stack.secret_paths if path.startswith("corePipeline")]


def test_the_bootstrap_runs_the_clusters_own_image(any_stack):
    container = job(any_stack)["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "docker.io/bitnamilegacy/postgresql:17.6.0-debian-12-r0"


# --- Config validation -------------------------------------------------------------------------------------------


def invalid(section: Mapping[str, Any]) -> str:
    raw = deep_merge(stack_config("dev"), {"corePipeline": section})
    with pytest.raises(ConfigError) as error:
        load_platform_config(raw)
    return str(error.value)


def test_the_latest_image_tag_is_refused_with_the_key_named():
    message = invalid({"image": {"tag": "latest"}})
    assert "nexus-platform:corePipeline.image.tag = 'latest'" in message and "never 'latest'" in message


def test_an_ingress_without_tls_is_refused():
    assert "nexus-platform:corePipeline.ingress.tls = False" in invalid({"ingress": {"tls": False}})


def test_an_enabled_ingress_without_hosts_is_refused():
    assert "ingress.hosts is empty" in invalid({"ingress": {"enabled": True, "hosts": []}})


def test_a_host_that_is_not_a_dns_name_is_refused():
    assert "'Core_Pipeline' is not a fully qualified host name" in invalid(
        {"ingress": {"enabled": True, "hosts": ["Core_Pipeline"]}}
    )


def test_autoscaling_bounds_out_of_order_are_refused():
    message = invalid({"autoscaling": {"enabled": True, "minReplicas": 5, "maxReplicas": 3}})
    assert "minReplicas (5) may not exceed maxReplicas (3)" in message


def test_a_requested_cpu_above_its_limit_is_refused():
    message = invalid(
        {"resources": {"requests": {"cpu": "2", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}}
    )
    assert "requests.cpu (2) may not exceed limits.cpu (1)" in message


def test_the_postgres_admin_cannot_be_the_services_user():
    assert "username may not be 'postgres'" in invalid({"username": "postgres"})


def test_an_unknown_log_level_is_refused():
    assert "nexus-platform:corePipeline.logLevel = 'verbose'" in invalid({"logLevel": "verbose"})


DATA_TIER = DataTierConfig(enabled=True)


def test_an_unknown_postgres_cluster_is_refused_with_the_clusters_that_exist():
    config = CorePipelineConfig(enabled=True, postgresCluster="analytics")
    with pytest.raises(ConfigError, match=r"corePipeline.postgresCluster = 'analytics': no such cluster .*orders"):
        check_dependencies(config, ["orders"], DATA_TIER)


def test_the_service_without_the_data_tier_is_refused():
    with pytest.raises(ConfigError, match=r"needs Kafka and Redis from the data tier"):
        check_dependencies(CorePipelineConfig(enabled=True), ["orders"], DataTierConfig(enabled=False))


def test_the_service_without_the_data_tiers_redis_is_refused():
    data_tier = DataTierConfig.model_validate({"enabled": True, "redis": {"enabled": False}})
    with pytest.raises(ConfigError, match=r"dataTier.redis.enabled"):
        check_dependencies(CorePipelineConfig(enabled=True), ["orders"], data_tier)


def test_a_kafka_that_demands_sasl_is_refused_because_the_service_has_no_kafka_credentials():
    data_tier = DataTierConfig.model_validate({"enabled": True, "kafka": {"sasl": True}})
    with pytest.raises(ConfigError, match=r"dataTier.kafka.sasl = True"):
        check_dependencies(CorePipelineConfig(enabled=True), ["orders"], data_tier)


def test_a_disabled_service_needs_nothing():
    check_dependencies(CorePipelineConfig(enabled=False, postgresCluster="nowhere"), [], DataTierConfig())
