"""The Bitnami orders cluster (postgresClusters.orders) is backed up like the data tier's PostgreSQL: a CronJob
`orders-postgres-backup` in the cluster's namespace runs the data tier's own backup-postgres.sh / backup-upload.sh
on `dataTier.backup.schedule` to the stack's buckets under `<prefix>/orders-postgres/`, the admin password only by
secretKeyRef from the cluster's Secret, verify-full against the CA when TLS is on; no bucket (dev) or backups off:
no CronJob."""

from __future__ import annotations

import functools
import json

import pytest

from components.backups import CLUSTER_BACKUP_SCRIPTS, cluster_backup_scripts
from components.postgres_cluster import ADMIN_PASSWORD_KEY
from platform_config.backups import BUCKET_SECRET, OFFSITE_SECRET
from tooling.stacks import StackRun, run_stack, stack_config

pytestmark = pytest.mark.unit

CRONJOB = "kubernetes:batch/v1:CronJob"
KEYS = {"accessKeyId": "AKIDORDERSEXAMPLE", "secretAccessKey": "orders-example-secret-key"}


@functools.cache
def prod() -> StackRun:
    both = {"bucket": KEYS, "offsite": KEYS}
    return run_stack("prod", {"dataTier": {"backup": both}})


@functools.cache
def staging() -> StackRun:
    return run_stack("staging", {"dataTier": {"backup": {"bucket": KEYS}}})


def cronjob(run: StackRun) -> dict:
    return run.named("orders-backup").inputs


def containers(run: StackRun) -> dict[str, dict]:
    pod = cronjob(run)["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return {c["name"]: c for c in [*pod["initContainers"], *pod["containers"]]}


def env(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container["env"]}


@pytest.mark.parametrize("stack", ["prod", "staging"])
def test_the_orders_cluster_gets_a_backup_cronjob_in_its_namespace_on_the_stacks_schedule(stack):
    run = prod() if stack == "prod" else staging()
    job = cronjob(run)
    assert job["metadata"]["name"] == "orders-postgres-backup"
    assert job["metadata"]["namespace"] == "postgres"
    assert job["spec"]["schedule"] == stack_config(stack)["dataTier"]["backup"]["schedule"]


def test_the_backup_pod_runs_the_data_tiers_scripts_as_backup_then_upload_with_the_backup_of_label():
    pod = cronjob(prod())["spec"]["jobTemplate"]["spec"]["template"]
    assert pod["metadata"]["labels"]["nexus.io/backup-of"] == "orders-postgres"
    assert [c["command"][-1] for c in pod["spec"]["initContainers"]] == ["/scripts/backup-postgres.sh"]
    assert [(c["name"], c["command"][-1]) for c in pod["spec"]["containers"]] == [
        ("upload", "/scripts/backup-upload.sh")
    ]


def test_the_scripts_configmap_holds_the_chart_files_unchanged():
    config_map = prod().named("orders-backup-scripts").inputs
    assert config_map["metadata"]["namespace"] == "postgres"
    assert config_map["data"] == cluster_backup_scripts()
    assert set(config_map["data"]) == set(CLUSTER_BACKUP_SCRIPTS)


def test_the_dump_reads_the_admin_password_only_by_secret_key_ref_from_the_clusters_secret():
    password = env(containers(prod())["backup"])["POSTGRES_PASSWORD"]
    assert password["valueFrom"]["secretKeyRef"] == {"name": "orders-postgresql-credentials", "key": ADMIN_PASSWORD_KEY}
    assert "value" not in password


def test_no_password_or_bucket_key_appears_in_the_cronjob():
    text = json.dumps(cronjob(prod()))
    assert KEYS["secretAccessKey"] not in text
    assert KEYS["accessKeyId"] not in text


def test_the_dump_connects_to_the_primary_service_and_the_clusters_database():
    values = env(containers(prod())["backup"])
    assert values["HOST"]["value"] == "orders-postgresql-primary.postgres.svc.cluster.local"
    assert values["DATABASE"]["value"] == stack_config("prod")["postgresClusters"]["orders"]["database"]
    assert values["TARGET"]["value"] == "orders-postgres"


def test_with_tls_the_dump_verifies_the_server_against_the_ca_only():
    pod = cronjob(prod())["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert env(containers(prod())["backup"])["TLS_CA_FILE"]["value"] == "/tls/ca.crt"
    ca = next(v for v in pod["volumes"] if v["name"] == "tls-ca")
    assert [item["key"] for item in ca["secret"]["items"]] == ["ca.crt"]


def test_prod_uploads_to_the_bucket_and_the_offsite_copy_with_keys_from_the_namespaces_secrets():
    values = env(containers(prod())["upload"])
    assert values["REMOTES"]["value"] == "BUCKET OFFSITE"
    refs = {v["valueFrom"]["secretKeyRef"]["name"] for v in values.values() if "valueFrom" in v}
    assert refs == {BUCKET_SECRET, OFFSITE_SECRET}


def test_the_postgres_namespace_gets_its_copy_of_the_bucket_credentials_as_a_secret():
    secret = prod().named(f"orders-{BUCKET_SECRET}")
    assert secret.inputs["metadata"]["namespace"] == "postgres"
    assert secret.is_secret_input("stringData.secret-access-key")


def test_dev_ships_to_no_bucket_so_the_orders_cluster_gets_no_backup_cronjob():
    run = run_stack("dev", {"dataTier": {"backup": {"enabled": True}}})
    assert "orders-backup" not in run.names()


def test_backups_off_means_no_orders_backup_cronjob():
    run = run_stack("staging", {"dataTier": {"backup": {"enabled": False}}})
    assert "orders-backup" not in run.names()
