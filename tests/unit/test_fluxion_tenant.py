"""FluxionTenant gives each tenant its own namespace, sized quota, a 2 x RAM volume that grows in place
and outlives the tenant, a generated (or supplied) API key that only ever travels as a secret, and the
chart with exactly the values `chart_values` computes; a deprovisioned tenant keeps everything but the
chart."""

from __future__ import annotations

import functools
import json

import pytest

from components.fluxion_tenant import chart_values, keeps_data
from components.secrets import checksum_of_data
from platform_config import ConfigError
from platform_config.fluxion import FluxionConfig, FluxionDefaults, TenantConfig
from tooling.stacks import STACKS, StackRun, run_stack, stack_config, with_example_tenants

pytestmark = pytest.mark.unit

CHART = "kubernetes:helm.sh/v4:Chart"
PASSWORD = "random:index/randomPassword:RandomPassword"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
PREMIUM = "fluxiondb-example-premium"


# No committed stack deploys a tenant in the platform stack: the component is exercised with each environment's
# example tenants (the platform's `fluxion.defaults` of that stack, as a tenant stack gets them). These fixtures
# shadow tests/conftest.py's committed-stack ones for this module.
@functools.cache
def with_examples(env: str) -> StackRun:
    return run_stack(env, with_example_tenants(env))


@pytest.fixture(params=STACKS)
def any_stack(request: pytest.FixtureRequest) -> StackRun:
    return with_examples(request.param)


@pytest.fixture
def dev_stack() -> StackRun:
    return with_examples("dev")


@pytest.fixture
def staging_stack() -> StackRun:
    return with_examples("staging")


@pytest.fixture
def prod_stack() -> StackRun:
    return with_examples("prod")


def with_tenants(*tenants: dict) -> dict:
    return {"fluxion": {"tenants": list(tenants)}}


def tenant_outputs(run, tenant_id: str) -> dict:
    return run.outputs["fluxion"]["tenants"][tenant_id]


# --- One chart per tenant -------------------------------------------------------------------------------------


def test_every_stack_deploys_one_release_per_tenant_named_after_it(any_stack):
    charts = {name: r.inputs for name, r in any_stack.charts().items() if name.startswith("fluxiondb-")}
    assert set(charts) == {"fluxiondb-example-basic-chart", "fluxiondb-example-premium-chart"}
    for name, inputs in charts.items():
        release = name.removesuffix("-chart")
        assert inputs["name"] == release
        assert inputs["namespace"] == release
        assert inputs["chart"].endswith("charts/fluxiondb")


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_the_chart_gets_exactly_the_pure_chart_values(stack):
    run = with_examples(stack)
    config = FluxionConfig.model_validate(with_example_tenants(stack, stack_config(stack))["fluxion"])
    for tenant in config.tenants:
        if not tenant.active:
            continue
        values = run.charts()[f"{tenant.name}-chart"].inputs["values"]
        checksum = values["secretChecksums"][f"{tenant.name}-api-key"]
        assert values == chart_values(tenant, config.defaults, checksum, backed_up=stack != "dev")


def test_the_pod_is_annotated_with_a_readable_checksum_of_its_api_key_secret_so_it_restarts_on_rotation():
    given = {"fluxion": {"tenants": [{"id": "acme", "ram": "1Gi", "apiKey": "operator-key"}]}}
    rotated = {"fluxion": {"tenants": [{"id": "acme", "ram": "1Gi", "apiKey": "rotated-key"}]}}
    charts = [run_stack("dev", overrides).charts()["fluxiondb-acme-chart"] for overrides in (given, rotated)]
    checksums = [chart.inputs["values"]["secretChecksums"]["fluxiondb-acme-api-key"] for chart in charts]
    assert checksums[0] == checksum_of_data({"secret-key": "operator-key"})
    assert checksums[0] != checksums[1]
    assert not charts[0].is_secret_input("values.secretChecksums")


def test_no_api_key_reaches_the_chart_values(any_stack):
    for name, chart in any_stack.charts().items():
        if name.startswith("fluxiondb-"):
            assert "generated-" not in json.dumps(chart.inputs["values"])


# --- Namespace, quota, limits ---------------------------------------------------------------------------------


def test_each_tenant_gets_its_own_labelled_namespace(dev_stack):
    namespace = dev_stack.named(f"{PREMIUM}-namespace").inputs["metadata"]
    assert namespace["name"] == PREMIUM
    assert namespace["labels"]["nexus-platform/fluxion-tenant"] == "example-premium"


def test_the_quota_fits_exactly_one_tenant_sized_pod_and_volume(dev_stack):
    hard = dev_stack.named(f"{PREMIUM}-quota").inputs["spec"]["hard"]
    assert hard == {
        "requests.cpu": "1000m",
        "requests.memory": "2Gi",
        "limits.cpu": "2000m",
        "limits.memory": "2Gi",
        "requests.storage": "4Gi",
        "persistentvolumeclaims": "1",
        "services.loadbalancers": "0",
        "services.nodeports": "0",
    }


def test_the_limit_range_caps_containers_and_claims_at_the_plan(dev_stack):
    limits = dev_stack.named(f"{PREMIUM}-limits").inputs["spec"]["limits"]
    container, claim = limits
    assert container["max"] == {"cpu": "2000m", "memory": "2Gi"}
    assert container["defaultRequest"] == {"cpu": "1000m", "memory": "2Gi"}
    assert claim == {"type": "PersistentVolumeClaim", "max": {"storage": "4Gi"}}


def test_prod_puts_a_default_deny_network_policy_in_every_tenant_namespace(prod_stack):
    policies = {
        r.inputs["metadata"]["namespace"]: r.inputs
        for r in prod_stack.of_type(NETWORK_POLICY)
        if r.name.endswith("-default-deny")
    }
    for namespace in ("fluxiondb-example-basic", PREMIUM):
        assert policies[namespace]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def test_dev_creates_no_network_policies_for_tenants(dev_stack):
    assert not [r for r in dev_stack.of_type(NETWORK_POLICY) if r.name.startswith("fluxiondb-")]


# --- Volume -----------------------------------------------------------------------------------------------------


def test_the_volume_is_twice_the_ram_on_the_stacks_storage_class(staging_stack):
    claim = staging_stack.named(f"{PREMIUM}-data").inputs
    assert claim["metadata"] == {
        "name": f"{PREMIUM}-data",
        "namespace": PREMIUM,
        "labels": {
            "app.kubernetes.io/part-of": "nexus-platform",
            "app.kubernetes.io/component": "fluxiondb",
            "nexus-platform/fluxion-tenant": "example-premium",
        },
    }
    assert claim["spec"]["resources"]["requests"]["storage"] == "8Gi"
    assert claim["spec"]["storageClassName"] == "encrypted-gp3"
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]


def test_growing_ram_grows_the_same_claim_rather_than_creating_another():
    small = run_stack("dev", with_tenants({"id": "acme", "ram": "1Gi"}))
    large = run_stack("dev", with_tenants({"id": "acme", "ram": "4Gi"}))
    before, after = small.named("fluxiondb-acme-data").inputs, large.named("fluxiondb-acme-data").inputs
    assert before["metadata"]["name"] == after["metadata"]["name"] == "fluxiondb-acme-data"
    assert (before["spec"]["resources"]["requests"]["storage"], after["spec"]["resources"]["requests"]["storage"]) == (
        "2Gi",
        "8Gi",
    )


def test_the_storage_guard_records_each_tenants_claim_size(prod_stack):
    claims = prod_stack.named(f"{PREMIUM}-storage").inputs["claims"]
    assert claims == {f"{PREMIUM}-data": "16Gi"}


def test_lowering_ram_with_explicit_storage_keeps_the_volume_size():
    run = run_stack("dev", with_tenants({"id": "acme", "ram": "1Gi", "storage": "8Gi"}))
    assert run.named("fluxiondb-acme-data").inputs["spec"]["resources"]["requests"]["storage"] == "8Gi"
    assert run.named("fluxiondb-acme-storage").inputs["claims"] == {"fluxiondb-acme-data": "8Gi"}


def test_data_is_kept_when_a_tenant_is_removed_unless_deletion_is_asked_for():
    tenant = TenantConfig(id="acme", ram="1Gi")
    marked = TenantConfig(id="acme", ram="1Gi", deprovisioned=True, deleteData=True)
    assert keeps_data(tenant, delete_data_on_destroy=False) is True
    assert keeps_data(marked, delete_data_on_destroy=False) is False
    assert keeps_data(tenant, delete_data_on_destroy=True) is False


# --- Deprovisioned tenants ---------------------------------------------------------------------------------------


def test_a_deprovisioned_tenant_loses_its_chart_but_keeps_namespace_volume_key_and_quota():
    run = run_stack("dev", with_tenants({"id": "acme", "ram": "1Gi", "deprovisioned": True}))
    assert "fluxiondb-acme-chart" not in run.charts()
    for kept in ("namespace", "data", "credentials", "api-key", "quota", "limits", "storage"):
        assert run.named(f"fluxiondb-acme-{kept}")


def test_a_deprovisioned_tenant_reports_its_state_and_no_url():
    run = run_stack("dev", with_tenants({"id": "acme", "ram": "1Gi", "deprovisioned": True}))
    outputs = tenant_outputs(run, "acme")
    assert outputs["state"] == "deprovisioned"
    assert outputs["url"] is None and outputs["host"] is None
    assert outputs["claimName"] == "fluxiondb-acme-data"


# --- API key -----------------------------------------------------------------------------------------------------


def test_the_api_key_is_generated_long_and_url_safe(dev_stack):
    key = dev_stack.named(f"{PREMIUM}-api-key")
    assert key.type == PASSWORD
    assert key.inputs["length"] >= 32 and key.inputs["special"] is False


def test_the_api_key_lives_in_a_secret_whose_data_is_a_pulumi_secret(dev_stack):
    secret = dev_stack.named(f"{PREMIUM}-credentials")
    assert secret.inputs["metadata"]["name"] == f"{PREMIUM}-api-key"
    assert set(secret.inputs["stringData"]) == {"secret-key"}
    assert secret.is_secret_input("stringData")


def test_a_tenant_supplied_api_key_replaces_the_generated_one():
    run = run_stack("dev", with_tenants({"id": "acme", "ram": "1Gi", "apiKey": "tenant-chosen"}))
    assert "fluxiondb-acme-api-key" not in {r.name for r in run.of_type(PASSWORD)}
    assert run.named("fluxiondb-acme-credentials").inputs["stringData"] == {"secret-key": "tenant-chosen"}
    assert run.is_secret("fluxion.tenants.acme.apiKey")


def test_a_tenant_that_never_rotated_keeps_a_generated_key_without_keepers(dev_stack):
    assert dev_stack.named(f"{PREMIUM}-api-key").inputs.get("keepers") is None


def test_raising_the_api_key_generation_replaces_the_key_and_rolls_the_pod():
    runs = [
        run_stack("dev", with_tenants({"id": "acme", "ram": "1Gi", "apiKeyGeneration": generation}))
        for generation in (0, 1, 2)
    ]
    keepers = [run.named("fluxiondb-acme-api-key").inputs.get("keepers") for run in runs]
    assert keepers == [None, {"generation": "1"}, {"generation": "2"}]
    checksums = [
        run.charts()["fluxiondb-acme-chart"].inputs["values"]["secretChecksums"]["fluxiondb-acme-api-key"]
        for run in runs
    ]
    assert len(set(checksums)) == 3


def test_an_api_key_generation_below_zero_is_refused_naming_the_key():
    with pytest.raises(ConfigError, match=r"tenants\.0\.apiKeyGeneration = -1"):
        run_stack("dev", with_tenants({"id": "acme", "ram": "1Gi", "apiKeyGeneration": -1}))


# --- Outputs -----------------------------------------------------------------------------------------------------


def test_the_tenant_url_is_its_in_cluster_websocket_endpoint(dev_stack):
    outputs = tenant_outputs(dev_stack, "example-premium")
    assert outputs["url"] == f"ws://{PREMIUM}.{PREMIUM}.svc.cluster.local:8080"
    assert outputs["namespace"] == PREMIUM
    assert (outputs["ram"], outputs["storage"], outputs["cpuRequest"], outputs["cpuLimit"]) == (
        "2Gi",
        "4Gi",
        "1000m",
        "2000m",
    )


def test_prod_tenants_also_get_an_external_tls_url(prod_stack):
    outputs = tenant_outputs(prod_stack, "example-basic")
    assert outputs["externalUrl"] == "wss://example-basic.fluxion.nexus.example.com"


def test_only_the_api_key_output_is_secret(any_stack):
    assert any_stack.is_secret("fluxion.tenants.example-basic.apiKey")
    for plain in ("url", "namespace", "ram", "storage", "apiKeySecretName"):
        assert not any_stack.is_secret(f"fluxion.tenants.example-basic.{plain}"), plain


def test_the_program_stops_before_registering_anything_on_a_bad_tenant():
    with pytest.raises(ConfigError, match=r"fluxion\.tenants\.0\.ram = '128Mi'"):
        run_stack("dev", with_tenants({"id": "acme", "ram": "128Mi"}))


# --- Pure values ---------------------------------------------------------------------------------------------------


def test_client_namespace_labels_become_the_network_policys_namespace_selector():
    defaults = FluxionDefaults(networkPolicy=True, clientNamespaceLabels={"fluxion-client": "true"})
    values = chart_values(TenantConfig(id="acme", ram="1Gi"), defaults)
    assert values["networkPolicy"] == {
        "enabled": True,
        "clientNamespaceSelector": {"matchLabels": {"fluxion-client": "true"}},
    }


def test_the_ingress_serves_the_tenant_subdomain_with_its_own_tls_secret(prod_stack):
    ingress = prod_stack.charts()["fluxiondb-example-basic-chart"].inputs["values"]["ingress"]
    host = "example-basic.fluxion.nexus.example.com"
    assert ingress["hosts"] == [{"host": host, "paths": [{"path": "/", "pathType": "Prefix"}]}]
    assert ingress["tls"] == [{"hosts": [host], "secretName": "fluxiondb-example-basic-tls"}]
