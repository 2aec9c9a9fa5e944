"""Backups that leave the cluster, run for real: the prod render's backup CronJob pod (its `backup` container,
the database's dump, then its `upload` container, files/backup-upload.sh with rclone) against a real
S3-compatible server on loopback (S3Proxy 2.6, tooling/dataplane/s3.py), listed by the CLI's own code
(backups/store.py), and restored by the restore Job the CLI makes from that CronJob (backups/jobs.py): its
`fetch` container (files/restore-fetch.sh) and its `restore` container (files/restore-postgres.sh). Redis's
snapshot goes the same way, and is loaded from the bucket into a fresh pod as docs/backups.md describes.

The prod stack's bucket and off-site bucket are pointed at S3Proxy (two buckets of one server, the
endpoints are the only values overridden); the credentials Secrets hold S3Proxy's keys.

MongoDB has no server that installs here: its backup and restore scripts run for real with stand-ins for
mongodump, mongosh and mongorestore that record their arguments (as test_mongodb_scripts.py does).

Versions: rclone is Debian's 1.60.1, the version the chart's uploader image is pinned to; pg_dump,
pg_restore and the server are Debian's PostgreSQL 15 (the image runs 17.6; see test_backups.py).
"""

from __future__ import annotations

import os
import time

import pytest

from backups.jobs import data_claim, restore_job
from backups.store import Bucket, list_backups, rclone
from components.backups import ClusterBackup, cluster_backup_cronjob_spec, cluster_backup_scripts
from components.postgres_cluster import ADMIN_PASSWORD_KEY
from platform_config.data_tier import BackupConfig
from tests.dataplane.conftest import ACCESS_KEY, PLAINTEXT_VALUES, PREFIX, SECRET_KEY, bucket, chart_namespace, rendered
from tests.dataplane.test_backups import _checksum, _postgres_with_rows, _redis_digest, _redis_with_keys
from tooling.dataplane import postgres, redis, s3
from tooling.dataplane.processes import ServerFailed, wait_for
from tooling.stackfiles import deep_merge

STACK = "prod"
CHART = "nexus-database"
DAY = 86400


@pytest.fixture
def data_tier(make_cluster, store, buckets):
    destinations = {key: {"endpoint": store.endpoint, "bucket": name} for key, name in buckets.items()}
    cluster = make_cluster(
        rendered(STACK, CHART, deep_merge(PLAINTEXT_VALUES, {"backup": destinations})), chart_namespace(STACK, CHART)
    )
    for key in buckets:
        secret = f"backup-{key}-credentials"
        cluster.secrets.set(secret, "access-key-id", ACCESS_KEY)
        cluster.secrets.set(secret, "secret-access-key", SECRET_KEY)
    return cluster


def _run_backup(cluster, component: str, *, env: dict | None = None, timeout: float = 120):
    """One run of the CronJob's pod: the dump, then (only if it succeeded) the upload."""
    pod = cluster.pod("CronJob", f"{component}-backup")
    dump = pod.container("backup").run(timeout=timeout)
    assert dump.returncode == 0, f"backup container failed:\n{dump.stdout}\n{dump.stderr}"
    upload = pod.container("upload")
    return pod, upload.run(env=env, timeout=timeout)


def _restore(cluster, component: str, backup_object: str, *, force: bool, source: str = "BUCKET"):
    """The restore Job the CLI would create, run: fetch (init container), then restore."""
    cronjob = cluster.find("CronJob", f"{component}-backup")
    job = restore_job(
        dict(cronjob),
        f"{component}-restore-test",
        component=component,
        backup_object=backup_object,
        source=source,
        force=force,
    )
    job["metadata"]["name"] = f"{component}-restore-{len(cluster.objects)}"
    cluster.objects.append(job)
    pod = cluster.pod("Job", job["metadata"]["name"])
    fetch = pod.container("fetch").run(timeout=120)
    if fetch.returncode != 0:
        return fetch
    return pod.container("restore").run(timeout=120)


def test_postgres_backup_in_the_bucket_restores_the_same_rows_after_the_table_is_lost(data_tier, store, buckets):
    primary, database = _postgres_with_rows(data_tier)
    before = _checksum(primary, database)
    _, upload = _run_backup(data_tier, "product-postgres")
    assert upload.returncode == 0, f"backup-upload.sh failed:\n{upload.stdout}\n{upload.stderr}"
    [backup] = list_backups(bucket(store, buckets["bucket"]), "product-postgres")
    assert backup.object.endswith(".dump") and backup.size > 0

    postgres.psql(primary, "DROP TABLE products", database=database)
    result = _restore(data_tier, "product-postgres", backup.object, force=False)
    assert result.returncode == 0, f"restore failed:\n{result.stdout}\n{result.stderr}"
    assert _checksum(primary, database) == before


def test_each_backup_is_also_copied_to_the_offsite_bucket_and_restores_from_there(data_tier, store, buckets):
    primary, database = _postgres_with_rows(data_tier, rows=50)
    before = _checksum(primary, database)
    _, upload = _run_backup(data_tier, "product-postgres")
    assert upload.returncode == 0, upload.stderr
    [main] = list_backups(bucket(store, buckets["bucket"]), "product-postgres")
    [offsite] = list_backups(bucket(store, buckets["offsite"]), "product-postgres")
    assert (offsite.object, offsite.sha256) == (main.object, main.sha256)

    postgres.psql(primary, "DROP TABLE products", database=database)
    result = _restore(data_tier, "product-postgres", offsite.object, force=False, source="OFFSITE")
    assert result.returncode == 0, result.stderr
    assert _checksum(primary, database) == before


def test_restore_refuses_a_database_that_is_not_empty_unless_forced(data_tier, store, buckets):
    primary, database = _postgres_with_rows(data_tier, rows=100)
    backed_up = _checksum(primary, database)
    _run_backup(data_tier, "product-postgres")
    [backup] = list_backups(bucket(store, buckets["bucket"]), "product-postgres")
    postgres.psql(primary, "INSERT INTO products VALUES (100001, 'after the backup', '')", database=database)
    later = _checksum(primary, database)

    refused = _restore(data_tier, "product-postgres", backup.object, force=False)
    assert refused.returncode == 3 and "not empty" in refused.stderr, refused.stderr
    assert _checksum(primary, database) == later, "a refused restore changed the database"

    forced = _restore(data_tier, "product-postgres", backup.object, force=True)
    assert forced.returncode == 0, forced.stderr
    assert _checksum(primary, database) == backed_up


def test_an_upload_cut_off_half_way_is_never_listed(data_tier, store, buckets):
    _postgres_with_rows(data_tier, rows=20000)
    pod = data_tier.pod("CronJob", "product-postgres-backup")
    assert pod.container("backup").run(timeout=120).returncode == 0
    # Throttled so that the kill lands while the object is in flight; the whole process group is killed.
    with pytest.raises(ServerFailed):
        pod.container("upload").run(env={"RCLONE_BWLIMIT": "64k"}, timeout=3)
    assert list_backups(bucket(store, buckets["bucket"]), "product-postgres") == []


def test_an_object_whose_manifest_was_never_written_is_not_a_backup(data_tier, store, buckets):
    target = bucket(store, buckets["bucket"])
    pod = data_tier.pod("CronJob", "product-postgres-backup")
    dump = pod.container("backup").path("/backups") / "lonely.dump"
    data_tier.mkdir(dump.parent)
    dump.write_bytes(b"PGDMP" + os.urandom(4096))
    # Exactly the upload's first step, and a crash before its second (the manifest).
    rclone(target, "copyto", str(dump), f"{target.path('product-postgres')}/20261201T020000Z.dump")
    assert list_backups(target, "product-postgres") == []


def test_a_manifest_that_does_not_describe_its_object_is_not_a_backup(data_tier, store, buckets):
    _postgres_with_rows(data_tier, rows=10)
    _, upload = _run_backup(data_tier, "product-postgres")
    assert upload.returncode == 0, upload.stderr
    target = bucket(store, buckets["bucket"])
    [backup] = list_backups(target, "product-postgres")
    truncated = data_tier.root / "truncated.dump"
    truncated.write_bytes(b"PGDMP")
    rclone(target, "copyto", str(truncated), f"{target.path('product-postgres')}/{backup.object}")
    assert list_backups(target, "product-postgres") == []


def test_a_fetched_backup_that_does_not_match_its_manifest_is_refused_before_the_restore(data_tier, store, buckets):
    primary, database = _postgres_with_rows(data_tier, rows=10)
    _run_backup(data_tier, "product-postgres")
    target = bucket(store, buckets["bucket"])
    [backup] = list_backups(target, "product-postgres")
    # Same size, other bytes: what a listing by size cannot tell, and the fetch's sha256 check does.
    forged = data_tier.root / "forged.dump"
    forged.write_bytes(os.urandom(backup.size))
    rclone(target, "copyto", str(forged), f"{target.path('product-postgres')}/{backup.object}")
    postgres.psql(primary, "DROP TABLE products", database=database)
    result = _restore(data_tier, "product-postgres", backup.object, force=False)
    assert result.returncode == 1 and "does not match its manifest" in result.stderr, result.stderr
    assert (
        postgres.psql(primary, "SELECT count(*) FROM pg_tables WHERE tablename = 'products'", database=database) == "0"
    )


def _seed(target: Bucket, cluster, component: str, name: str, age_days: float) -> None:
    """A backup and its manifest as an earlier run left them, `age_days` old (rclone keeps a file's
    modification time in the object's metadata, which is the age retention reads)."""
    then = time.time() - age_days * DAY
    for suffix, body in ((name, b"old dump"), (f"{name}.manifest.json", b'{"size": 8, "sha256": "x"}')):
        path = cluster.root / "seed" / suffix
        cluster.mkdir(path.parent)
        path.write_bytes(body)
        os.utime(path, (then, then))
        rclone(target, "copyto", str(path), f"{target.path(component)}/{suffix}")


def test_bucket_retention_removes_only_backups_older_than_the_retention_period(data_tier, store, buckets):
    target = bucket(store, buckets["bucket"])
    _postgres_with_rows(data_tier, rows=10)
    _seed(target, data_tier, "product-postgres", "20261001T020000Z.dump", 40)
    _seed(target, data_tier, "product-postgres", "20261101T020000Z.dump", 29)
    _seed(target, data_tier, "payment-postgres", "20260901T020000Z.dump", 90)
    pod, upload = _run_backup(data_tier, "product-postgres")
    assert pod.container("upload").env["RETENTION_DAYS"] == "30"
    assert upload.returncode == 0, upload.stderr

    left = {e.strip() for e in rclone(target, "lsf", target.path("product-postgres")).splitlines()}
    assert "20261001T020000Z.dump" not in left and "20261001T020000Z.dump.manifest.json" not in left, left
    assert {"20261101T020000Z.dump", "20261101T020000Z.dump.manifest.json"} <= left, left
    assert len(list_backups(target, "product-postgres")) == 2  # the 29-day-old one and tonight's
    other = rclone(target, "lsf", target.path("payment-postgres"))
    assert "20260901T020000Z.dump" in other, "retention reached another database's backups"


def test_a_failed_dump_uploads_nothing(data_tier, store, buckets):
    # No server is running: pg_dump fails, the init container exits non-zero, the upload never starts.
    pod = data_tier.pod("CronJob", "product-postgres-backup")
    assert pod.container("backup").run(timeout=60).returncode != 0
    assert list_backups(bucket(store, buckets["bucket"]), "product-postgres") == []
    spec = pod.spec
    assert [c["name"] for c in spec["initContainers"]] == ["backup"] and [c["name"] for c in spec["containers"]] == [
        "upload"
    ]


def test_a_restore_from_the_volume_by_date_takes_that_days_newest_dump(data_tier):
    primary, database = _postgres_with_rows(data_tier, rows=30)
    pod = data_tier.pod("CronJob", "product-postgres-backup")
    assert pod.container("backup").run(timeout=120).returncode == 0
    before = _checksum(primary, database)
    day = (pod.container("backup").path("/tmp") / "last-backup").read_text()[:8]
    postgres.psql(primary, "DROP TABLE products", database=database)

    cronjob = data_tier.find("CronJob", "product-postgres-backup")
    job = restore_job(
        dict(cronjob),
        "product-postgres-restore-by-date",
        component="product-postgres",
        backup_object=None,
        source=None,
        force=False,
        date=day,
    )
    data_tier.objects.append(job)
    result = data_tier.pod("Job", "product-postgres-restore-by-date").container("restore").run(timeout=120)
    assert result.returncode == 0, result.stderr
    assert _checksum(primary, database) == before


def test_redis_snapshot_in_the_bucket_loads_into_an_empty_server_with_the_same_keys(data_tier, store, buckets):
    primary = _redis_with_keys(data_tier)
    _, upload = _run_backup(data_tier, "redis")
    assert upload.returncode == 0, upload.stderr
    target = bucket(store, buckets["bucket"])
    [backup] = list_backups(target, "redis")
    assert backup.object.endswith(".rdb")

    # As docs/backups.md says: the snapshot copied into a fresh pod's /data before redis starts.
    restored = data_tier.pod("StatefulSet", "redis", 0).container("redis")
    dump = restored.path("/data") / "dump.rdb"
    rclone(target, "copyto", f"{target.path('redis')}/{backup.object}", str(dump))
    data_tier.supervisor.run_as and data_tier.supervisor.run_as.own(dump)
    redis.start(restored)
    assert _redis_digest(restored) == _redis_digest(primary)


def _stopped_redis_primary_with_a_backup(cluster, store, buckets):
    """Redis-0 with keys, its snapshot in the bucket, one write after it, then stopped (the CLI's scale to 0), with
    its volume under the claim name the restore Job mounts."""
    primary = _redis_with_keys(cluster)
    expected = _redis_digest(primary)
    _, upload = _run_backup(cluster, "redis")
    assert upload.returncode == 0, upload.stderr
    [backup] = list_backups(bucket(store, buckets["bucket"]), "redis")
    assert redis.cli(primary, "SET", "written-after-the-backup", "1").stdout.strip() == "OK"
    [server] = [s for s in cluster.supervisor.servers if s.name == f"{primary.pod.name}/redis"]
    cluster.supervisor.stop(server)
    claims = cluster.mkdir(cluster.root / "claims")
    (claims / data_claim("redis", 0)).symlink_to(primary.pod.volume_dir("data"))
    return primary, backup, expected


def test_a_redis_restore_job_refuses_a_volume_that_holds_a_dataset_and_leaves_it_unchanged(data_tier, store, buckets):
    primary, backup, _ = _stopped_redis_primary_with_a_backup(data_tier, store, buckets)
    data = primary.pod.volume_dir("data")
    before = sorted(str(p.relative_to(data)) for p in data.rglob("*"))
    result = _restore(data_tier, "redis", backup.object, force=False)
    assert result.returncode == 3 and "the data left unchanged" in result.stderr, result.stderr
    assert sorted(str(p.relative_to(data)) for p in data.rglob("*")) == before


def test_a_forced_redis_restore_job_brings_back_the_snapshot_and_drops_the_writes_after_it(data_tier, store, buckets):
    primary, backup, expected = _stopped_redis_primary_with_a_backup(data_tier, store, buckets)
    result = _restore(data_tier, "redis", backup.object, force=True)
    assert result.returncode == 0, f"restore-redis.sh failed:\n{result.stdout}\n{result.stderr}"
    redis.start(primary)  # the CLI's scale back: the same pod, on the same volume
    assert _redis_digest(primary) == expected
    assert redis.cli(primary, "EXISTS", "written-after-the-backup").stdout.strip() == "0"
    # redis-start.sh loaded the snapshot with AOF off and turns it on again, writing a new AOF from the data.
    wait_for(
        lambda: redis.cli(primary, "CONFIG", "GET", "appendonly").stdout.split()[-1:] == ["yes"],
        what="AOF switched back on after the restore",
        timeout=30,
    )


# --- The Bitnami orders cluster's own backup CronJob (not the chart's): its pod, run against the data tier's server

ORDERS = "orders-postgres"
ORDERS_PRIMARY = "orders-postgresql-primary.postgres.svc.cluster.local"
ORDERS_CREDENTIALS = "orders-postgresql-credentials"


def _orders_backup_cronjob(cluster, store, bucket_name: str, database: str) -> None:
    """The Bitnami orders cluster's backup CronJob and scripts ConfigMap (components/backups.py), pointed at the test's
    bucket: the objects the platform creates in the cluster's namespace."""
    config = BackupConfig.model_validate(
        {
            "enabled": True,
            "retentionDays": 30,
            "bucket": {"endpoint": store.endpoint, "bucket": bucket_name, "prefix": PREFIX, "region": s3.REGION},
        }
    )
    target = ClusterBackup(
        component=ORDERS,
        host=ORDERS_PRIMARY,
        database=database,
        password_secret=ORDERS_CREDENTIALS,
        password_key=ADMIN_PASSWORD_KEY,
        image="registry-1.docker.io/bitnami/postgresql",
        uid=1001,
    )
    meta = {"namespace": "postgres"}
    cluster.objects += [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"{ORDERS}-backup-scripts", **meta},
         "data": cluster_backup_scripts()},
        {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": f"{ORDERS}-backup", "uid": "u", **meta},
         "spec": cluster_backup_cronjob_spec(target, config)},
    ]  # fmt: skip


def test_the_orders_clusters_backup_pod_ships_a_dump_the_cli_restores_after_the_table_is_lost(
    data_tier, store, buckets
):
    primary, database = _postgres_with_rows(data_tier)
    before = _checksum(primary, database)
    # The data tier's server stands in for the Bitnami primary: its Service name, its admin password in the Secret.
    data_tier.network.register(ORDERS_PRIMARY, primary.pod.address, replace=True)
    data_tier.secrets.set(ORDERS_CREDENTIALS, ADMIN_PASSWORD_KEY, primary.env["POSTGRES_PASSWORD"])
    _orders_backup_cronjob(data_tier, store, buckets["bucket"], database)

    _, upload = _run_backup(data_tier, ORDERS)
    assert upload.returncode == 0, f"backup-upload.sh failed:\n{upload.stdout}\n{upload.stderr}"
    [backup] = list_backups(bucket(store, buckets["bucket"]), ORDERS)
    assert backup.object.endswith(".dump") and backup.size > 0

    postgres.psql(primary, "DROP TABLE products", database=database)
    result = _restore(data_tier, ORDERS, backup.object, force=False)
    assert result.returncode == 0, f"restore failed:\n{result.stdout}\n{result.stderr}"
    assert _checksum(primary, database) == before


# --- MongoDB: no server installs here (test_mongodb_scripts.py), so its tools are stand-ins that record
# what they were asked; the scripts around them run for real.


def _stub(container, name: str, body: str) -> None:
    path = container.bin_dir / name
    path.write_text(f"#!/bin/sh\n# stand-in for {name}: records its arguments\n{body}\n")
    path.chmod(0o755)


def test_mongodb_backup_captures_the_oplog_so_the_archive_is_one_consistent_moment(data_tier):
    backup = data_tier.pod("CronJob", "cart-mongodb-backup").container("backup")
    _stub(
        backup,
        "mongodump",
        f'printf "%s\\n" "$@" > {backup.dir}/args\n'
        'for a in "$@"; do case "$a" in --archive=*) echo archive > "${a#--archive=}";; esac; done',
    )
    assert backup.run(timeout=30).returncode == 0
    args = (backup.dir / "args").read_text().splitlines()
    assert {"--oplog", "--gzip"} <= set(args), args


def _mongodb_restore(cluster, *, force: bool, databases: int):
    cronjob = cluster.find("CronJob", "cart-mongodb-backup")
    job = restore_job(
        dict(cronjob),
        "cart-mongodb-restore",
        component="cart-mongodb",
        backup_object="x.archive.gz",
        source=None,
        force=force,
    )
    job["metadata"]["name"] = f"cart-mongodb-restore-{len(cluster.objects)}"
    cluster.objects.append(job)
    restore = cluster.pod("Job", job["metadata"]["name"]).container("restore")
    archive = restore.path("/backups") / "cart-mongodb" / "x.archive.gz"
    cluster.mkdir(archive.parent)
    archive.write_bytes(b"archive")
    _stub(restore, "mongosh", f'printf "%s\\n" "$@" > {restore.dir}/mongosh.args\necho {databases}')
    _stub(restore, "mongorestore", f'printf "%s\\n" "$@" > {restore.dir}/mongorestore.args')
    return restore, restore.run(timeout=30)


def test_mongodb_restore_refuses_a_replica_set_that_holds_data_unless_forced(data_tier):
    restore, refused = _mongodb_restore(data_tier, force=False, databases=2)
    assert refused.returncode == 3 and "not empty" in refused.stderr, refused.stderr
    assert not (restore.dir / "mongorestore.args").exists()


def test_a_forced_mongodb_restore_replays_the_oplog_and_keeps_the_password_out_of_every_argv(data_tier):
    restore, result = _mongodb_restore(data_tier, force=True, databases=2)
    assert result.returncode == 0, result.stderr
    args = (restore.dir / "mongorestore.args").read_text().splitlines()
    assert {"--oplogReplay", "--gzip", "--drop"} <= set(args), args
    password = restore.env["MONGO_ROOT_PASSWORD"]
    for tool in ("mongosh", "mongorestore"):
        assert password not in (restore.dir / f"{tool}.args").read_text(), f"{tool} got the password in its argv"
