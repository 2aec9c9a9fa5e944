"""The order platform's three charts (api-gateway, order-command-service, order-query-service, sharing the
Spring Boot service of the nexus-lib library chart) lint strictly and render schema-valid objects with every
values file and with the exact values OrderPlatform passes for every committed stack; they scale on CPU at 70%,
keep PDBs and NetworkPolicies where the stack asks, keep the query service's state stores on volumes in prod, run
hardened containers, and never put a credential anywhere but a Secret.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest

from components.order_platform import (
    COMMAND_SERVICE,
    GATEWAY,
    QUERY_SERVICE,
    SERVICES,
    ServiceWiring,
    chart_values,
    credentials_secret_name,
)
from platform_config import PlatformConfig, load_platform_config
from tooling.helm import CHARTS_DIR, HelmError, containers, find, hardening_gaps, lint, one, render
from tooling.stacks import STACKS, TEST_SECRETS, stack_config

pytestmark = pytest.mark.render

NAMESPACE = "order-platform"
LIBRARY = "nexus-lib"
VALUES_FILES = ("values-dev.yaml", "values-staging.yaml", "values-prod.yaml", "ci/all-features-values.yaml")
KAFKA = "nexus-kafka-0.nexus-kafka.data.svc.cluster.local:9092,nexus-kafka-1.nexus-kafka.data.svc.cluster.local:9092"
WRITER = "orders-postgresql-primary.postgres.svc.cluster.local"
# What a plain-Helm operator passes at install time (the values files carry no credentials).
OPERATOR_SECRETS = {
    GATEWAY: {"secrets": {"keycloakClientSecret": "op-keycloak-client-secret"}},
    COMMAND_SERVICE: {
        "secrets": {"postgresPassword": "op-postgres-password", "keycloakClientSecret": "op-keycloak-client-secret"}
    },
    QUERY_SERVICE: {
        "secrets": {
            "elasticsearchPassword": "op-elasticsearch-password",
            "keycloakClientSecret": "op-keycloak-client-secret",
        }
    },
}
SECRET_KEYS = {
    GATEWAY: {"keycloak-client-secret"},
    COMMAND_SERVICE: {"postgres-password", "keycloak-client-secret"},
    QUERY_SERVICE: {"elasticsearch-password", "keycloak-client-secret"},
}
CREDENTIAL_WORDS = ("password", "secret", "token", "key")


@functools.cache
def stack_platform_config(stack: str) -> PlatformConfig:
    return load_platform_config({**stack_config(stack), **TEST_SECRETS})


def stack_values(service: str, stack: str) -> dict[str, Any]:
    """The exact values OrderPlatform passes for `stack`, with representative endpoint addresses."""
    config = stack_platform_config(stack)
    orders = config.postgresClusters["orders"]
    wiring = ServiceWiring(
        credentials_secret_name(service),
        postgres_host=WRITER,
        postgres_port=5432,
        postgres_database=orders.database,
        postgres_user=orders.username,
        kafka_bootstrap_servers=KAFKA,
    )
    return chart_values(service, config.orderPlatform, config.environment, wiring)


@functools.cache
def _render_stack(service: str, stack: str) -> str:
    return json.dumps(render(service, values=stack_values(service, stack), release=service, namespace=NAMESPACE))


def rendered_stack(service: str, stack: str) -> list[dict[str, Any]]:
    return json.loads(_render_stack(service, stack))


@functools.cache
def _render_file(service: str, values_file: str) -> str:
    path = CHARTS_DIR / service / values_file
    manifests = render(service, values=OPERATOR_SECRETS[service], values_files=[path], release=service)
    return json.dumps(manifests)


def rendered_file(service: str, values_file: str) -> list[dict[str, Any]]:
    return json.loads(_render_file(service, values_file))


def workload(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    found = find(manifests, "Deployment") + find(manifests, "StatefulSet")
    assert len(found) == 1, [m["kind"] for m in manifests]
    return found[0]


def config_map(manifests: list[dict[str, Any]]) -> dict[str, str]:
    """The service's environment ConfigMap (named like its workload; a scraped service also has a dashboard one)."""
    return one(manifests, "ConfigMap", workload(manifests)["metadata"]["name"])["data"]


def pod_spec(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    return workload(manifests)["spec"]["template"]["spec"]


ALL_FILES = [(s, f) for s in SERVICES for f in VALUES_FILES]
ALL_STACKS = [(s, st) for s in SERVICES for st in STACKS]


# --- Lint and schema validation --------------------------------------------------------------------------------


def test_the_library_chart_lints_strictly():
    lint(LIBRARY)


@pytest.mark.parametrize(("service", "values_file"), ALL_FILES)
def test_each_chart_lints_strictly_with_each_values_file(service, values_file):
    lint(service, values=OPERATOR_SECRETS[service], values_files=[CHARTS_DIR / service / values_file])


@pytest.mark.parametrize(("service", "values_file"), ALL_FILES)
def test_each_values_file_renders_schema_valid_objects(service, values_file):
    assert workload(rendered_file(service, values_file))


@pytest.mark.parametrize(("service", "stack"), ALL_STACKS)
def test_the_component_values_of_each_stack_lint_strictly(service, stack):
    lint(service, values=stack_values(service, stack))


@pytest.mark.parametrize(("service", "stack"), ALL_STACKS)
def test_the_component_values_of_each_stack_render_schema_valid_objects(service, stack):
    names = {m["metadata"]["name"] for m in rendered_stack(service, stack)}
    headless = {f"{service}-headless"} if service == QUERY_SERVICE and stack == "prod" else set()
    # A scraped service ships its Grafana dashboard ConfigMap too.
    dashboard = (
        {f"{service}-dashboard"}
        if stack_values(service, stack).get("metrics", {}).get("serviceMonitor", {}).get("enabled")
        else set()
    )
    assert names == {service} | headless | dashboard


# --- Replicas, autoscaling, disruption budgets -----------------------------------------------------------------


def replica_floor(manifests: list[dict[str, Any]]) -> int:
    """The fewest pods a service runs: its autoscaler's minReplicas when it has one, else spec.replicas."""
    hpas = find(manifests, "HorizontalPodAutoscaler")
    return hpas[0]["spec"]["minReplicas"] if hpas else workload(manifests)["spec"]["replicas"]


@pytest.mark.parametrize(("stack", "replicas"), [("dev", 1), ("staging", 2), ("prod", 3)])
@pytest.mark.parametrize("service", SERVICES)
def test_each_stack_runs_one_two_or_three_replicas_at_least(service, stack, replicas):
    assert replica_floor(rendered_stack(service, stack)) == replicas


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_staging_and_prod_scale_each_service_on_70_percent_cpu(service, stack):
    manifests = rendered_stack(service, stack)
    hpa = one(manifests, "HorizontalPodAutoscaler")["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": workload(manifests)["kind"], "name": service}
    assert hpa["metrics"] == [
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}
    ]
    assert hpa["maxReplicas"] > hpa["minReplicas"]


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_an_autoscaled_workload_leaves_replicas_to_its_autoscaler(service, stack):
    # A declared count would reset the scale on every apply that touches the workload; the policy pack
    # reads the floor from the HPA targeting it instead.
    manifests = rendered_stack(service, stack)
    assert "replicas" not in workload(manifests)["spec"]
    assert (
        one(manifests, "HorizontalPodAutoscaler")["spec"]["minReplicas"] == stack_values(service, stack)["replicaCount"]
    )


def test_the_prod_query_statefulset_leaves_replicas_to_an_autoscaler_that_targets_it():
    manifests = rendered_stack(QUERY_SERVICE, "prod")
    assert workload(manifests)["kind"] == "StatefulSet" and "replicas" not in workload(manifests)["spec"]
    target = one(manifests, "HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("StatefulSet", QUERY_SERVICE)


@pytest.mark.parametrize("service", SERVICES)
def test_with_autoscaling_off_the_workload_declares_the_replica_count(service):
    values = stack_values(service, "prod")
    values = {**values, "autoscaling": {**values["autoscaling"], "enabled": False}}
    manifests = render(service, values=values, release=service, namespace=NAMESPACE)
    assert find(manifests, "HorizontalPodAutoscaler") == []
    assert workload(manifests)["spec"]["replicas"] == 3


@pytest.mark.parametrize("service", SERVICES)
def test_dev_runs_a_single_replica_without_autoscaler_or_disruption_budget(service):
    manifests = rendered_stack(service, "dev")
    assert workload(manifests)["spec"]["replicas"] == 1
    assert find(manifests, "HorizontalPodAutoscaler") == []
    assert find(manifests, "PodDisruptionBudget") == []


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_staging_and_prod_keep_all_but_one_replica_up_with_a_disruption_budget(service, stack):
    manifests = rendered_stack(service, stack)
    pdb = one(manifests, "PodDisruptionBudget")["spec"]
    floor = one(manifests, "HorizontalPodAutoscaler")["spec"]["minReplicas"]
    assert pdb["minAvailable"] == floor - 1
    assert pdb["selector"]["matchLabels"] == workload(manifests)["spec"]["selector"]["matchLabels"]


@pytest.mark.parametrize("values_file", ["values-staging.yaml", "values-prod.yaml"])
@pytest.mark.parametrize("service", SERVICES)
def test_the_staging_and_prod_values_files_also_autoscale_at_70_percent(service, values_file):
    hpa = one(rendered_file(service, values_file), "HorizontalPodAutoscaler")["spec"]
    assert hpa["metrics"][0]["resource"]["target"]["averageUtilization"] == 70


# --- Network policies ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("service", "stack"), ALL_STACKS)
def test_network_policies_are_on_in_prod_only(service, stack):
    policies = find(rendered_stack(service, stack), "NetworkPolicy")
    assert len(policies) == (1 if stack == "prod" else 0)


@pytest.mark.parametrize(("service", "values_file"), [(s, f) for s, f in ALL_FILES if not f.startswith("ci/")])
def test_the_values_files_turn_network_policies_on_in_prod_only(service, values_file):
    policies = find(rendered_file(service, values_file), "NetworkPolicy")
    assert len(policies) == (1 if values_file == "values-prod.yaml" else 0)


@pytest.mark.parametrize("service", [COMMAND_SERVICE, QUERY_SERVICE])
def test_in_prod_only_the_gateway_and_prometheus_reach_the_backend_services(service):
    policy = one(rendered_stack(service, "prod"), "NetworkPolicy")["spec"]
    peers = [peer for rule in policy["ingress"] for peer in rule["from"]]
    assert peers == [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": GATEWAY}}},
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}},
    ]


def test_in_prod_the_gateway_is_reached_from_the_ingress_controller_namespace():
    policy = one(rendered_stack(GATEWAY, "prod"), "NetworkPolicy")["spec"]
    assert policy["ingress"][0]["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
    ]


# --- The query service's state stores --------------------------------------------------------------------------


def test_prod_keeps_the_query_state_stores_on_a_volume_per_replica():
    query = workload(rendered_stack(QUERY_SERVICE, "prod"))
    assert query["kind"] == "StatefulSet"
    claim = query["spec"]["volumeClaimTemplates"][0]
    assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"
    assert claim["spec"]["storageClassName"] == "encrypted-gp3"
    assert query["spec"]["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    mounts = {m["name"]: m["mountPath"] for m in containers(query)[0]["volumeMounts"]}
    assert mounts["state"] == config_map(rendered_stack(QUERY_SERVICE, "prod"))["KAFKA_STREAMS_STATE_DIR"]


@pytest.mark.parametrize("stack", ["dev", "staging"])
def test_dev_and_staging_keep_the_query_state_stores_in_an_emptydir(stack):
    manifests = rendered_stack(QUERY_SERVICE, stack)
    assert workload(manifests)["kind"] == "Deployment"
    volumes = {v["name"]: v for v in pod_spec(manifests)["volumes"]}
    assert "emptyDir" in volumes["state"]


def test_the_prod_values_file_turns_query_persistence_on():
    assert workload(rendered_file(QUERY_SERVICE, "values-prod.yaml"))["kind"] == "StatefulSet"


# --- Secrets only in Secrets -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("service", "stack"), ALL_STACKS)
def test_with_component_values_the_chart_creates_no_secret_and_reads_the_components_one(service, stack):
    manifests = rendered_stack(service, stack)
    assert find(manifests, "Secret") == []
    refs = {
        (e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"])
        for c in containers(workload(manifests))
        for e in c["env"]
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    assert refs == {(credentials_secret_name(service), key) for key in SECRET_KEYS[service]}


@pytest.mark.parametrize("service", SERVICES)
def test_credentials_given_as_values_appear_in_the_secret_and_nowhere_else(service):
    manifests = rendered_file(service, "ci/all-features-values.yaml")
    credentials = set(OPERATOR_SECRETS[service]["secrets"].values())
    secret = one(manifests, "Secret")
    assert set(secret["stringData"].values()) == credentials
    for manifest in manifests:
        if manifest["kind"] != "Secret":
            text = json.dumps(manifest)
            assert not [c for c in credentials if c in text], f"{manifest['kind']} carries a credential"


@pytest.mark.parametrize(("service", "stack"), ALL_STACKS)
def test_no_configmap_key_looks_like_a_credential(service, stack):
    keys = config_map(rendered_stack(service, stack))
    assert [k for k in keys if any(word in k.lower() for word in CREDENTIAL_WORDS)] == []


# --- Hardened containers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("service", "stack"), ALL_STACKS)
def test_every_container_is_non_root_read_only_unprivileged_and_bounded(service, stack):
    manifests = rendered_stack(service, stack)
    assert pod_spec(manifests)["securityContext"]["runAsNonRoot"] is True
    assert [gap for container in containers(workload(manifests)) for gap in hardening_gaps(container)] == []


@pytest.mark.parametrize("service", SERVICES)
def test_tmp_is_a_writable_emptydir_because_the_root_filesystem_is_read_only(service):
    manifests = rendered_stack(service, "prod")
    volumes = {v["name"]: v for v in pod_spec(manifests)["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in containers(workload(manifests))[0]["volumeMounts"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]


@pytest.mark.parametrize(("service", "stack"), [(s, st) for s in SERVICES for st in ("staging", "prod")])
def test_staging_and_prod_images_are_pinned_to_a_version(service, stack):
    image = containers(workload(rendered_stack(service, stack)))[0]["image"]
    assert image == f"registry.nexus.example.com/order-platform/{service}:1.0.0"


@pytest.mark.parametrize("service", SERVICES)
def test_probes_use_the_spring_actuator_health_groups(service):
    container = containers(workload(rendered_stack(service, "prod")))[0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/actuator/health/liveness"
    assert container["readinessProbe"]["httpGet"]["path"] == "/actuator/health/readiness"
    assert container["startupProbe"]["httpGet"]["path"] == "/actuator/health/liveness"


# --- Observability and logging ---------------------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_pods_are_annotated_for_scraping_at_actuator_prometheus(service):
    annotations = workload(rendered_stack(service, "prod"))["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/actuator/prometheus"
    assert annotations["prometheus.io/port"] == "8080"


@pytest.mark.parametrize(("stack", "level"), [("dev", "DEBUG"), ("staging", "INFO"), ("prod", "INFO")])
@pytest.mark.parametrize("service", SERVICES)
def test_log_levels_are_debug_info_info_in_json(service, stack, level):
    data = config_map(rendered_stack(service, stack))
    assert data["LOGGING_LEVEL_ROOT"] == level
    assert data["LOGGING_STRUCTURED_FORMAT_CONSOLE"] == "ecs"


@pytest.mark.parametrize("service", SERVICES)
def test_traces_go_to_the_otel_collector_tagged_with_service_and_environment(service):
    data = config_map(rendered_stack(service, "staging"))
    assert data["OTEL_SDK_DISABLED"] == "false"
    assert data["OTEL_SERVICE_NAME"] == service
    assert data["OTEL_EXPORTER_OTLP_ENDPOINT"].startswith("http://opentelemetry-collector.")
    assert "deployment.environment=staging" in data["OTEL_RESOURCE_ATTRIBUTES"]


@pytest.mark.parametrize("service", SERVICES)
def test_the_all_features_values_render_a_service_monitor_for_actuator_prometheus(service):
    monitor = one(rendered_file(service, "ci/all-features-values.yaml"), "ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["path"] == "/actuator/prometheus"


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("service", SERVICES)
def test_staging_and_prod_scrape_each_service_with_the_operators_selector_label_and_dev_does_not(service, stack):
    monitors = [m for m in rendered_stack(service, stack) if m["kind"] == "ServiceMonitor"]
    if stack == "dev":
        assert monitors == []
    else:
        assert [m["metadata"]["labels"]["release"] for m in monitors] == ["kube-prometheus-stack"]
        assert monitors[0]["spec"]["endpoints"][0]["path"] == "/actuator/prometheus"


# --- Service specifics -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_the_gateway_ingress_serves_tls_from_cert_manager_and_rate_limits_from_config(stack):
    ingress = one(rendered_stack(GATEWAY, stack), "Ingress")
    gateway = stack_platform_config(stack).orderPlatform.gateway
    annotations = ingress["metadata"]["annotations"]
    assert annotations["cert-manager.io/cluster-issuer"] == gateway.clusterIssuer
    assert annotations["nginx.ingress.kubernetes.io/limit-rpm"] == str(gateway.rateLimitRequestsPerMinute)
    assert ingress["spec"]["tls"] == [{"secretName": "api-gateway-tls", "hosts": [gateway.hostname]}]
    assert ingress["spec"]["rules"][0]["host"] == gateway.hostname


def test_the_gateway_routes_commands_and_queries_to_the_two_services():
    data = config_map(rendered_stack(GATEWAY, "prod"))
    assert data["ORDER_COMMAND_SERVICE_URL"] == f"http://{COMMAND_SERVICE}.{NAMESPACE}.svc.cluster.local"
    assert data["ORDER_QUERY_SERVICE_URL"] == f"http://{QUERY_SERVICE}.{NAMESPACE}.svc.cluster.local"
    assert data["AUTH_ISSUER_URI"].endswith("/realms/order-platform")


@pytest.mark.parametrize("stack", STACKS)
def test_the_command_service_writes_events_to_the_writer_and_orderdb_of_its_stack(stack):
    data = config_map(rendered_stack(COMMAND_SERVICE, stack))
    assert data["SPRING_DATASOURCE_URL"] == f"jdbc:postgresql://{WRITER}:5432/orderdb_{stack}"
    assert data["KAFKA_BOOTSTRAP_SERVERS"] == KAFKA
    assert int(data["SNAPSHOT_INTERVAL"]) >= 1


@pytest.mark.parametrize("stack", STACKS)
def test_the_query_service_streams_exactly_once_v2_under_a_per_stack_application_id(stack):
    data = config_map(rendered_stack(QUERY_SERVICE, stack))
    assert data["KAFKA_STREAMS_PROCESSING_GUARANTEE"] == "exactly_once_v2"
    assert data["KAFKA_STREAMS_APPLICATION_ID"] == f"order-query-service-{stack}"
    assert data["ELASTICSEARCH_INDEX_NAME"] == "orders_v1"


# --- Bad input is refused --------------------------------------------------------------------------------------

SCHEMA_REJECTIONS = [
    ({"securityContext": {"readOnlyRootFilesystem": False}}, "readOnlyRootFilesystem"),
    ({"securityContext": {"allowPrivilegeEscalation": True}}, "allowPrivilegeEscalation"),
    ({"image": {"tag": "latest"}}, "/image/tag"),
    ({"replicaCount": 0}, "/replicaCount"),
    ({"autoscaling": {"targetCPUUtilizationPercentage": 170}}, "targetCPUUtilizationPercentage"),
    ({"service": {"type": "LoadBalancer"}}, "/service/type"),
    ({"config": {"logLevel": "VERBOSE"}}, "/config/logLevel"),
    ({"unknownKey": True}, "unknownKey"),
]


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize(("bad", "fragment"), SCHEMA_REJECTIONS, ids=[f for _, f in SCHEMA_REJECTIONS])
def test_the_schema_refuses_bad_values(service, bad, fragment):
    with pytest.raises(HelmError, match=fragment):
        render(service, values={**OPERATOR_SECRETS[service], **bad})


def test_the_command_schema_refuses_a_database_that_is_not_orderdb():
    with pytest.raises(HelmError, match="postgresDatabase"):
        render(COMMAND_SERVICE, values={**OPERATOR_SECRETS[COMMAND_SERVICE], "config": {"postgresDatabase": "app"}})


def test_the_query_schema_refuses_an_unknown_processing_guarantee():
    bad = {**OPERATOR_SECRETS[QUERY_SERVICE], "config": {"kafkaProcessingGuarantee": "exactly_once"}}
    with pytest.raises(HelmError, match="kafkaProcessingGuarantee"):
        render(QUERY_SERVICE, values=bad)


@pytest.mark.parametrize("service", SERVICES)
def test_a_missing_credential_without_an_existing_secret_names_the_value_to_set(service):
    with pytest.raises(HelmError, match=r"secrets\.keycloakClientSecret is required when existingSecret is not set"):
        render(service)


@pytest.mark.parametrize("service", SERVICES)
def test_an_autoscaler_ceiling_below_the_floor_is_refused(service):
    bad = {**OPERATOR_SECRETS[service], "replicaCount": 3, "autoscaling": {"enabled": True, "maxReplicas": 2}}
    with pytest.raises(HelmError, match=r"autoscaling.maxReplicas \(2\) must be at least replicaCount \(3\)"):
        render(service, values=bad)


@pytest.mark.parametrize("service", SERVICES)
def test_a_disruption_budget_that_would_block_every_drain_is_refused(service):
    bad = {**OPERATOR_SECRETS[service], "podDisruptionBudget": {"enabled": True, "minAvailable": 1}}
    with pytest.raises(HelmError, match=r"minAvailable \(1\) must be below replicaCount \(1\)"):
        render(service, values=bad)


def test_a_gateway_ingress_without_tls_is_refused():
    bad = {**OPERATOR_SECRETS[GATEWAY], "ingress": {"enabled": True, "tls": []}}
    with pytest.raises(HelmError, match=r"ingress\.tls is empty"):
        render(GATEWAY, values=bad)


# --- One design, not three copies ------------------------------------------------------------------------------


def test_the_shared_part_of_the_values_schema_is_identical_in_the_three_charts():
    schemas = {s: json.loads((CHARTS_DIR / s / "values.schema.json").read_text()) for s in SERVICES}
    shared = set.intersection(*(set(schema["properties"]) for schema in schemas.values())) - {"config", "secrets"}
    reference = schemas[GATEWAY]["properties"]
    for service, schema in schemas.items():
        drifted = [key for key in shared if schema["properties"][key] != reference[key]]
        assert drifted == [], f"{service}'s schema drifted from api-gateway's for {drifted}"


@pytest.mark.parametrize("service", SERVICES)
def test_each_chart_template_is_a_call_into_the_library(service):
    own = {"_helpers.tpl", "NOTES.txt", "ingress.yaml"}
    for template in (CHARTS_DIR / service / "templates").iterdir():
        if template.name not in own:
            body = template.read_text()
            assert body.count("{{") <= 2 and 'include "nexus-lib.spring.' in body, template
