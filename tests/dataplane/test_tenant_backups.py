"""A FluxionDB tenant's backup, run for real: the backup CronJob FluxionTenant builds (its `backup` container,
files/backup-volume.sh, then its `upload` container, files/backup-upload.sh with rclone) against a real
S3-compatible server on loopback (S3Proxy, as test_backups_bucket.py), listed by the CLI's own code
(backups/store.py through backups/tenants.py), and restored by the restore Job backups/tenants.py makes from that
CronJob (`fetch`, files/restore-fetch.sh; `restore`, files/restore-volume.sh) onto an empty claim: the files come
back byte for byte. The containers' shell and tools are BusyBox's, as in rclone's image (Alpine's BusyBox; Debian's
1.35 here, the version Alpine 3.16 ships): `sh`, `tar`, `gzip`, `find`, `sha256sum` are its applets, first on PATH;
only rclone is the host's."""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess

import pytest

from backups.tenants import list_tenant_backups, restore_job
from components.fluxion_tenant import TenantBackup, backup_cronjob_spec, backup_scripts, claim_name
from platform_config.backups import BUCKET_SECRET, OFFSITE_SECRET, BucketConfig
from platform_config.fluxion import TenantConfig
from tests.dataplane.conftest import ACCESS_KEY, PREFIX, SECRET_KEY, bucket

TENANT = TenantConfig(id="acme", ram="512Mi")
NAMESPACE = TENANT.name


def objects(endpoint: str, buckets: dict[str, str]) -> list[dict]:
    """The CronJob and its scripts as the component makes them for a stack with a bucket and an off-site one."""

    def config(name: str) -> BucketConfig:
        return BucketConfig(endpoint=endpoint, bucket=name, prefix=PREFIX, region="us-east-1")

    backup = TenantBackup(
        schedule="0 2 * * *", retention_days=30, bucket=config(buckets["bucket"]), offsite=config(buckets["offsite"])
    )
    spec = backup_cronjob_spec(TENANT, backup)
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


@pytest.fixture(scope="module")
def busybox(session_root, supervisor) -> str:
    """A directory of BusyBox's applets (the image's userland), where the pods' user can read it."""
    binary = shutil.which("busybox")
    if binary is None:
        pytest.fail("busybox is missing: run scripts/dataplane-servers.sh install")
    applets = session_root / "busybox"
    applets.mkdir(exist_ok=True)
    for name in subprocess.run([binary, "--list"], capture_output=True, text=True, check=True).stdout.split():
        if not (applets / name).is_symlink():
            (applets / name).symlink_to(binary)
    supervisor.run_as and supervisor.run_as.own(applets)
    return str(applets)


def _run(container, busybox: str):
    """The container's command with BusyBox's applets first on its PATH (rclone is found after them)."""
    return container.run(env={"PATH": f"{busybox}:{container.env['PATH']}"}, timeout=60)


@pytest.fixture
def tenant(make_cluster, store, buckets):
    cluster = make_cluster(objects(store.endpoint, buckets), NAMESPACE)
    for secret in (BUCKET_SECRET, OFFSITE_SECRET):
        cluster.secrets.set(secret, "access-key-id", ACCESS_KEY)
        cluster.secrets.set(secret, "secret-access-key", SECRET_KEY)
    return cluster


def _fill(directory):
    (directory / "series").mkdir(parents=True, exist_ok=True)
    (directory / "series" / "cpu.db").write_bytes(os.urandom(300_000))
    (directory / "index.json").write_text('{"series": ["cpu"]}\n')
    (directory / "wal.log").write_bytes(b"")


def _backup(cluster, busybox: str):
    pod = cluster.pod("CronJob", f"{NAMESPACE}-backup")
    archive = _run(pod.container("backup"), busybox)
    assert archive.returncode == 0, f"backup-volume.sh failed:\n{archive.stdout}\n{archive.stderr}"
    upload = _run(pod.container("upload"), busybox)
    assert upload.returncode == 0, f"backup-upload.sh failed:\n{upload.stdout}\n{upload.stderr}"
    return archive


def test_the_cronjobs_containers_archive_the_tenants_volume_and_upload_it_with_its_manifest(
    tenant, store, buckets, busybox
):
    _fill(tenant.claim_dir(claim_name(TENANT)))
    archive = _backup(tenant, busybox)
    assert "gzip" in archive.stdout
    [backup] = list_tenant_backups(bucket(store, buckets["bucket"]), TENANT.id)
    assert backup.object.endswith(".tar.gz") and backup.size > 300_000
    assert backup.component == "fluxion/acme"


def test_the_restore_job_unpacks_the_backup_into_an_empty_claim_byte_for_byte(tenant, store, buckets, busybox):
    source = tenant.claim_dir(claim_name(TENANT))
    _fill(source)
    _backup(tenant, busybox)
    [backup] = list_tenant_backups(bucket(store, buckets["bucket"]), TENANT.id)
    saved = tenant.root / "saved"
    os.rename(source, saved)  # the tenant's volume lost: its claim is empty again
    tenant.claim_dir(claim_name(TENANT))
    result = _restore(tenant, backup.object, busybox, force=False)
    assert result.returncode == 0, f"restore failed:\n{result.stdout}\n{result.stderr}"
    comparison = filecmp.dircmp(saved, source)
    assert not (comparison.left_only or comparison.right_only or comparison.diff_files)
    assert filecmp.cmp(saved / "series" / "cpu.db", source / "series" / "cpu.db", shallow=False)


def test_the_restore_refuses_a_volume_holding_data_unless_forced(tenant, store, buckets, busybox):
    source = tenant.claim_dir(claim_name(TENANT))
    _fill(source)
    _backup(tenant, busybox)
    [backup] = list_tenant_backups(bucket(store, buckets["bucket"]), TENANT.id)
    (source / "index.json").write_text("written after the backup\n")
    refused = _restore(tenant, backup.object, busybox, force=False)
    assert refused.returncode == 3 and "left unchanged" in refused.stderr, refused.stderr
    assert (source / "index.json").read_text() == "written after the backup\n"
    forced = _restore(tenant, backup.object, busybox, force=True)
    assert forced.returncode == 0, forced.stderr
    assert (source / "index.json").read_text() == '{"series": ["cpu"]}\n'


def _restore(cluster, backup_object: str, busybox: str, *, force: bool, source: str = "bucket"):
    cronjob = cluster.find("CronJob", f"{NAMESPACE}-backup")
    job = restore_job(dict(cronjob), "x", tenant_id=TENANT.id, backup_object=backup_object, force=force, source=source)
    job["metadata"]["name"] = f"{NAMESPACE}-restore-{len(cluster.objects)}"
    cluster.objects.append(job)
    pod = cluster.pod("Job", job["metadata"]["name"])
    fetch = _run(pod.container("fetch"), busybox)
    if fetch.returncode != 0:
        return fetch
    return _run(pod.container("restore"), busybox)


def test_the_archive_keeps_hidden_files_and_leaves_the_filesystems_lost_and_found_out(tenant, store, buckets, busybox):
    source = tenant.claim_dir(claim_name(TENANT))
    _fill(source)
    (source / ".flushed").write_text("1\n")
    (source / "lost+found").mkdir()
    (source / "lost+found" / "#1234").write_bytes(b"orphan")
    _backup(tenant, busybox)
    [backup] = list_tenant_backups(bucket(store, buckets["bucket"]), TENANT.id)
    os.rename(source, tenant.root / "saved")
    tenant.claim_dir(claim_name(TENANT))
    assert _restore(tenant, backup.object, busybox, force=False).returncode == 0
    assert sorted(p.name for p in source.iterdir()) == [".flushed", "index.json", "series", "wal.log"]


def test_an_empty_volume_backs_up_and_restores_as_empty(tenant, store, buckets, busybox):
    source = tenant.claim_dir(claim_name(TENANT))
    archive = _backup(tenant, busybox)
    assert "backup written" in archive.stdout
    [backup] = list_tenant_backups(bucket(store, buckets["bucket"]), TENANT.id)
    assert _restore(tenant, backup.object, busybox, force=False).returncode == 0
    assert list(source.iterdir()) == []


def test_each_backup_lands_in_the_offsite_bucket_too_and_restores_from_it_alone(tenant, store, buckets, busybox):
    source = tenant.claim_dir(claim_name(TENANT))
    _fill(source)
    _backup(tenant, busybox)
    [first] = list_tenant_backups(bucket(store, buckets["bucket"]), TENANT.id)
    [offsite] = list_tenant_backups(bucket(store, buckets["offsite"]), TENANT.id)
    assert (offsite.object, offsite.sha256) == (first.object, first.sha256)
    store.request("DELETE", f"/{buckets['bucket']}/{PREFIX}/fluxion/{TENANT.id}/{first.object}")
    assert list_tenant_backups(bucket(store, buckets["bucket"]), TENANT.id) == []
    saved = tenant.root / "saved"
    os.rename(source, saved)
    tenant.claim_dir(claim_name(TENANT))
    result = _restore(tenant, offsite.object, busybox, force=False, source="offsite")
    assert result.returncode == 0, f"restore failed:\n{result.stdout}\n{result.stderr}"
    assert filecmp.cmp(saved / "series" / "cpu.db", source / "series" / "cpu.db", shallow=False)
