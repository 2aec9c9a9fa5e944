"""A tenant stack's inputs: what the platform exports for it (one home: the platform's own `fluxion.defaults` and
`kubernetes` config), its own config model, and which resources the migration moves."""

from __future__ import annotations

import os

import pytest

from platform_config import ConfigError
from platform_config.fluxion import (
    FluxionConfig,
    TenantShared,
    TenantStackConfig,
    load_tenant_stack_config,
    tenant_stack_name,
)
from tenants.engine import dead_local_lock_holder, repair_torn_attributes
from tenants.migrate import tenant_urns
from tests.unit.test_nexus_database import data_tier
from tooling.stacks import STACKS, run_stack, stack_config

pytestmark = pytest.mark.unit

REF = "organization/nexus-platform/dev"


@pytest.mark.parametrize("stack", STACKS)
def test_the_platform_exports_its_own_fluxion_defaults_for_tenant_stacks(stack):
    shared = TenantShared.model_validate(run_stack(stack).outputs["fluxionTenantDefaults"])
    assert shared.defaults == FluxionConfig.model_validate(stack_config(stack)["fluxion"]).defaults
    assert shared.platformStack == stack  # tenant stacks are `<platformStack>-<tenant>`
    assert shared.environment == stack


def test_the_platform_exports_the_cluster_its_provider_uses():
    cluster = run_stack("dev", {"kubernetes": {"context": "kind-dev"}}).outputs["fluxionTenantCluster"]
    assert cluster == {"kubeconfig": None, "context": "kind-dev", "renderYamlToDirectory": None}


def test_a_tenant_stack_is_named_after_its_platform_stack_and_tenant():
    assert tenant_stack_name("prod", "acme") == "prod-acme"


def test_a_tenant_stack_config_is_the_platforms_tenant_model_plus_the_platform_stack():
    settings = TenantStackConfig.model_validate({"platformStack": REF, "tenant": {"id": "acme", "ram": "2Gi"}})
    assert (settings.tenant.name, settings.tenant.effective_storage) == ("fluxiondb-acme", "4Gi")


def test_an_api_key_in_the_plain_tenant_config_is_refused():
    with pytest.raises(ValueError, match="set it as the secret fluxion-tenant:apiKey"):
        TenantStackConfig.model_validate(
            {"platformStack": REF, "tenant": {"id": "acme", "ram": "2Gi", "apiKey": "plain"}}
        )


def test_a_platform_stack_that_is_not_fully_qualified_is_refused_naming_the_tenant_projects_key():
    with pytest.raises(ConfigError, match=r"fluxion-tenant:platformStack = 'dev'"):
        load_tenant_stack_config({"platformStack": "dev", "tenant": {"id": "acme", "ram": "2Gi"}})


def test_an_invalid_tenant_in_a_tenant_stack_is_refused_as_the_platform_would():
    with pytest.raises(ConfigError, match=r"fluxion-tenant:tenant\.ram = '100Mi': .* below the minimum of 256Mi"):
        load_tenant_stack_config({"platformStack": REF, "tenant": {"id": "acme", "ram": "100Mi"}})


def resource(urn_name: str, type_: str, parent: str | None = None) -> dict:
    urn = f"urn:pulumi:dev::nexus-platform::{type_}::{urn_name}"
    return {"urn": urn, "type": type_, **({"parent": parent} if parent else {})}


def test_the_migration_moves_a_tenants_component_and_everything_under_it_and_nothing_else():
    stack = resource("nexus-platform-dev", "pulumi:pulumi:Stack")
    provider = resource("dev-kubernetes", "pulumi:providers:kubernetes")
    basic = resource("fluxiondb-example-basic", "nexus:fluxion:FluxionTenant", stack["urn"])
    namespace = resource("fluxiondb-example-basic-namespace", "kubernetes:core/v1:Namespace", basic["urn"])
    chart = resource("fluxiondb-example-basic-chart", "kubernetes:helm.sh/v4:Chart", basic["urn"])
    deployment = resource("fluxiondb-example-basic-chart:deploy", "kubernetes:apps/v1:Deployment", chart["urn"])
    premium = resource("fluxiondb-example-premium", "nexus:fluxion:FluxionTenant", stack["urn"])
    other = resource("fluxiondb-example-premium-namespace", "kubernetes:core/v1:Namespace", premium["urn"])
    resources = [stack, provider, basic, namespace, chart, deployment, premium, other]
    assert tenant_urns(resources, "fluxiondb-example-basic") == [
        basic["urn"],
        namespace["urn"],
        chart["urn"],
        deployment["urn"],
    ]
    assert tenant_urns(resources, "fluxiondb-nobody") == []


LOCKED = (
    "the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock "
    "file with `pulumi cancel`.\n  file:///state/.pulumi/locks/x.json: created by ops@{host} (pid {pid}) at 2026"
)


def test_a_lock_whose_pulumi_process_on_this_host_is_gone_is_recognised_as_left_behind():
    assert dead_local_lock_holder(LOCKED.format(host="worker-1", pid=2**22 + 12345), hostname="worker-1")


def test_a_lock_held_by_a_running_process_or_another_host_is_waited_for():
    assert not dead_local_lock_holder(LOCKED.format(host="worker-1", pid=os.getpid()), hostname="worker-1")
    assert not dead_local_lock_holder(LOCKED.format(host="worker-2", pid=2**22 + 12345), hostname="worker-1")
    assert not dead_local_lock_holder("error: some other failure", hostname="worker-1")


BUCKET_KEYS = {"accessKeyId": "AKIATENANTBACKUPS", "secretAccessKey": "tenant-backup-secret-key"}


def test_staging_and_prod_tell_tenant_stacks_how_to_back_up_and_dev_says_not_at_all():
    for stack in ("staging", "prod"):
        shared = TenantShared.model_validate(run_stack(stack).outputs["fluxionTenantDefaults"])
        assert shared.backup is not None, stack
        backup = data_tier(stack).backup
        assert (shared.backup.schedule, shared.backup.retentionDays) == (backup.schedule, backup.retentionDays)
        assert backup.bucket is not None and shared.backup.bucket.bucket == backup.bucket.bucket, stack
    assert run_stack("dev").outputs["fluxionTenantDefaults"]["backup"] is None


def test_the_buckets_keys_reach_tenant_stacks_only_as_a_secret_output():
    run = run_stack("prod", {"dataTier": {"backup": {"bucket": BUCKET_KEYS}}})
    assert run.outputs["fluxionTenantBackupCredentials"] == BUCKET_KEYS
    assert "fluxionTenantBackupCredentials" in run.secret_paths
    shared = repr(run.outputs["fluxionTenantDefaults"])
    assert BUCKET_KEYS["secretAccessKey"] not in shared and BUCKET_KEYS["accessKeyId"] not in shared


def test_without_the_buckets_keys_the_platform_exports_no_credentials_for_tenants():
    assert "fluxionTenantBackupCredentials" not in run_stack("prod").outputs


def _state(tmp_path, attributes: str):
    stacks = tmp_path / ".pulumi" / "stacks" / "fluxion-tenant"
    stacks.mkdir(parents=True)
    (stacks / "tenants-dev-acme.json").write_text('{"version": 3}')
    (stacks / "tenants-dev-acme.json.attrs").write_text(attributes)
    return stacks / "tenants-dev-acme.json.attrs"


def test_an_empty_state_attributes_file_a_kill_left_is_removed_so_the_stack_reads_again(tmp_path):
    attributes = _state(tmp_path, "")
    assert repair_torn_attributes(f"file://{tmp_path}", "tenants-dev-acme") is True
    assert not attributes.exists()


def test_a_whole_attributes_file_or_another_backend_is_left_alone(tmp_path):
    attributes = _state(tmp_path, '{"user.content-type": "application/json"}')
    assert repair_torn_attributes(f"file://{tmp_path}", "tenants-dev-acme") is False
    assert repair_torn_attributes("https://api.pulumi.com", "tenants-dev-acme") is False
    assert attributes.exists()
