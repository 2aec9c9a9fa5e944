"""A FluxionDB tenant is backed up when its platform stack ships backups to a bucket: a CronJob in the tenant's
namespace archives the tenant's claim, mounted read-only, and uploads it with the data tier's scripts under
`<prefix>/fluxion/<id>/`; its credentials reach the pods only by secretKeyRef from a Secret of the tenant's namespace
whose data is a Pulumi secret, its pods may reach the bucket through the namespace's default-deny, and the quota has
room for them. A stack without a bucket (dev) or a deprovisioned tenant has no backup CronJob."""

from __future__ import annotations

import argparse
import datetime
import functools
import io
import json

import pytest

from backups import cli, tenants
from backups.store import Backup
from components.fluxion_tenant import BACKUP_SCRIPTS, backup_scripts, quota_hard
from platform_config.backups import BUCKET_SECRET, OFFSITE_SECRET
from platform_config.data_tier import BackupConfig
from platform_config.fluxion import TenantConfig
from tooling.stacks import StackRun, run_stack, stack_config, with_example_tenants

pytestmark = pytest.mark.unit

CRONJOB = "kubernetes:batch/v1:CronJob"
SECRET = "kubernetes:core/v1:Secret"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
PREMIUM = "fluxiondb-example-premium"
KEYS = {"accessKeyId": "AKIDTENANTEXAMPLE", "secretAccessKey": "tenant-example-secret-key"}
OFFSITE_KEYS = {"accessKeyId": "AKIDOFFSITEEXAMPLE", "secretAccessKey": "offsite-example-secret-key"}


@functools.cache
def prod_with_keys() -> StackRun:
    keys = {"dataTier": {"backup": {"bucket": KEYS, "offsite": OFFSITE_KEYS}}}
    return run_stack("prod", with_example_tenants("prod", keys))


@functools.cache
def dev_run() -> StackRun:
    return run_stack("dev", with_example_tenants("dev"))


def tenant_cronjob(run: StackRun, tenant: str = PREMIUM) -> dict:
    return run.named(f"{tenant}-backup").inputs


def pod(run: StackRun) -> dict:
    return tenant_cronjob(run)["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def containers(run: StackRun) -> dict[str, dict]:
    spec = pod(run)
    return {c["name"]: c for c in [*spec["initContainers"], *spec["containers"]]}


def test_a_tenant_of_a_stack_with_a_bucket_gets_a_backup_cronjob_on_the_stacks_schedule():
    cronjob = tenant_cronjob(prod_with_keys())
    assert cronjob["metadata"]["namespace"] == PREMIUM
    assert cronjob["spec"]["schedule"] == stack_config("prod")["dataTier"]["backup"]["schedule"]
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"


def test_the_backup_pod_is_labelled_and_named_as_the_backup_cli_expects():
    spec = tenant_cronjob(prod_with_keys())["spec"]["jobTemplate"]["spec"]["template"]
    assert spec["metadata"]["labels"]["nexus.io/backup-of"] == PREMIUM
    assert [c["name"] for c in spec["spec"]["initContainers"]] == ["backup"]
    assert [c["name"] for c in spec["spec"]["containers"]] == ["upload"]


def test_the_backup_pod_mounts_the_tenants_claim_read_only():
    volumes = {v["name"]: v for v in pod(prod_with_keys())["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"] == {"claimName": f"{PREMIUM}-data", "readOnly": True}
    mounts = {m["name"]: m for m in containers(prod_with_keys())["backup"]["volumeMounts"]}
    assert mounts["data"]["readOnly"] is True
    assert "data" not in {m["name"] for m in containers(prod_with_keys())["upload"]["volumeMounts"]}


def test_the_backup_pod_reads_the_bucket_keys_only_by_secret_key_ref():
    for container in containers(prod_with_keys()).values():
        for env in container["env"]:
            if "KEY" in env["name"]:
                assert set(env) == {"name", "valueFrom"}, env["name"]
                assert env["valueFrom"]["secretKeyRef"]["name"] in (BUCKET_SECRET, OFFSITE_SECRET)
    rendered = json.dumps(tenant_cronjob(prod_with_keys()))
    assert KEYS["secretAccessKey"] not in rendered and OFFSITE_KEYS["secretAccessKey"] not in rendered


def test_the_backups_go_under_the_prefix_to_fluxion_and_the_tenant_id():
    env = {e["name"]: e.get("value") for e in containers(prod_with_keys())["upload"]["env"]}
    assert env["TARGET"] == "fluxion/example-premium"
    assert env["BUCKET_PATH"] == "nexus-prod-backups/nexus/prod"
    assert env["RCLONE_CONFIG_BUCKET_SERVER_SIDE_ENCRYPTION"] == "AES256"
    assert env["RETENTION_DAYS"] == "30"


def test_every_backup_also_goes_to_the_offsite_bucket_as_the_data_tiers_do():
    env = {e["name"]: e.get("value") for e in containers(prod_with_keys())["upload"]["env"]}
    assert env["REMOTES"] == "BUCKET OFFSITE"
    assert env["OFFSITE_PATH"] == "nexus-prod-backups-offsite/nexus/prod"
    assert env["RCLONE_CONFIG_OFFSITE_REGION"] == "eu-west-1"


@pytest.mark.parametrize("name, keys", [(BUCKET_SECRET, KEYS), (OFFSITE_SECRET, OFFSITE_KEYS)])
def test_the_tenant_namespace_gets_a_copy_of_each_buckets_credentials_whose_data_is_secret(name, keys):
    secret = next(
        r
        for r in prod_with_keys().of_type(SECRET)
        if r.inputs["metadata"]["name"] == name and r.inputs["metadata"]["namespace"] == PREMIUM
    )
    assert secret.inputs["stringData"]["secret-access-key"] == keys["secretAccessKey"]
    assert secret.is_secret_input("stringData.secret-access-key")
    assert secret.is_secret_input("stringData.access-key-id")


def test_the_scripts_configmap_holds_the_data_tiers_own_backup_scripts():
    scripts = prod_with_keys().named(f"{PREMIUM}-backup-scripts").inputs["data"]
    assert set(scripts) == set(BACKUP_SCRIPTS)
    assert scripts == backup_scripts()


def test_a_strict_stack_lets_the_backup_pods_reach_dns_and_the_buckets_port_only():
    policy = prod_with_keys().named(f"{PREMIUM}-backup-egress").inputs["spec"]
    assert policy["podSelector"] == {"matchLabels": {"nexus.io/backup-of": PREMIUM}}
    assert policy["policyTypes"] == ["Egress"]
    assert [p["port"] for p in policy["egress"][1]["ports"]] == [443]


def test_the_quota_has_room_for_the_tenant_pod_and_one_backup_pod():
    hard = prod_with_keys().named(f"{PREMIUM}-quota").inputs["spec"]["hard"]
    assert hard == quota_hard(TenantConfig(id="example-premium", ram="8Gi"), backed_up=True)
    assert hard["requests.memory"] == "8256Mi" and hard["limits.cpu"] == "4500m"


def test_a_stack_without_a_bucket_has_no_tenant_backup_cronjob():
    assert not [r for r in dev_run().of_type(CRONJOB) if r.name.startswith("fluxiondb-")]


def test_a_deprovisioned_tenant_has_no_backup_cronjob():
    tenants = [{"id": "example-basic", "ram": "1Gi", "deprovisioned": True}]
    run = run_stack("prod", {"dataTier": {"backup": {"bucket": KEYS}}, "fluxion": {"tenants": tenants}})
    assert not [r for r in run.of_type(CRONJOB) if r.name.startswith("fluxiondb-")]


# --- list and restore (backups/tenants.py) ----------------------------------------------------------------------


class RecordingKube:
    """A tenant namespace's Kubernetes API: the CronJob as the stack renders it, a Deployment of one pod; records
    what the restore does, in order."""

    def __init__(self, namespace: str, job_succeeds: bool = True) -> None:
        self.namespace, self.calls, self.job_succeeds = namespace, [], job_succeeds
        self.cronjob = {
            "metadata": {"name": f"{PREMIUM}-backup", "namespace": PREMIUM, "uid": "5b1c-cronjob-uid"},
            "spec": tenant_cronjob(prod_with_keys())["spec"],
        }

    def get(self, kind, name):
        if kind == "deployment":
            return {"spec": {"replicas": 1, "selector": {"matchLabels": {"app.kubernetes.io/instance": PREMIUM}}}}
        return self.cronjob

    def secret_value(self, name, key):
        return f"{name}/{key}"

    def scale(self, kind, name, replicas):
        self.calls.append(("scale", kind, replicas))

    def wait_no_pods(self, selector, timeout):
        self.calls.append(("stopped", selector))

    def create(self, obj):
        self.calls.append(("create", obj))

    def wait_job(self, name, timeout):
        return self.job_succeeds

    def logs(self, job, container):
        return "" if self.job_succeeds else "restore: the volume holds data: nothing restored, the data left unchanged"


BACKED_UP = BackupConfig(
    enabled=True,
    bucket={"endpoint": "https://s3.example.com", "bucket": "tenant-backups"},
    offsite={"endpoint": "https://s3.offsite.example.com", "bucket": "tenant-backups-offsite"},
)
BACKUP = Backup("fluxion/example-premium", "20261201T020000Z.tar.gz", 10, "ab" * 32, datetime.datetime(2026, 12, 1))


def _restore(monkeypatch, kube, *, force=False, source="bucket"):
    monkeypatch.setattr(tenants, "list_tenant_backups", lambda bucket, tenant_id: [BACKUP])
    args = argparse.Namespace(
        command="restore",
        stack="prod",
        component="fluxion/example-premium",
        backup_date="2026-12-01",
        force=force,
        yes=True,
        timeout=5,
        source=source,
    )
    return tenants.cli_command(args, BACKED_UP, lambda ns: kube, out=io.StringIO(), confirm=lambda _: False)


def test_a_tenant_restore_stops_the_tenant_runs_the_restore_job_and_starts_it_again(monkeypatch):
    kube = RecordingKube(PREMIUM)
    assert _restore(monkeypatch, kube) == 0
    steps = [c[0] for c in kube.calls]
    assert steps == ["scale", "stopped", "create", "scale"]
    assert kube.calls[0][2] == 0 and kube.calls[-1][2] == 1


def test_the_tenant_restore_job_fetches_then_unpacks_onto_the_writable_claim(monkeypatch):
    kube = RecordingKube(PREMIUM)
    _restore(monkeypatch, kube, force=True)
    job = next(c[1] for c in kube.calls if c[0] == "create")
    pod = job["spec"]["template"]["spec"]
    assert [c["command"] for c in pod["initContainers"]] == [["sh", "/scripts/restore-fetch.sh"]]
    [restore] = pod["containers"]
    assert restore["command"] == ["sh", "/scripts/restore-volume.sh"]
    assert {e["name"]: e.get("value") for e in restore["env"]}["FORCE"] == "yes"
    data = next(v for v in pod["volumes"] if v["name"] == "data")
    assert data["persistentVolumeClaim"] == {"claimName": f"{PREMIUM}-data"}


def test_a_refused_tenant_restore_starts_the_tenant_again_and_fails(monkeypatch):
    kube = RecordingKube(PREMIUM, job_succeeds=False)
    assert _restore(monkeypatch, kube) == 1
    assert kube.calls[-1][:3] == ("scale", "deployment", 1)


def test_a_data_tier_component_is_left_to_the_data_tiers_commands():
    args = argparse.Namespace(command="list", stack="prod", components=["product-postgres"])
    assert tenants.cli_command(args, BACKED_UP, lambda ns: None, out=io.StringIO(), confirm=lambda _: False) is None


def _backup_now(monkeypatch, kube, stack="prod", listed=(BACKUP,)):
    seen = []
    monkeypatch.setattr(cli, "list_backups", lambda bucket, component: seen.append(component) or list(listed))
    out = io.StringIO()
    code = cli.main(["backup-now", "fluxion/example-premium", "--stack", stack], out=out, kube_factory=lambda ns: kube)
    return code, out.getvalue(), seen


def test_backup_now_of_a_tenant_runs_a_job_from_its_cronjob_in_its_namespace_and_reports_the_object(monkeypatch):
    kube = RecordingKube(PREMIUM)
    code, out, seen = _backup_now(monkeypatch, kube)
    [(_, job)] = kube.calls
    assert code == 0 and job["metadata"]["name"].startswith(f"{PREMIUM}-backup-now-")
    assert job["metadata"]["ownerReferences"][0]["name"] == f"{PREMIUM}-backup"
    assert seen == ["fluxion/example-premium"] and "backup written: 20261201T020000Z.tar.gz" in out


def test_a_failed_tenant_backup_now_says_so_and_fails(monkeypatch):
    code, out, _ = _backup_now(monkeypatch, RecordingKube(PREMIUM, job_succeeds=False))
    assert code == 1 and "backup FAILED" in out


def test_backup_now_of_a_tenant_of_a_stack_without_a_bucket_is_refused_before_any_job(monkeypatch, capsys):
    kube = RecordingKube(PREMIUM)
    code, _, _ = _backup_now(monkeypatch, kube, stack="dev")
    assert code == 1 and kube.calls == []
    assert "stack dev ships no backups to a bucket" in capsys.readouterr().err


def test_a_tenant_restore_from_the_offsite_bucket_fetches_through_its_remote(monkeypatch):
    kube = RecordingKube(PREMIUM)
    assert _restore(monkeypatch, kube, source="offsite") == 0
    job = next(c[1] for c in kube.calls if c[0] == "create")
    [fetch] = job["spec"]["template"]["spec"]["initContainers"]
    assert {e["name"]: e.get("value") for e in fetch["env"]}["SOURCE"] == "OFFSITE"


def test_a_tenant_restore_from_the_backup_volume_is_refused_naming_the_sources(monkeypatch):
    with pytest.raises(ValueError, match="buckets only \\(bucket or offsite\\)"):
        _restore(monkeypatch, RecordingKube(PREMIUM), source="volume")
