"""charts/fluxiondb renders a single-pod FluxionDB that can never be scaled out, never mounts its volume
twice, keeps its data on uninstall, needs an API key, and renders the exact values FluxionTenant passes
for each environment's example tenants (with that stack's `fluxion.defaults`, as a tenant stack gets them) into
objects that pass Kubernetes schema validation."""

from __future__ import annotations

import pytest

from components.fluxion_tenant import chart_values, claim_name, secret_name
from platform_config.fluxion import FluxionConfig, TenantConfig, storage_for_ram
from tooling.helm import CHARTS_DIR, HelmError, containers, find, hardening_gaps, lint, one, render
from tooling.stacks import STACKS, stack_config, with_example_tenants

pytestmark = pytest.mark.render

CHART = "fluxiondb"
CHART_DIR = CHARTS_DIR / CHART
KEY = {"secret": {"secretKey": "test-only-key"}}
VALUES_FILES = sorted(CHART_DIR.glob("values-*.yaml"))
CI_FILES = sorted((CHART_DIR / "ci").glob("*-values.yaml"))
EXAMPLE_SIZES = ("256Mi", "512Mi", "1Gi", "2Gi", "4Gi", "8Gi")


def stack_tenants() -> list[tuple[str, TenantConfig, dict]]:
    cases = []
    for stack in STACKS:
        fluxion = FluxionConfig.model_validate(with_example_tenants(stack, stack_config(stack))["fluxion"])
        cases += [(stack, tenant, chart_values(tenant, fluxion.defaults)) for tenant in fluxion.tenants]
    return cases


STACK_TENANTS = stack_tenants()
STACK_IDS = [f"{stack}-{tenant.id}" for stack, tenant, _ in STACK_TENANTS]


def deployment(manifests: list) -> dict:
    return one(manifests, "Deployment")


def plain_values(ram: str) -> dict:
    """What a plain-Helm user passes for a tenant of this size (the documentation's Quick Start)."""
    return {
        **KEY,
        "resources": {"requests": {"cpu": "250m", "memory": ram}, "limits": {"cpu": "1000m", "memory": ram}},
        "persistence": {"size": storage_for_ram(ram)},
    }


# --- Lint and schema validation --------------------------------------------------------------------------------


@pytest.mark.parametrize("values_file", VALUES_FILES + CI_FILES, ids=lambda p: p.name)
def test_the_chart_lints_strictly_with_each_values_file(values_file):
    lint(CHART, values=KEY, values_files=[values_file])


@pytest.mark.parametrize("values_file", VALUES_FILES + CI_FILES, ids=lambda p: p.name)
def test_each_values_file_renders_schema_valid_objects(values_file):
    assert deployment(render(CHART, values=KEY, values_files=[values_file]))


@pytest.mark.parametrize(("stack", "tenant", "values"), STACK_TENANTS, ids=STACK_IDS)
def test_the_component_values_of_every_stack_tenant_lint_strictly(stack, tenant, values):
    lint(CHART, values=values)


@pytest.mark.parametrize(("stack", "tenant", "values"), STACK_TENANTS, ids=STACK_IDS)
def test_the_component_values_of_every_stack_tenant_render_schema_valid_objects(stack, tenant, values):
    manifests = render(CHART, values=values, release=tenant.name, namespace=tenant.name)
    assert deployment(manifests)["metadata"]["name"] == tenant.name


# --- Single pod ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("replicas", [0, 2, 3])
def test_the_schema_rejects_any_replica_count_but_one(replicas):
    with pytest.raises(HelmError, match="replicaCount"):
        render(CHART, values={**KEY, "replicaCount": replicas}, validate=False)


def test_the_deployment_runs_exactly_one_pod():
    assert deployment(render(CHART, values=KEY))["spec"]["replicas"] == 1


def test_the_deployment_recreates_its_pod_so_the_volume_is_never_mounted_twice():
    assert deployment(render(CHART, values=KEY))["spec"]["strategy"] == {"type": "Recreate"}


def test_the_deployment_carries_the_documented_single_pod_policy_exemption():
    annotations = deployment(render(CHART, values=KEY))["metadata"]["annotations"]
    assert annotations["nexus-platform/single-pod-by-design"] == "true"
    assert "ReadWriteOnce" in annotations["nexus-platform/single-pod-reason"]


def test_the_volume_access_mode_must_be_read_write_once():
    values = {**KEY, "persistence": {"accessModes": ["ReadWriteMany"]}}
    with pytest.raises(HelmError, match="accessModes"):
        render(CHART, values=values, validate=False)


# --- Storage ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ram", EXAMPLE_SIZES)
def test_the_claim_is_twice_the_ram_for_each_example_size(ram):
    claim = one(render(CHART, values=plain_values(ram)), "PersistentVolumeClaim")
    expected = {"256Mi": "512Mi", "512Mi": "1Gi", "1Gi": "2Gi", "2Gi": "4Gi", "4Gi": "8Gi", "8Gi": "16Gi"}[ram]
    assert claim["spec"]["resources"]["requests"]["storage"] == expected


@pytest.mark.parametrize(("stack", "tenant", "values"), STACK_TENANTS, ids=STACK_IDS)
def test_the_component_values_size_storage_at_twice_the_ram(stack, tenant, values):
    assert values["persistence"]["size"] == storage_for_ram(tenant.ram)


def test_the_created_claim_is_kept_on_helm_uninstall():
    claim = one(render(CHART, values=KEY), "PersistentVolumeClaim")
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


def test_an_existing_claim_is_mounted_and_none_is_created():
    manifests = render(CHART, values={**KEY, "persistence": {"existingClaim": "tenant-data"}})
    assert not find(manifests, "PersistentVolumeClaim")
    volumes = deployment(manifests)["spec"]["template"]["spec"]["volumes"]
    assert {"name": "data", "persistentVolumeClaim": {"claimName": "tenant-data"}} in volumes


@pytest.mark.parametrize(("stack", "tenant", "values"), STACK_TENANTS, ids=STACK_IDS)
def test_the_component_values_mount_the_components_claim_and_render_no_claim(stack, tenant, values):
    manifests = render(CHART, values=values, release=tenant.name, namespace=tenant.name)
    assert not find(manifests, "PersistentVolumeClaim")
    volumes = deployment(manifests)["spec"]["template"]["spec"]["volumes"]
    assert {"name": "data", "persistentVolumeClaim": {"claimName": claim_name(tenant)}} in volumes


def test_fluxiondb_persists_to_the_mounted_volume():
    pod = deployment(render(CHART, values=KEY))["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert "--data=/data" in container["args"]
    assert {"name": "data", "mountPath": "/data"} in container["volumeMounts"]


def test_without_persistence_data_lives_only_in_memory_and_no_claim_is_made():
    manifests = render(CHART, values={**KEY, "persistence": {"enabled": False}})
    assert not find(manifests, "PersistentVolumeClaim")
    container = deployment(manifests)["spec"]["template"]["spec"]["containers"][0]
    assert not [arg for arg in container["args"] if arg.startswith("--data")]


# --- API key ---------------------------------------------------------------------------------------------------


def test_the_api_key_is_required_unless_an_existing_secret_is_named():
    with pytest.raises(HelmError, match=r"secret\.secretKey is required"):
        render(CHART, validate=False)


def test_the_chart_creates_the_secret_from_the_given_key_and_reads_it_into_the_container():
    manifests = render(CHART, values=KEY)
    secret = one(manifests, "Secret")
    env = deployment(manifests)["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [
        {
            "name": "SECRET_KEY",
            "valueFrom": {"secretKeyRef": {"name": secret["metadata"]["name"], "key": "secret-key"}},
        }
    ]


@pytest.mark.parametrize(("stack", "tenant", "values"), STACK_TENANTS, ids=STACK_IDS)
def test_the_component_values_use_the_components_secret_and_carry_no_key(stack, tenant, values):
    manifests = render(CHART, values=values, release=tenant.name, namespace=tenant.name)
    assert not find(manifests, "Secret")
    env = deployment(manifests)["spec"]["template"]["spec"]["containers"][0]["env"][0]
    assert env["valueFrom"]["secretKeyRef"]["name"] == secret_name(tenant)
    assert "secretKey" not in values["secret"]


def test_the_key_reaches_the_server_as_a_kubelet_expanded_flag_without_a_shell():
    container = deployment(render(CHART, values=KEY))["spec"]["template"]["spec"]["containers"][0]
    assert "command" not in container
    assert container["args"][0] == "--secret-key=$(SECRET_KEY)"


# --- Resources, probes, security -------------------------------------------------------------------------------


@pytest.mark.parametrize(("stack", "tenant", "values"), STACK_TENANTS, ids=STACK_IDS)
def test_the_component_values_give_memory_request_equal_to_limit_equal_to_ram(stack, tenant, values):
    manifests = render(CHART, values=values, release=tenant.name, namespace=tenant.name)
    resources = deployment(manifests)["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert resources["requests"]["memory"] == resources["limits"]["memory"] == tenant.ram
    assert (resources["requests"]["cpu"], resources["limits"]["cpu"]) == tenant.cpu


def test_the_probes_use_the_documented_initial_delays():
    container = deployment(render(CHART, values=KEY))["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["initialDelaySeconds"] == 10
    assert container["readinessProbe"]["initialDelaySeconds"] == 5
    assert container["livenessProbe"]["tcpSocket"] == {"port": "http"}


def test_probes_can_be_switched_off():
    values = {**KEY, "livenessProbe": {"enabled": False}, "readinessProbe": {"enabled": False}}
    container = deployment(render(CHART, values=values))["spec"]["template"]["spec"]["containers"][0]
    assert "livenessProbe" not in container and "readinessProbe" not in container


@pytest.mark.parametrize("values_file", CI_FILES, ids=lambda p: p.name)
def test_every_container_runs_unprivileged_with_a_read_only_root_and_bounded_resources(values_file):
    manifests = render(CHART, values=KEY, values_files=[values_file])
    every = [
        *containers(deployment(manifests)),
        *(c for pod in find(manifests, "Pod") for c in pod["spec"]["containers"]),
    ]
    assert len(every) == 2  # FluxionDB and the helm test Pod
    assert [gap for container in every for gap in hardening_gaps(container)] == []


def test_a_latest_image_tag_is_rejected():
    with pytest.raises(HelmError, match=r"image/tag"):
        render(CHART, values={**KEY, "image": {"tag": "latest"}}, validate=False)


def test_the_image_is_fluxiondb_at_a_pinned_tag():
    container = deployment(render(CHART, values=KEY))["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "volandoo/fluxiondb:0.1.0"


# --- Service, ingress, network policy, monitoring ---------------------------------------------------------------


def test_the_service_is_cluster_ip_on_8080_selecting_only_name_and_instance():
    service = one(render(CHART, values=KEY, release="fluxiondb-acme"), "Service")
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"][0]["port"] == 8080
    assert service["spec"]["selector"] == {
        "app.kubernetes.io/name": "fluxiondb",
        "app.kubernetes.io/instance": "fluxiondb-acme",
    }


def test_a_release_named_after_the_chart_is_not_prefixed_twice():
    manifests = render(CHART, values=KEY, release="fluxiondb-acme")
    assert deployment(manifests)["metadata"]["name"] == "fluxiondb-acme"


def test_there_is_no_ingress_unless_enabled():
    assert not find(render(CHART, values=KEY), "Ingress")


def test_an_ingress_without_tls_is_refused():
    with pytest.raises(HelmError, match=r"ingress\.tls"):
        render(CHART, values={**KEY, "ingress": {"enabled": True}}, validate=False)


@pytest.mark.parametrize("values_file", CI_FILES, ids=lambda p: p.name)
def test_the_enabled_ingress_terminates_tls_for_its_host(values_file):
    ingress = one(render(CHART, values=KEY, values_files=[values_file]), "Ingress")
    hosts = [rule["host"] for rule in ingress["spec"]["rules"]]
    assert ingress["spec"]["tls"][0]["hosts"] == hosts


def test_the_network_policy_is_off_by_default():
    assert not find(render(CHART, values=KEY), "NetworkPolicy")


def test_the_default_network_policy_admits_only_the_service_port_and_no_egress():
    manifests = render(CHART, values={**KEY, "networkPolicy": {"enabled": True}})
    policy = one(manifests, "NetworkPolicy")["spec"]
    assert policy["ingress"] == [{"from": [{"namespaceSelector": {}}], "ports": [{"protocol": "TCP", "port": "http"}]}]
    assert policy["egress"] == []


def test_prometheus_annotations_are_added_only_when_asked():
    plain = deployment(render(CHART, values=KEY))["spec"]["template"]["metadata"]["annotations"]
    assert "prometheus.io/scrape" not in plain
    values = {**KEY, "metrics": {"prometheusAnnotations": True}}
    annotated = deployment(render(CHART, values=values))["spec"]["template"]["metadata"]["annotations"]
    assert annotated["prometheus.io/scrape"] == "true"
    assert annotated["prometheus.io/port"] == "8080"


@pytest.mark.parametrize(("stack", "tenant", "values"), STACK_TENANTS, ids=STACK_IDS)
def test_staging_and_prod_tenants_are_scraped_with_the_operators_selector_label_and_dev_ones_are_not(
    stack, tenant, values
):
    monitors = find(render(CHART, values=values, namespace=f"fluxiondb-{tenant.id}", validate=False), "ServiceMonitor")
    if stack == "dev":
        assert monitors == []
    else:
        [monitor] = monitors
        assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
        assert monitor["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "30s"}]


def test_prod_tenants_get_the_charts_network_policy():
    for stack, tenant, values in STACK_TENANTS:
        if stack == "prod":
            manifests = render(CHART, values=values, release=tenant.name, namespace=tenant.name)
            assert one(manifests, "NetworkPolicy")["metadata"]["name"] == tenant.name


def test_the_helm_test_pod_is_off_unless_asked():
    assert not find(render(CHART, values=KEY), "Pod")


def test_objects_carry_the_standard_labels():
    labels = deployment(render(CHART, values=KEY))["metadata"]["labels"]
    assert {
        "app.kubernetes.io/name",
        "app.kubernetes.io/instance",
        "app.kubernetes.io/version",
        "app.kubernetes.io/component",
        "app.kubernetes.io/part-of",
        "app.kubernetes.io/managed-by",
        "helm.sh/chart",
    } <= set(labels)
