"""A FluxionDB tenant's backup, run for real: the backup CronJob FluxionTenant builds (its `backup` container,
files/backup-volume.sh, then its `upload` container, files/backup-upload.sh with rclone) against a real
S3-compatible server on loopback (S3Proxy, as test_backups_bucket.py), listed by the CLI's own code
(backups/store.py through backups/tenants.py), and restored by the restore Job backups/tenants.py makes from that
CronJob (`fetch`, files/restore-fetch.sh; `restore`, files/restore-volume.sh) onto an empty claim: the files come
back byte for byte. The image's busybox is Debian's dash and GNU tar here; the archive is gzip either way."""

from __future__ import annotations

import filecmp
import os

import pytest

from backups.tenants import list_tenant_backups, restore_job
from components.fluxion_tenant import TenantBackup, backup_cronjob_spec, backup_scripts, claim_name
from platform_config.backups import BUCKET_SECRET, BucketConfig
from platform_config.fluxion import TenantConfig
from tests.dataplane.conftest import ACCESS_KEY, PREFIX, SECRET_KEY, bucket

TENANT = TenantConfig(id="acme", ram="512Mi")
NAMESPACE = TENANT.name


def objects(endpoint: str, bucket_name: str) -> list[dict]:
    config = BucketConfig(endpoint=endpoint, bucket=bucket_name, prefix=PREFIX, region="us-east-1")
    spec = backup_cronjob_spec(TENANT, TenantBackup(schedule="0 2 * * *", retention_days=30, bucket=config))
    meta = {"namespace": NAMESPACE}
    return [
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {**meta, "name": f"{NAMESPACE}-backup"},
            "spec": spec,
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {**meta, "name": f"{NAMESPACE}-backup-scripts"},
            "data": backup_scripts(),
        },
    ]


@pytest.fixture
def tenant(make_cluster, store, buckets):
    cluster = make_cluster(objects(store.endpoint, buckets["bucket"]), NAMESPACE)
    cluster.secrets.set(BUCKET_SECRET, "access-key-id", ACCESS_KEY)
    cluster.secrets.set(BUCKET_SECRET, "secret-access-key", SECRET_KEY)
    return cluster


def _fill(directory):
    (directory / "series").mkdir(parents=True, exist_ok=True)
    (directory / "series" / "cpu.db").write_bytes(os.urandom(300_000))
    (directory / "index.json").write_text('{"series": ["cpu"]}\n')
    (directory / "wal.log").write_bytes(b"")


def _backup(cluster):
    pod = cluster.pod("CronJob", f"{NAMESPACE}-backup")
    archive = pod.container("backup").run(timeout=60)
    assert archive.returncode == 0, f"backup-volume.sh failed:\n{archive.stdout}\n{archive.stderr}"
    upload = pod.container("upload").run(timeout=60)
    assert upload.returncode == 0, f"backup-upload.sh failed:\n{upload.stdout}\n{upload.stderr}"
    return archive


def test_the_cronjobs_containers_archive_the_tenants_volume_and_upload_it_with_its_manifest(tenant, store, buckets):
    _fill(tenant.claim_dir(claim_name(TENANT)))
    archive = _backup(tenant)
    assert "gzip" in archive.stdout
    [backup] = list_tenant_backups(bucket(store, buckets["bucket"]), TENANT.id)
    assert backup.object.endswith(".tar.gz") and backup.size > 300_000
    assert backup.component == "fluxion/acme"


def test_the_restore_job_unpacks_the_backup_into_an_empty_claim_byte_for_byte(tenant, store, buckets):
    source = tenant.claim_dir(claim_name(TENANT))
    _fill(source)
    _backup(tenant)
    [backup] = list_tenant_backups(bucket(store, buckets["bucket"]), TENANT.id)
    saved = tenant.root / "saved"
    os.rename(source, saved)  # the tenant's volume lost: its claim is empty again
    tenant.claim_dir(claim_name(TENANT))
    result = _restore(tenant, backup.object, force=False)
    assert result.returncode == 0, f"restore failed:\n{result.stdout}\n{result.stderr}"
    comparison = filecmp.dircmp(saved, source)
    assert not (comparison.left_only or comparison.right_only or comparison.diff_files)
    assert filecmp.cmp(saved / "series" / "cpu.db", source / "series" / "cpu.db", shallow=False)


def test_the_restore_refuses_a_volume_holding_data_unless_forced(tenant, store, buckets):
    source = tenant.claim_dir(claim_name(TENANT))
    _fill(source)
    _backup(tenant)
    [backup] = list_tenant_backups(bucket(store, buckets["bucket"]), TENANT.id)
    (source / "index.json").write_text("written after the backup\n")
    refused = _restore(tenant, backup.object, force=False)
    assert refused.returncode == 3 and "left unchanged" in refused.stderr, refused.stderr
    assert (source / "index.json").read_text() == "written after the backup\n"
    forced = _restore(tenant, backup.object, force=True)
    assert forced.returncode == 0, forced.stderr
    assert (source / "index.json").read_text() == '{"series": ["cpu"]}\n'


def _restore(cluster, backup_object: str, *, force: bool):
    cronjob = cluster.find("CronJob", f"{NAMESPACE}-backup")
    job = restore_job(dict(cronjob), "x", tenant_id=TENANT.id, backup_object=backup_object, force=force)
    job["metadata"]["name"] = f"{NAMESPACE}-restore-{len(cluster.objects)}"
    cluster.objects.append(job)
    pod = cluster.pod("Job", job["metadata"]["name"])
    fetch = pod.container("fetch").run(timeout=60)
    if fetch.returncode != 0:
        return fetch
    return pod.container("restore").run(timeout=60)
