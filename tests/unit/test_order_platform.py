"""OrderPlatform writes its events through the `orders` cluster's writer endpoint and takes Kafka from the data
tier (never hand-typed hosts); its services are deployed only after the database, Kafka and their Secrets; every
credential reaches the pods only through Secrets in its own namespace and is a Pulumi secret; staging and prod
refuse to run without the operator's Keycloak and Elasticsearch credentials, naming the command to set them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any
from unittest import mock

import pulumi
import pytest

import components.order_platform as order_platform
from components.endpoints import DatabaseEndpoint
from components.order_platform import (
    COMMAND_SERVICE,
    GATEWAY,
    QUERY_SERVICE,
    OrderPlatform,
    OrderPlatformArgs,
    ServiceWiring,
    chart_values,
)
from platform_config import PROJECT, ConfigError, Environment, load_platform_config
from platform_config.order_platform import OrderPlatformConfig
from tooling.stacks import TEST_SECRETS, RecordingMocks, StackRun, _resolve, deep_merge, run_stack, stack_config

pytestmark = pytest.mark.unit

KEYCLOAK = "orderPlatformKeycloakClientSecret"

NAME = "orders"
WRITER = "orders-postgresql-primary.postgres.svc.cluster.local"
READER = "orders-postgresql-read.postgres.svc.cluster.local"
KAFKA = "nexus-kafka-0.nexus-kafka.data.svc.cluster.local:9092"
EVENT_STORE_PASSWORD = "event-store-password"
CHART_TYPE = "kubernetes:helm.sh/v4:Chart"
SECRET_TYPE = "kubernetes:core/v1:Secret"
PASSWORD_TYPE = "random:index/randomPassword:RandomPassword"


def endpoint(host: str) -> DatabaseEndpoint:
    """A stand-in for PostgresCluster.writer()/reader(): Outputs, the password a Pulumi secret."""
    out = pulumi.Output.from_input
    return DatabaseEndpoint(
        host=out(host),
        port=out(5432),
        database=out("orderdb_staging"),
        username=out("orders"),
        namespace=out("postgres"),
        secret_name=out("orders-postgresql-credentials"),
        secret_key=out("password"),
        password=pulumi.Output.secret(EVENT_STORE_PASSWORD),
        url=pulumi.Output.secret(f"postgresql://orders:{EVENT_STORE_PASSWORD}@{host}:5432/orderdb_staging"),
    )


class FakeDependency(pulumi.ComponentResource):
    """Stands in for what deploys the database (PostgresCluster) or Kafka (NexusDatabase)."""

    def __init__(self, name: str) -> None:
        super().__init__("test:fake:Dependency", name)
        self.register_outputs({})


def deploy(
    config: Mapping[str, Any] | None = None,
    *,
    keycloak: str | None = "operator-keycloak-secret",
    elasticsearch: str | None = "operator-elasticsearch-password",
    environment: Environment = Environment.STAGING,
    recorded: dict[str, dict[str, Any]] | None = None,
) -> StackRun:
    """The component alone under Pulumi mocks, wired to a fake writer endpoint and fake Kafka."""
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack="test", preview=False)
    validated = OrderPlatformConfig.model_validate(dict(config or {}))
    resolved: dict[str, Any] = {}
    secrets: set[str] = set()

    @pulumi.runtime.test
    def program():
        database, kafka = FakeDependency("fake-postgres"), FakeDependency("fake-data-tier")
        real_deploy_chart = order_platform.deploy_chart

        def recording_deploy_chart(resource_name: str, **kwargs: Any):
            if recorded is not None:
                recorded[resource_name] = {**kwargs, "database": database, "kafka": kafka}
            return real_deploy_chart(resource_name, **kwargs)

        with mock.patch.object(order_platform, "deploy_chart", recording_deploy_chart):
            component = OrderPlatform(
                NAME,
                OrderPlatformArgs(
                    config=validated,
                    environment=environment,
                    event_store=endpoint(WRITER),
                    kafka_bootstrap_servers=pulumi.Output.from_input(KAFKA),
                    keycloak_client_secret=keycloak,
                    elasticsearch_password=elasticsearch,
                    database_resources=[database],
                    kafka_resources=[kafka],
                ),
            )

        async def resolve() -> None:
            resolved.update(await _resolve(component.outputs(), "", secrets))

        return asyncio.ensure_future(resolve())

    program()
    return StackRun(resources=mocks.resources, outputs=resolved, secret_paths=secrets)


def values(run: StackRun, service: str) -> dict[str, Any]:
    return run.named(f"{NAME}-{service}").inputs["values"]


def secret(run: StackRun, service: str):
    return run.named(f"{NAME}-{service}-credentials")


@pytest.fixture(scope="module")
def default_run() -> StackRun:
    return deploy()


@pytest.fixture(scope="module")
def dependencies() -> dict[str, dict[str, Any]]:
    recorded: dict[str, dict[str, Any]] = {}
    deploy(recorded=recorded)
    return recorded


# --- Wiring ----------------------------------------------------------------------------------------------------


def test_the_command_service_writes_to_the_writer_endpoint_it_is_given(default_run):
    config = values(default_run, COMMAND_SERVICE)["config"]
    assert (config["postgresHost"], config["postgresPort"]) == (WRITER, 5432)
    assert (config["postgresDatabase"], config["postgresUser"]) == ("orderdb_staging", "orders")


def test_kafka_comes_from_the_data_tier_output_for_both_services_that_use_it(default_run):
    assert values(default_run, COMMAND_SERVICE)["config"]["kafkaBootstrapServers"] == KAFKA
    assert values(default_run, QUERY_SERVICE)["config"]["kafkaBootstrapServers"] == KAFKA


def test_the_gateway_routes_to_the_command_and_query_services_in_its_namespace(default_run):
    config = values(default_run, GATEWAY)["config"]
    assert config["commandServiceUrl"] == "http://order-command-service.order-platform.svc.cluster.local"
    assert config["queryServiceUrl"] == "http://order-query-service.order-platform.svc.cluster.local"


def test_the_three_charts_are_the_local_ones_released_under_their_own_names_in_order_platform(default_run):
    charts = {r.name: r.inputs for r in default_run.of_type(CHART_TYPE)}
    assert set(charts) == {f"{NAME}-{s}" for s in (GATEWAY, COMMAND_SERVICE, QUERY_SERVICE)}
    for service in (GATEWAY, COMMAND_SERVICE, QUERY_SERVICE):
        chart = charts[f"{NAME}-{service}"]
        assert chart["chart"].endswith(f"charts/{service}")
        assert (chart["name"], chart["namespace"]) == (service, "order-platform")


def _command_config(run: StackRun) -> dict[str, Any]:
    return run.charts()[f"order-platform-{COMMAND_SERVICE}"].inputs["values"]["config"]


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_in_the_program_the_command_service_writes_to_the_orders_writer_and_not_its_readers(stack, request):
    run = request.getfixturevalue(f"{stack}_stack")
    orders = run.outputs["postgres"]["orders"]
    assert orders["writerHost"] != orders["readerHost"], "the stack should have read replicas to tell them apart"
    config = _command_config(run)
    assert config["postgresHost"] == orders["writerHost"]
    assert (config["postgresDatabase"], config["postgresUser"]) == (orders["database"], orders["username"])


def test_in_the_program_the_event_store_is_orderdb_of_the_stack(any_stack):
    assert _command_config(any_stack)["postgresDatabase"] == f"orderdb_{any_stack.outputs['environment']}"


def test_in_the_program_kafka_is_the_data_tiers_bootstrap_servers(any_stack):
    kafka = any_stack.outputs["dataTier"]["kafka"]["bootstrapServers"]
    assert _command_config(any_stack)["kafkaBootstrapServers"] == kafka
    query = any_stack.charts()[f"order-platform-{QUERY_SERVICE}"].inputs["values"]["config"]
    assert query["kafkaBootstrapServers"] == kafka


def test_the_stack_exports_the_gateways_public_url_and_the_internal_urls(any_stack):
    exported = any_stack.outputs["orderPlatform"]
    hostname = stack_config(any_stack.outputs["environment"])["orderPlatform"]["gateway"]["hostname"]
    assert exported["gatewayUrl"] == f"https://{hostname}"
    assert (
        exported["internalUrls"]["orderQueryService"] == "http://order-query-service.order-platform.svc.cluster.local"
    )
    assert not [path for path in any_stack.secret_paths if path.startswith("orderPlatform")]


def test_in_the_program_the_operators_secrets_reach_only_the_secrets_as_pulumi_secrets(prod_stack):
    secret = prod_stack.named(f"order-platform-{QUERY_SERVICE}-credentials")
    assert secret.inputs["stringData"]["elasticsearch-password"] == TEST_SECRETS["orderPlatformElasticsearchPassword"]
    assert secret.is_secret_input("stringData")
    for chart in prod_stack.charts().values():
        assert TEST_SECRETS["orderPlatformKeycloakClientSecret"] not in repr(chart.inputs)


# --- Deploy order ----------------------------------------------------------------------------------------------


def test_the_command_service_waits_for_the_database_kafka_and_its_secret(dependencies):
    recorded = dependencies[f"{NAME}-{COMMAND_SERVICE}"]
    names = {r._name for r in recorded["depends_on"]}
    assert {"fake-postgres", "fake-data-tier", f"{NAME}-{COMMAND_SERVICE}-credentials"} <= names


def test_the_query_service_waits_for_kafka_and_its_secret(dependencies):
    names = {r._name for r in dependencies[f"{NAME}-{QUERY_SERVICE}"]["depends_on"]}
    assert {"fake-data-tier", f"{NAME}-{QUERY_SERVICE}-credentials"} <= names


def test_the_gateway_waits_for_its_secret(dependencies):
    names = {r._name for r in dependencies[f"{NAME}-{GATEWAY}"]["depends_on"]}
    assert f"{NAME}-{GATEWAY}-credentials" in names


# --- Secrets ---------------------------------------------------------------------------------------------------


def test_each_chart_is_handed_the_name_of_its_secret_and_no_credential(default_run):
    for service in (GATEWAY, COMMAND_SERVICE, QUERY_SERVICE):
        chart_values = values(default_run, service)
        assert chart_values["existingSecret"] == f"{service}-credentials"
        assert "secrets" not in chart_values
        rendered = repr(chart_values)
        for credential in (EVENT_STORE_PASSWORD, "operator-keycloak-secret", "operator-elasticsearch-password"):
            assert credential not in rendered, f"{credential} leaked into {service}'s chart values"


def test_the_event_store_password_is_copied_into_the_command_service_secret_in_order_platform(default_run):
    resource = secret(default_run, COMMAND_SERVICE)
    assert resource.inputs["metadata"]["namespace"] == "order-platform"
    assert resource.inputs["stringData"]["postgres-password"] == EVENT_STORE_PASSWORD
    assert resource.inputs["stringData"]["keycloak-client-secret"] == "operator-keycloak-secret"


def test_the_query_service_secret_holds_the_elasticsearch_password_and_keycloak_secret(default_run):
    data = secret(default_run, QUERY_SERVICE).inputs["stringData"]
    assert data == {
        "elasticsearch-password": "operator-elasticsearch-password",
        "keycloak-client-secret": "operator-keycloak-secret",
    }


def test_every_credentials_secret_is_a_pulumi_secret(default_run):
    for service in (GATEWAY, COMMAND_SERVICE, QUERY_SERVICE):
        assert secret(default_run, service).is_secret_input("stringData"), service


def test_operator_credentials_are_used_as_given_and_nothing_is_generated(default_run):
    assert default_run.of_type(PASSWORD_TYPE) == []


def test_missing_credentials_are_generated_with_pulumi_random_when_the_config_allows_it():
    run = deploy({"generateMissingSecrets": True}, keycloak=None, elasticsearch=None)
    assert {r.name for r in run.of_type(PASSWORD_TYPE)} == {
        f"{NAME}-keycloak-client-secret",
        f"{NAME}-elasticsearch-password",
    }
    data = secret(run, GATEWAY).inputs["stringData"]
    assert data["keycloak-client-secret"] == f"generated-{NAME}-keycloak-client-secret"


def test_outputs_carry_urls_only_and_no_secret(default_run):
    assert default_run.outputs == {
        "namespace": "order-platform",
        "gatewayUrl": "https://api.dev.orderplatform.com",
        "internalUrls": {
            "apiGateway": "http://api-gateway.order-platform.svc.cluster.local",
            "orderCommandService": "http://order-command-service.order-platform.svc.cluster.local",
            "orderQueryService": "http://order-query-service.order-platform.svc.cluster.local",
        },
    }
    assert default_run.secret_paths == set()


# --- Data safety -----------------------------------------------------------------------------------------------


def test_state_store_volumes_outlive_the_statefulset_by_default():
    run = deploy({"queryService": {"persistence": {"enabled": True}}})
    assert values(run, QUERY_SERVICE)["persistence"]["whenDeleted"] == "Retain"


def test_state_store_volumes_are_deleted_with_the_statefulset_only_when_the_stack_deletes_data():
    config = OrderPlatformConfig.model_validate({"queryService": {"persistence": {"enabled": True}}})
    wiring = ServiceWiring("order-query-service-credentials", kafka_bootstrap_servers=KAFKA)
    kept = chart_values(QUERY_SERVICE, config, Environment.PROD, wiring)
    dropped = chart_values(QUERY_SERVICE, config, Environment.PROD, wiring, delete_data_on_destroy=True)
    assert (kept["persistence"]["whenDeleted"], dropped["persistence"]["whenDeleted"]) == ("Retain", "Delete")


# --- Config: operator secrets ----------------------------------------------------------------------------------


def _config(stack: str, **overrides: Any):
    return load_platform_config(deep_merge({**stack_config(stack), **TEST_SECRETS}, overrides))


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_a_missing_keycloak_client_secret_stops_staging_and_prod_with_the_command_to_set_it(stack):
    with pytest.raises(ConfigError) as error:
        _config(stack, orderPlatformKeycloakClientSecret=None)
    message = str(error.value)
    assert "nexus-platform:orderPlatformKeycloakClientSecret" in message
    assert f"pulumi config set --secret --stack {stack} orderPlatformKeycloakClientSecret" in message


def test_a_missing_elasticsearch_password_stops_prod_with_the_command_to_set_it():
    with pytest.raises(ConfigError, match="pulumi config set --secret --stack prod orderPlatformElasticsearchPassword"):
        _config("prod", orderPlatformElasticsearchPassword=None)


def test_an_empty_secret_counts_as_missing():
    with pytest.raises(ConfigError, match="orderPlatformKeycloakClientSecret"):
        _config("staging", orderPlatformKeycloakClientSecret="")


def test_dev_runs_without_operator_secrets_because_it_may_generate_them():
    config = _config("dev", orderPlatformKeycloakClientSecret=None, orderPlatformElasticsearchPassword=None)
    assert config.orderPlatformKeycloakClientSecret is None
    assert config.orderPlatform.generateMissingSecrets is True


def test_the_whole_program_stops_before_deploying_when_prod_lacks_a_secret():

    with pytest.raises(ConfigError, match="orderPlatformElasticsearchPassword"):
        run_stack("prod", {"orderPlatformElasticsearchPassword": None})


def test_the_missing_secret_message_never_echoes_a_configured_secret():
    with pytest.raises(ConfigError) as error:
        _config("prod", orderPlatformElasticsearchPassword=None)
    assert TEST_SECRETS["orderPlatformKeycloakClientSecret"] not in str(error.value)


# --- Config: rejected input ------------------------------------------------------------------------------------


def _invalid(order_platform: Mapping[str, Any]) -> str:
    with pytest.raises(ConfigError) as error:
        _config("dev", orderPlatform=order_platform)
    return str(error.value)


def test_an_unpinned_latest_image_tag_is_refused():
    message = _invalid({"image": {"tag": "latest"}})
    assert "nexus-platform:orderPlatform.image.tag = 'latest'" in message


def test_an_autoscaling_ceiling_below_the_replica_floor_is_refused():
    message = _invalid({"commandService": {"replicas": 3, "maxReplicas": 2}})
    assert "orderPlatform.commandService" in message
    assert "maxReplicas (2) may not be below replicas (3)" in message


def test_a_disruption_budget_over_single_replicas_is_refused():
    message = _invalid({"podDisruptionBudget": True})
    assert "podDisruptionBudget needs at least 2 replicas" in message


def test_an_unknown_log_level_is_refused_with_the_allowed_ones():
    message = _invalid({"logLevel": "VERBOSE"})
    assert "nexus-platform:orderPlatform.logLevel = 'VERBOSE'" in message
    assert "'DEBUG'" in message


def test_a_gateway_hostname_that_is_not_a_dns_name_is_refused():
    assert "nexus-platform:orderPlatform.gateway.hostname" in _invalid({"gateway": {"hostname": "https://api"}})


# --- Credential checksums -------------------------------------------------------------------------------------


@pytest.mark.parametrize("service", [GATEWAY, COMMAND_SERVICE, QUERY_SERVICE])
def test_each_services_pods_carry_a_readable_checksum_of_its_credentials_secret(staging_stack, service):
    chart = staging_stack.charts()[f"order-platform-{service}"]
    assert set(chart.inputs["values"]["secretChecksums"]) == {f"{service}-credentials"}
    assert not chart.is_secret_input("values.secretChecksums")


def test_a_rotated_keycloak_client_secret_rolls_every_service_that_reads_it():
    before, after = (
        run_stack("staging", {KEYCLOAK: value}).charts() for value in ("keycloak-secret-one", "keycloak-secret-two")
    )
    for service in (GATEWAY, COMMAND_SERVICE, QUERY_SERVICE):
        name = f"order-platform-{service}"
        checksum = f"{service}-credentials"
        assert (
            before[name].inputs["values"]["secretChecksums"][checksum]
            != after[name].inputs["values"]["secretChecksums"][checksum]
        )
