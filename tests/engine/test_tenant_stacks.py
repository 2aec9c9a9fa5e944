"""A tenant stack on the real engine, rendering to a directory next to its platform stack's: its outputs keep the
contract `fluxion.tenants.<id>` had, its second preview is empty, and raising `apiKeyGeneration` rotates a
generated API key: a new key in the Secret and a new checksum on the pod, so it rolls."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from platform_config.fluxion import TENANT_PROJECT, TenantConfig
from tenants.engine import AutomationEngine, EngineError
from tooling.engine import SECRET_SIGNATURE, ProgramCopy, ScratchStack
from tooling.outputs_contract import load_schema

pytestmark = pytest.mark.engine

PLATFORM = "tenant-render"
TENANT = TenantConfig(id="acme", ram="1Gi")
BACKED_UP = "tenant-backed-up"
BUCKET = {"endpoint": "https://s3.eu-central-1.example.com", "bucket": "nexus-tenant-backups"}
BUCKET_KEYS = {"accessKeyId": "AKIAENGINETENANT", "secretAccessKey": "engine-tenant-backup-secret-key"}
OFFSITE = {"endpoint": "https://s3.eu-west-1.example.com", "bucket": "nexus-tenant-backups-offsite"}
OFFSITE_KEYS = {"accessKeyId": "AKIAENGINEOFFSITE", "secretAccessKey": "engine-tenant-offsite-secret-key"}


@dataclass
class Tenant:
    platform: ScratchStack
    engine: AutomationEngine
    outputs: dict[str, Any]

    def manifest(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        for path in sorted(self.platform.rendered.rglob("*.yaml")):
            for document in yaml.safe_load_all(path.read_text()):
                meta = (document or {}).get("metadata") or {}
                if (
                    document
                    and (document["kind"], meta["name"]) == (kind, name)
                    and namespace in (None, meta.get("namespace"))
                ):
                    return document
        raise AssertionError(f"no {kind} {name} rendered" + (f" in {namespace}" if namespace else ""))


@pytest.fixture(scope="module")
def tenant(engine_program: ProgramCopy, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tenant]:
    platform = engine_program.stack(PLATFORM, "dev", overrides={"fluxion": {"tenants": []}})
    platform.up().check("pulumi up of the platform stack (render mode)")
    saved = dict(os.environ)
    os.environ.update(engine_program.env)  # the Automation API runs the CLI in this environment
    try:
        engine = AutomationEngine(
            PLATFORM, f"organization/nexus-platform/{PLATFORM}", Path(tmp_path_factory.mktemp("ws")), env={}
        )
        yield Tenant(platform, engine, engine.apply(TENANT, None, lambda _: None))
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="module")
def backed_up(engine_program: ProgramCopy, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tenant]:
    """A tenant stack next to a platform stack that ships backups to a bucket and an off-site one, their keys set
    as Pulumi secrets."""
    backup = {"enabled": True, "bucket": BUCKET, "offsite": OFFSITE}
    platform = engine_program.stack(
        BACKED_UP,
        "dev",
        overrides={"fluxion": {"tenants": []}, "dataTier": {"backup": backup}},
        secrets={
            **{f"dataTier.backup.bucket.{key}": value for key, value in BUCKET_KEYS.items()},
            **{f"dataTier.backup.offsite.{key}": value for key, value in OFFSITE_KEYS.items()},
        },
    )
    platform.up().check("pulumi up of a platform stack with a backup bucket (render mode)")
    saved = dict(os.environ)
    os.environ.update(engine_program.env)
    try:
        engine = AutomationEngine(
            BACKED_UP, f"organization/nexus-platform/{BACKED_UP}", Path(tmp_path_factory.mktemp("ws")), env={}
        )
        yield Tenant(platform, engine, engine.apply(TENANT, None, lambda _: None))
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_a_tenant_stack_backs_up_its_volume_on_the_platforms_schedule_to_its_bucket(backed_up: Tenant) -> None:
    cronjob = backed_up.manifest("CronJob", "fluxiondb-acme-backup")
    assert cronjob["metadata"]["namespace"] == "fluxiondb-acme"
    assert cronjob["spec"]["schedule"] == backed_up.platform.outputs()["fluxionTenantDefaults"]["backup"]["schedule"]
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    claims = [v["persistentVolumeClaim"] for v in pod["volumes"] if "persistentVolumeClaim" in v]
    assert claims == [{"claimName": "fluxiondb-acme-data", "readOnly": True}]
    # The keys reach the backup pods only through the namespace's own copies of the buckets' credentials Secrets.
    backed_up.manifest("Secret", "backup-bucket-credentials", namespace="fluxiondb-acme")
    offsite = backed_up.manifest("Secret", "backup-offsite-credentials", namespace="fluxiondb-acme")
    assert base64.b64decode(offsite["data"]["secret-access-key"]).decode() == OFFSITE_KEYS["secretAccessKey"]
    upload = next(c for c in pod["containers"] if c["name"] == "upload")
    assert {"name": "REMOTES", "value": "BUCKET OFFSITE"} in upload["env"]


def test_the_bucket_keys_stay_secret_in_the_tenant_stacks_state(backed_up: Tenant, engine_program: ProgramCopy) -> None:
    states = engine_program.root / "state" / ".pulumi" / "stacks" / TENANT_PROJECT
    state = (states / f"{BACKED_UP}-acme.json").read_text()
    for keys in (BUCKET_KEYS, OFFSITE_KEYS):
        assert keys["secretAccessKey"] not in state and keys["accessKeyId"] not in state
    assert SECRET_SIGNATURE in state


def test_the_tenant_stacks_outputs_keep_the_contract_of_a_platform_tenant(tenant: Tenant) -> None:
    schema = load_schema()
    with_key = tenant.engine.outputs("acme", show_secrets=True)
    assert with_key is not None and with_key["apiKey"]
    jsonschema.validate(with_key, {**schema["definitions"]["fluxionTenant"], "definitions": schema["definitions"]})
    assert "apiKey" not in tenant.outputs


def test_a_tenant_stacks_second_preview_changes_nothing(tenant: Tenant) -> None:
    assert tenant.engine.pending_changes("acme") == {}


def test_lowering_a_tenants_ram_below_its_storage_fails_its_update_with_the_guards_message(tenant: Tenant) -> None:
    """The API refuses a shrink; the stack's StorageGuard is the backstop for an edit of the stack's own config."""
    with pytest.raises(EngineError) as failed:
        tenant.engine.apply(TENANT.model_copy(update={"ram": "512Mi"}), None, lambda _: None)
    tenant.engine.create(TENANT, None)  # the stack's config back to what is deployed
    assert "storage for 'fluxiondb-acme-data' would shrink from 2Gi to 1Gi" in str(failed.value)
    assert tenant.engine.pending_changes("acme") == {}


def test_raising_the_api_key_generation_rotates_the_key_and_rolls_the_pod(tenant: Tenant) -> None:
    def key_and_checksum() -> tuple[str, str]:
        secret = tenant.manifest("Secret", "fluxiondb-acme-api-key")
        pod = tenant.manifest("Deployment", "fluxiondb-acme")["spec"]["template"]["metadata"]["annotations"]
        # The provider renders a Secret's stringData into base64 `data`, as the API server would store it.
        key = base64.b64decode(secret["data"]["secret-key"]).decode()
        return key, pod["checksum/secret-fluxiondb-acme-api-key"]

    before = key_and_checksum()
    tenant.engine.apply(TENANT.model_copy(update={"apiKeyGeneration": 1}), None, lambda _: None)
    after = key_and_checksum()
    assert after[0] != before[0] and after[1] != before[1]
    assert tenant.engine.outputs("acme", show_secrets=True)["apiKey"] == after[0]
