"""charts/core-pipeline renders, with each of its values files and with the exact values CorePipeline passes for
each stack, only objects the Kubernetes schema accepts, and meets the specification's success criteria that can
be checked without a cluster: lint clean, probes and Prometheus scraping, TLS ingress, HPA bounds, resource
sizes, hardened pods, zero-downtime rollouts, network policy and labels. The GitOps values files point at the
same endpoints the Pulumi stacks wire, and the ArgoCD manifests deploy them. Bad values are refused by the schema
or the validateValues helper before anything is applied.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.core_pipeline import TLS_ENV, ChartWiring, chart_values
from platform_config.core_pipeline import CorePipelineConfig
from tooling.helm import (
    CHARTS_DIR,
    HelmError,
    containers,
    find,
    lint,
    one,
    render,
    validate_manifests,
)
from tooling.stacks import STACKS, StackRun, run_stack, stack_config

pytestmark = pytest.mark.render

CHART = CHARTS_DIR / "core-pipeline"
RELEASE = "core-pipeline"
NAMESPACE = "core-pipeline"
VALUES_FILES = ("values.yaml", "values-dev.yaml", "values-staging.yaml", "values-prod.yaml", "values-test.yaml")
CI_FILES = tuple(sorted(p.name for p in (CHART / "ci").glob("*-values.yaml")))
ENVIRONMENTS = ("dev", "staging", "prod")
# Specification, "Resource Limits".
SPEC_RESOURCES = {
    "dev": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "200m", "memory": "256Mi"}},
    "staging": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}},
    "prod": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"cpu": "1000m", "memory": "1Gi"}},
}
# Specification, "HPA": None = no HPA.
SPEC_HPA = {"dev": None, "staging": (2, 10), "prod": (3, 20)}
# Specification, "replicas": the fewest pods each environment runs (the HPA's floor where it autoscales).
SPEC_REPLICAS = {"dev": 1, "staging": 2, "prod": 3}
SPEC_LOG_LEVEL = {"dev": "debug", "staging": "info", "prod": "warn"}
LABELS = ("name", "instance", "version", "component", "part-of", "managed-by")

WIRING = ChartWiring(
    kafka_bootstrap_servers="nexus-kafka.data.svc.cluster.local:9092",
    postgres_host="orders-postgresql-primary.postgres.svc.cluster.local",
    postgres_port="5432",
    postgres_namespace="postgres",
    redis_host="nexus-redis-master.data.svc.cluster.local",
    redis_port="6379",
    redis_namespace="data",
    secret_name="core-pipeline-credentials",
)


def values_file(name: str) -> Path:
    return CHART / name if not name.endswith("-values.yaml") else CHART / "ci" / name


def rendered_file(name: str, **values: Any) -> list[dict]:
    return render(CHART, values or None, values_files=[values_file(name)], release=RELEASE, namespace=NAMESPACE)


def stack_section(stack: str) -> CorePipelineConfig:
    return CorePipelineConfig.model_validate(stack_config(stack)["corePipeline"])


def stack_values(stack: str) -> dict[str, Any]:
    return chart_values(RELEASE, stack_section(stack), WIRING)


def rendered_stack(stack: str) -> list[dict]:
    return render(CHART, stack_values(stack), release=RELEASE, namespace=NAMESPACE)


def rendered_env(source: str, env: str) -> list[dict]:
    """An environment as deployed by the values file (`file`) or by the component for that stack (`stack`)."""
    return rendered_file(f"values-{env}.yaml") if source == "file" else rendered_stack(env)


def deployment(manifests: list[dict]) -> dict:
    return one(manifests, "Deployment", RELEASE)


def app_container(manifests: list[dict]) -> dict:
    return deployment(manifests)["spec"]["template"]["spec"]["containers"][0]


def refused(values: dict[str, Any]) -> str:
    with pytest.raises(HelmError) as error:
        render(CHART, values, release=RELEASE, namespace=NAMESPACE)
    return str(error.value)


sources = pytest.mark.parametrize("source", ["file", "stack"])
environments = pytest.mark.parametrize("env", ENVIRONMENTS)


# --- Lint and schema-valid renders ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", VALUES_FILES + CI_FILES)
def test_the_chart_is_lint_clean_with_each_values_file(name):
    lint(CHART, values_files=[values_file(name)])


@pytest.mark.parametrize("stack", STACKS)
def test_the_chart_is_lint_clean_with_each_stacks_component_values(stack):
    lint(CHART, stack_values(stack))


@pytest.mark.parametrize("name", [n for n in VALUES_FILES + CI_FILES if n != "traefik-values.yaml"])
def test_each_values_file_renders_schema_valid_objects(name):
    assert deployment(rendered_file(name))


@pytest.mark.parametrize("stack", STACKS)
def test_each_stacks_component_values_render_schema_valid_objects(stack):
    assert deployment(rendered_stack(stack))


def test_the_chart_version_is_v2_and_app_version_is_the_default_image_tag():
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert (chart["apiVersion"], chart["type"]) == ("v2", "application")
    assert app_container(rendered_file("values.yaml"))["image"].endswith(f":{chart['appVersion']}")
    assert CorePipelineConfig().image.tag == chart["appVersion"]


# --- Probes, ports and metrics ----------------------------------------------------------------------------------


@sources
@environments
@pytest.mark.parametrize(
    ("probe_kind", "path", "timings"),
    [("livenessProbe", "/health", (30, 10, 5, 3)), ("readinessProbe", "/ok", (10, 5, 3, 3))],
    ids=["liveness", "readiness"],
)
def test_probes_call_the_specified_path_with_the_specified_timings(source, env, probe_kind, path, timings):
    probe = app_container(rendered_env(source, env))[probe_kind]
    assert probe["httpGet"] == {"path": path, "port": "http"}
    got = (probe["initialDelaySeconds"], probe["periodSeconds"], probe["timeoutSeconds"], probe["failureThreshold"])
    assert got == timings


def test_the_service_forwards_port_80_to_the_named_container_port_3000():
    manifests = rendered_file("values.yaml")
    service = one(manifests, "Service", RELEASE)
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]
    assert app_container(manifests)["ports"] == [{"name": "http", "containerPort": 3000, "protocol": "TCP"}]


@sources
@environments
def test_pods_carry_the_prometheus_scrape_annotations(source, env):
    annotations = deployment(rendered_env(source, env))["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert (annotations["prometheus.io/path"], annotations["prometheus.io/port"]) == ("/metrics", "3000")


def test_the_service_monitor_scrapes_metrics_on_the_http_port():
    monitor = one(rendered_file("values-prod.yaml"), "ServiceMonitor", RELEASE)
    assert monitor["spec"]["endpoints"][0]["port"] == "http"
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_the_prometheus_rule_alerts_on_outage_oom_kills_and_the_autoscaler_ceiling():
    rule = one(rendered_file("values-prod.yaml"), "PrometheusRule", RELEASE)
    alerts = {r["alert"]: r["expr"] for r in rule["spec"]["groups"][0]["rules"]}
    assert set(alerts) == {
        "CorePipelineDown",
        "CorePipelineReplicasUnavailable",
        "CorePipelineOOMKilled",
        "CorePipelineAutoscalerAtMaximum",
    }
    assert 'reason="OOMKilled"' in alerts["CorePipelineOOMKilled"]
    assert alerts["CorePipelineAutoscalerAtMaximum"].endswith(">= 20")


@pytest.mark.parametrize("stack", STACKS)
def test_no_stack_renders_traefik_custom_resources(stack):
    assert not [m for m in rendered_stack(stack) if m["apiVersion"].startswith("traefik.io")]


def test_dev_renders_no_prometheus_operator_objects():
    assert not [m for m in rendered_stack("dev") if m["apiVersion"].startswith("monitoring.coreos.com")]


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_staging_and_prod_scrape_and_alert_with_the_operators_selector_label(stack):
    operator = [m for m in rendered_stack(stack) if m["apiVersion"].startswith("monitoring.coreos.com")]
    assert sorted(m["kind"] for m in operator) == ["PrometheusRule", "ServiceMonitor"]
    assert {m["metadata"]["labels"]["release"] for m in operator} == {"kube-prometheus-stack"}


# --- Ingress and TLS -------------------------------------------------------------------------------------------


@sources
@pytest.mark.parametrize("env", ["staging", "prod"])
def test_staging_and_prod_ingresses_terminate_tls_for_every_host_with_cert_manager(source, env):
    ingress = one(rendered_env(source, env), "Ingress", RELEASE)
    hosts = [rule["host"] for rule in ingress["spec"]["rules"]]
    assert ingress["spec"]["tls"] == [{"hosts": hosts, "secretName": f"{RELEASE}-tls"}]
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt-prod"


@pytest.mark.parametrize("stack", STACKS)
def test_every_stacks_ingress_has_tls(stack):
    ingress = one(rendered_stack(stack), "Ingress", RELEASE)
    assert ingress["spec"]["tls"] and ingress["spec"]["ingressClassName"] == "nginx"


@sources
def test_prod_rate_limits_requests_at_the_ingress(source):
    annotations = one(rendered_env(source, "prod"), "Ingress", RELEASE)["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/limit-rps"] == "50"
    assert annotations["nginx.ingress.kubernetes.io/limit-burst-multiplier"] == "3"


def test_the_ingress_sets_body_size_timeouts_and_cors_annotations():
    annotations = one(rendered_file("all-features-values.yaml"), "Ingress", RELEASE)["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-body-size"] == "8m"
    assert annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "60"
    assert annotations["nginx.ingress.kubernetes.io/proxy-connect-timeout"] == "5"
    assert annotations["nginx.ingress.kubernetes.io/enable-cors"] == "true"
    assert annotations["nginx.ingress.kubernetes.io/cors-allow-origin"] == "https://app.example.com"


def test_the_ingress_routes_every_host_to_the_service():
    ingress = one(rendered_file("all-features-values.yaml"), "Ingress", RELEASE)
    rules = {rule["host"]: rule["http"]["paths"][0]["backend"] for rule in ingress["spec"]["rules"]}
    assert set(rules) == {"ci.example.com", "ci-alt.example.com"}
    assert all(backend == {"service": {"name": RELEASE, "port": {"name": "http"}}} for backend in rules.values())


def test_traefik_gets_middlewares_for_body_size_rate_limit_and_cors():
    manifests = render(
        CHART, values_files=[values_file("traefik-values.yaml")], release=RELEASE, namespace="web", validate=False
    )
    validate_manifests(m for m in manifests if not m["apiVersion"].startswith("traefik.io/"))
    middlewares = sorted(m["metadata"]["name"] for m in find(manifests, "Middleware"))
    assert middlewares == [f"{RELEASE}-body-size", f"{RELEASE}-cors", f"{RELEASE}-rate-limit"]
    annotation = one(manifests, "Ingress", RELEASE)["metadata"]["annotations"][
        "traefik.ingress.kubernetes.io/router.middlewares"
    ]
    assert annotation.split(",") == [f"web-{RELEASE}-{m}@kubernetescrd" for m in ("body-size", "rate-limit", "cors")]


# --- Autoscaling, replicas, resources ---------------------------------------------------------------------------


@sources
@environments
def test_the_hpa_bounds_follow_the_specification(source, env):
    hpas = find(rendered_env(source, env), "HorizontalPodAutoscaler")
    if SPEC_HPA[env] is None:
        assert hpas == []
    else:
        assert (hpas[0]["spec"]["minReplicas"], hpas[0]["spec"]["maxReplicas"]) == SPEC_HPA[env]


@sources
@pytest.mark.parametrize("env", ["staging", "prod"])
def test_the_hpa_scales_on_cpu_and_memory_at_80_percent(source, env):
    hpa = one(rendered_env(source, env), "HorizontalPodAutoscaler", RELEASE)
    targets = {m["resource"]["name"]: m["resource"]["target"] for m in hpa["spec"]["metrics"]}
    assert targets == {
        "cpu": {"type": "Utilization", "averageUtilization": 80},
        "memory": {"type": "Utilization", "averageUtilization": 80},
    }
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": RELEASE}


def replica_floor(manifests: list[dict]) -> int:
    """The fewest pods the release runs: the HPA's minReplicas when it autoscales, else spec.replicas."""
    hpas = find(manifests, "HorizontalPodAutoscaler")
    return hpas[0]["spec"]["minReplicas"] if hpas else deployment(manifests)["spec"]["replicas"]


@sources
@environments
def test_each_environment_runs_the_specified_number_of_replicas_at_least(source, env):
    assert replica_floor(rendered_env(source, env)) == SPEC_REPLICAS[env]


@sources
@pytest.mark.parametrize("env", ["staging", "prod"])
def test_under_the_hpa_the_deployment_leaves_replicas_to_it(source, env):
    # A declared count would reset the scale on every apply that touches the Deployment.
    assert "replicas" not in deployment(rendered_env(source, env))["spec"]


@sources
def test_dev_declares_one_replica_without_an_hpa(source):
    manifests = rendered_env(source, "dev")
    assert find(manifests, "HorizontalPodAutoscaler") == []
    assert deployment(manifests)["spec"]["replicas"] == 1


def test_with_autoscaling_off_the_deployment_declares_the_replica_count():
    manifests = rendered_file("values-prod.yaml", autoscaling={"enabled": False})
    assert deployment(manifests)["spec"]["replicas"] == 3


@sources
@environments
def test_resources_follow_the_specification_per_environment(source, env):
    assert app_container(rendered_env(source, env))["resources"] == SPEC_RESOURCES[env]


@sources
@environments
def test_log_level_follows_the_environment(source, env):
    config = one(rendered_env(source, env), "ConfigMap", f"{RELEASE}-config")["data"]
    assert config["LOG_LEVEL"] == SPEC_LOG_LEVEL[env]


def test_dev_pulls_its_image_on_every_start_and_prod_only_when_missing():
    assert app_container(rendered_file("values-dev.yaml"))["imagePullPolicy"] == "Always"
    assert app_container(rendered_file("values-prod.yaml"))["imagePullPolicy"] == "IfNotPresent"


@pytest.mark.parametrize("name", VALUES_FILES + CI_FILES)
def test_every_container_has_cpu_and_memory_requests_and_limits(name):
    manifests = render(CHART, values_files=[values_file(name)], release=RELEASE, namespace=NAMESPACE, validate=False)
    for workload in find(manifests, "Deployment") + find(manifests, "Job"):
        for container in containers(workload):
            for bound in ("requests", "limits"):
                assert set(container["resources"][bound]) == {"cpu", "memory"}, (name, container["name"])


# --- Zero-downtime and availability -----------------------------------------------------------------------------


@sources
@environments
def test_rolling_updates_never_remove_a_pod_before_its_replacement_is_ready(source, env):
    manifests = rendered_env(source, env)
    strategy = deployment(manifests)["spec"]["strategy"]
    assert strategy["type"] == "RollingUpdate" and strategy["rollingUpdate"]["maxUnavailable"] == 0
    assert app_container(manifests)["lifecycle"]["preStop"] == {"sleep": {"seconds": 5}}


@sources
@pytest.mark.parametrize("env", ["staging", "prod"])
def test_staging_and_prod_have_a_disruption_budget_over_the_pods(source, env):
    budget = one(rendered_env(source, env), "PodDisruptionBudget", RELEASE)
    assert budget["spec"]["maxUnavailable"] == 1
    assert budget["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "core-pipeline",
        "app.kubernetes.io/instance": RELEASE,
    }


@sources
def test_prod_runs_at_least_two_replicas(source):
    assert one(rendered_env(source, "prod"), "HorizontalPodAutoscaler", RELEASE)["spec"]["minReplicas"] >= 2


@sources
def test_prod_pods_repel_each_other_across_nodes_and_spread_across_zones(source):
    spec = deployment(rendered_env(source, "prod"))["spec"]["template"]["spec"]
    required = spec["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert required[0]["topologyKey"] == "kubernetes.io/hostname"
    assert spec["topologySpreadConstraints"][0]["topologyKey"] == "topology.kubernetes.io/zone"


def test_staging_prefers_pods_on_different_nodes():
    affinity = deployment(rendered_stack("staging"))["spec"]["template"]["spec"]["affinity"]
    assert affinity["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]["weight"] == 100


# --- Security -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", VALUES_FILES + CI_FILES)
def test_every_container_runs_as_uid_1000_read_only_with_no_capabilities(name):
    manifests = render(CHART, values_files=[values_file(name)], release=RELEASE, namespace=NAMESPACE, validate=False)
    for workload in find(manifests, "Deployment") + find(manifests, "Job"):
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["fsGroup"] == 1000
        for container in containers(workload):
            security = container["securityContext"]
            assert security["runAsUser"] == 1000 and security["runAsNonRoot"] is True
            assert security["readOnlyRootFilesystem"] is True and security["privileged"] is False
            assert security["allowPrivilegeEscalation"] is False and security["capabilities"] == {"drop": ["ALL"]}


@sources
@environments
def test_tmp_is_the_only_writable_path_as_an_emptydir(source, env):
    manifests = rendered_env(source, env)
    writable = [mount for mount in app_container(manifests)["volumeMounts"] if not mount.get("readOnly")]
    assert writable == [{"name": "tmp", "mountPath": "/tmp"}]
    volumes = deployment(manifests)["spec"]["template"]["spec"]["volumes"]
    assert [volume for volume in volumes if "emptyDir" in volume] == [
        {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}
    ]


def test_the_pods_do_not_mount_an_api_token():
    spec = deployment(rendered_file("values.yaml"))["spec"]["template"]["spec"]
    assert spec["automountServiceAccountToken"] is False


@pytest.mark.parametrize("stack", STACKS)
def test_the_component_renders_no_secret_and_reads_credentials_from_its_own(stack):
    manifests = rendered_stack(stack)
    assert find(manifests, "Secret") == []
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in app_container(manifests)["env"]}
    assert set(refs) == {"POSTGRES_USER", "POSTGRES_PASSWORD", "REDIS_PASSWORD"}
    assert {ref["name"] for ref in refs.values()} == {"core-pipeline-credentials"}


@pytest.mark.parametrize("stack", STACKS)
def test_the_config_map_carries_the_wired_endpoints_and_no_credential(stack):
    data = one(rendered_stack(stack), "ConfigMap", f"{RELEASE}-config")["data"]
    assert data["KAFKA_BROKERS"] == WIRING.kafka_bootstrap_servers
    assert (data["POSTGRES_HOST"], data["REDIS_HOST"]) == (WIRING.postgres_host, WIRING.redis_host)
    assert not [key for key in data if any(word in key.lower() for word in ("password", "secret", "token", "key"))]


def test_the_charts_own_secret_uses_string_data():
    secret = one(rendered_file("values-dev.yaml"), "Secret", f"{RELEASE}-credentials")
    assert "stringData" in secret and "data" not in secret


def test_feature_flags_land_in_the_config_map():
    data = one(rendered_file("values-test.yaml"), "ConfigMap", f"{RELEASE}-config")["data"]
    assert (data["FEATURE_ASYNC_INGEST"], data["FEATURE_LEGACY_EXPORT"]) == ("true", "false")


# --- GitOps values files agree with what the Pulumi stacks wire ------------------------------------------------

WIRED_KEYS = ("KAFKA_BROKERS", "POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_DB", "REDIS_HOST", "REDIS_PORT")


@functools.cache
def deployed(stack: str) -> StackRun:
    return run_stack(stack)


@environments
def test_each_values_file_points_at_the_endpoints_its_stack_wires(env):
    from_file = one(rendered_file(f"values-{env}.yaml"), "ConfigMap", f"{RELEASE}-config")["data"]
    from_stack = deployed(env).charts()[f"{RELEASE}-chart"].inputs["values"]["env"]
    assert {key: from_file[key] for key in WIRED_KEYS} == {key: str(from_stack[key]) for key in WIRED_KEYS}
    assert from_file["OTEL_EXPORTER_OTLP_ENDPOINT"] == from_stack["OTEL_EXPORTER_OTLP_ENDPOINT"]


@environments
def test_each_values_file_connects_over_tls_exactly_as_its_stack_does(env):
    manifests = rendered_file(f"values-{env}.yaml")
    from_file = one(manifests, "ConfigMap", f"{RELEASE}-config")["data"]
    from_stack = deployed(env).charts()[f"{RELEASE}-chart"].inputs["values"]
    assert {key: from_file.get(key) for key in TLS_ENV} == {key: from_stack["env"].get(key) for key in TLS_ENV}
    volumes = deployment(manifests)["spec"]["template"]["spec"]["volumes"]
    assert [volume for volume in volumes if volume["name"] == "tls-ca"] == from_stack.get("extraVolumes", [])


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_with_tls_on_the_pods_mount_only_the_ca_of_the_services_certificate(env):
    volumes = deployment(rendered_file(f"values-{env}.yaml"))["spec"]["template"]["spec"]["volumes"]
    ca = next(volume for volume in volumes if volume["name"] == "tls-ca")
    assert ca["secret"] == {"secretName": "core-pipeline-tls", "items": [{"key": "ca.crt", "path": "ca.crt"}]}


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_each_values_files_egress_matches_its_stacks(env):
    def rules(egress: dict) -> dict:
        return {name: (rule["namespace"], [int(port) for port in rule["ports"]]) for name, rule in egress.items()}

    from_file = yaml.safe_load((CHART / f"values-{env}.yaml").read_text())["networkPolicy"]["egress"]
    from_stack = deployed(env).charts()[f"{RELEASE}-chart"].inputs["values"]["networkPolicy"]["egress"]
    assert rules(from_file) == rules(from_stack)


# --- Network policy --------------------------------------------------------------------------------------------


def network_policy(manifests: list[dict]) -> dict:
    return one(manifests, "NetworkPolicy", RELEASE)["spec"]


@sources
@pytest.mark.parametrize("env", ["staging", "prod"])
def test_only_the_ingress_controller_and_this_releases_pods_may_connect(source, env):
    rules = network_policy(rendered_env(source, env))["ingress"]
    peers = [rule["from"][0] for rule in rules[:2]]
    assert peers[0] == {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
    assert peers[1] == {"podSelector": {"matchLabels": {"app.kubernetes.io/instance": RELEASE}}}
    assert all(rule["ports"] == [{"port": "http", "protocol": "TCP"}] for rule in rules)


def test_the_stacks_egress_reaches_dns_kafka_postgres_redis_and_otlp_only():
    egress = network_policy(rendered_stack("prod"))["egress"]

    def namespace(rule: dict) -> str | None:
        return (
            rule["to"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] if "to" in rule else None
        )

    allowed = [(namespace(rule), sorted(p["port"] for p in rule["ports"])) for rule in egress]
    assert allowed == [
        ("kube-system", [53, 53]),
        ("data", [9092]),
        ("postgres", [5432]),
        ("data", [6379]),
        ("observability", [4317, 4318]),
    ]


def test_prod_lets_prometheus_scrape_through_the_network_policy():
    rules = network_policy(rendered_stack("prod"))["ingress"]
    assert rules[2]["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]


def test_dev_has_no_network_policy():
    assert find(rendered_stack("dev"), "NetworkPolicy") == []


# --- Labels ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", VALUES_FILES + CI_FILES)
def test_every_object_carries_the_standard_labels(name):
    manifests = render(CHART, values_files=[values_file(name)], release=RELEASE, namespace=NAMESPACE, validate=False)
    for manifest in manifests:
        labels = manifest["metadata"]["labels"]
        missing = [key for key in LABELS if f"app.kubernetes.io/{key}" not in labels]
        assert not missing and labels["helm.sh/chart"] == "core-pipeline-0.2.0", (manifest["kind"], missing)


def test_selectors_use_only_name_and_instance():
    manifests = rendered_file("all-features-values.yaml")
    selector = {"app.kubernetes.io/name": "core-pipeline", "app.kubernetes.io/instance": RELEASE}
    assert deployment(manifests)["spec"]["selector"]["matchLabels"] == selector
    assert one(manifests, "Service", RELEASE)["spec"]["selector"] == selector


# --- Hooks ----------------------------------------------------------------------------------------------------


def test_the_migration_job_runs_before_install_and_upgrade():
    migration = one(rendered_file("values-test.yaml"), "Job", f"{RELEASE}-migrate")
    assert migration["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    env = {e["name"] for e in containers(migration)[0]["env"]}
    assert {"KAFKA_BROKERS", "POSTGRES_HOST", "POSTGRES_PASSWORD"} <= env


def test_the_smoke_test_checks_both_probes_after_install_and_upgrade():
    smoke = one(rendered_file("values-test.yaml"), "Job", f"{RELEASE}-smoke-test")
    assert smoke["metadata"]["annotations"]["helm.sh/hook"] == "post-install,post-upgrade"
    command = containers(smoke)[0]["command"]
    assert command[-2:] == [
        f"http://{RELEASE}.{NAMESPACE}.svc:80/health",
        f"http://{RELEASE}.{NAMESPACE}.svc:80/ok",
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_the_stacks_render_no_hook_jobs(stack):
    assert find(rendered_stack(stack), "Job") == []


# --- Refused values ---------------------------------------------------------------------------------------------


def test_a_negative_replica_count_is_refused_by_the_schema():
    assert "/replicaCount" in refused({"replicaCount": -1})


def test_a_load_balancer_service_is_refused_by_the_schema():
    assert "/service/type" in refused({"service": {"type": "LoadBalancer"}})


def test_the_latest_image_tag_is_refused_by_the_schema():
    assert "/image/tag" in refused({"image": {"tag": "latest"}})


def test_a_malformed_cpu_quantity_is_refused_by_the_schema():
    assert "/resources/limits/cpu" in refused({"resources": {"limits": {"cpu": "two cores"}}})


def test_a_writable_root_filesystem_is_refused_by_the_schema():
    assert "/securityContext/readOnlyRootFilesystem" in refused({"securityContext": {"readOnlyRootFilesystem": False}})


def test_an_hpa_above_its_range_is_refused_by_the_schema():
    assert "/autoscaling/maxReplicas" in refused({"autoscaling": {"enabled": True, "maxReplicas": 500}})


def test_an_unknown_top_level_value_is_refused_by_the_schema():
    assert "replicas" in refused({"replicas": 3})


def test_a_credential_in_the_config_map_environment_is_refused():
    message = refused({"env": {"API_TOKEN": "abc"}})
    assert "env.API_TOKEN looks like a credential" in message


def test_hpa_bounds_out_of_order_are_refused():
    message = refused({"autoscaling": {"enabled": True, "minReplicas": 8, "maxReplicas": 4}})
    assert "autoscaling.maxReplicas (4) must be at least autoscaling.minReplicas (8)" in message


def test_a_migration_hook_without_an_existing_secret_is_refused():
    assert "migration.enabled=true needs secret.existingSecret" in refused({"migration": {"enabled": True}})


# --- ArgoCD ----------------------------------------------------------------------------------------------------


def argocd_manifests() -> list[dict]:
    return [doc for path in sorted((CHART / "argocd").glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text())]


def test_the_argocd_manifests_are_well_formed():
    manifests = argocd_manifests()
    validate_manifests(manifests)
    kinds = sorted(m["kind"] for m in manifests)
    assert kinds == ["AppProject", "AppProject", "AppProject", "Application", "ApplicationSet"]


def test_the_application_set_deploys_each_environment_with_its_values_file_into_its_own_project():
    appset = next(m for m in argocd_manifests() if m["kind"] == "ApplicationSet")
    envs = [element["env"] for element in appset["spec"]["generators"][0]["list"]["elements"]]
    assert envs == list(ENVIRONMENTS)
    template = appset["spec"]["template"]["spec"]
    assert template["project"] == "core-pipeline-{{ .env }}"
    assert template["source"]["path"] == "charts/core-pipeline"
    assert template["source"]["helm"]["valueFiles"] == ["values-{{ .env }}.yaml"]
    assert all((CHART / f"values-{env}.yaml").is_file() for env in envs)


def test_argocd_syncs_automatically_and_ignores_the_replicas_the_hpa_owns():
    for app in (m for m in argocd_manifests() if m["kind"] in ("Application", "ApplicationSet")):
        spec = app["spec"]["template"]["spec"] if app["kind"] == "ApplicationSet" else app["spec"]
        assert spec["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
        assert spec["ignoreDifferences"][0]["jsonPointers"] == ["/spec/replicas"]


def test_the_application_set_promotes_dev_then_staging_then_prod():
    appset = next(m for m in argocd_manifests() if m["kind"] == "ApplicationSet")
    steps = appset["spec"]["strategy"]["rollingSync"]["steps"]
    assert [step["matchExpressions"][0]["values"] for step in steps] == [["dev"], ["staging"], ["prod"]]


def test_each_environment_project_may_deploy_only_to_its_own_namespace():
    projects = {m["metadata"]["name"]: m["spec"] for m in argocd_manifests() if m["kind"] == "AppProject"}
    assert set(projects) == {f"core-pipeline-{env}" for env in ENVIRONMENTS}
    assert all(spec["destinations"][0]["namespace"] == "core-pipeline" for spec in projects.values())
