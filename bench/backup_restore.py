"""Time of one backup and one restore of a 1 GiB PostgreSQL database, through the real pods' programs (issue 17).

Run by hand, never by the test suite (it takes minutes and ~4 GiB of /tmp):

    flock /tmp/nexus-heavy.lock .venv/bin/python -m bench.backup_restore [--gib 1.0]

What runs is what the data-plane tier runs (tests/dataplane/test_backups_bucket.py): the prod render's
`product-postgres-backup` pod, its `backup` container (pg_dump, custom format) then its `upload` container
(rclone to S3Proxy on loopback), then the restore Job `python -m backups restore` builds, its `fetch`
container (rclone, sha256 check) then its `restore` container (pg_restore in one transaction) into the
emptied database. The off-site copy is switched off, so the upload is timed once. Servers: Debian's
PostgreSQL 15 and rclone 1.60, S3Proxy 2.6 over a local directory, all on this machine (2 cores shared):
the figures are a floor set by CPU (compression, checksums) and local disk, not by a network.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from backups.jobs import restore_job
from backups.store import Bucket, list_backups
from tests.dataplane.conftest import chart_namespace, rendered
from tooling.dataplane import postgres, s3
from tooling.dataplane.pods import Cluster, Network, Secrets
from tooling.dataplane.processes import RunAs, Supervisor

ACCESS_KEY, SECRET_KEY, BUCKET = "bench-writer", "bench-secret-key", "nexus-bench"
ROW_PAYLOAD = 8  # md5 strings (32 hex chars each) of random data per row: about as compressible as hex text is


def _timed(what: str, run) -> float:
    started = time.monotonic()
    result = run()
    elapsed = time.monotonic() - started
    if getattr(result, "returncode", 0) != 0:
        raise SystemExit(f"{what} failed:\n{result.stdout}\n{result.stderr}")
    print(f"  {what}: {elapsed:.1f} s", flush=True)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=1.0, help="database size to reach, GiB (default 1)")
    args = parser.parse_args()

    supervisor = Supervisor(RunAs.named("postgres"))
    root = Path(tempfile.mkdtemp(prefix="nexus-bench-backup-"))
    root.chmod(0o755)
    supervisor.run_as and supervisor.run_as.own(root)
    try:

        def mkdir(path: Path) -> Path:
            path.mkdir(parents=True, exist_ok=True)
            supervisor.run_as and supervisor.run_as.own(path)
            return path

        store = s3.start_s3proxy(
            supervisor,
            mkdir(root / "s3"),
            Network(root, 248).allocate(),
            access_key=ACCESS_KEY,
            secret_key=SECRET_KEY,
            mkdir=mkdir,
        )
        assert store.request("PUT", f"/{BUCKET}")[0] == 200
        objects = rendered(
            "prod",
            "nexus-database",
            # The dumps only: point-in-time recovery needs an https store (tests/dataplane/test_point_in_time.py).
            {
                "backup": {
                    "bucket": {"endpoint": store.endpoint, "bucket": BUCKET},
                    "offsite": {"enabled": False},
                    "pointInTime": {"enabled": False},
                }
            },
        )
        cluster = Cluster(
            mkdir(root / "c"),
            objects,
            chart_namespace("prod", "nexus-database"),
            supervisor,
            Secrets(),
            Network(root, 247),
        )
        cluster.secrets.set("backup-bucket-credentials", "access-key-id", ACCESS_KEY)
        cluster.secrets.set("backup-bucket-credentials", "secret-access-key", SECRET_KEY)

        primary = cluster.pod("StatefulSet", "product-postgres", 0).container("postgres")
        postgres.official_entrypoint(primary)
        database = primary.env["POSTGRES_DB"]
        target = int(args.gib * 2**30)
        payload = " || ".join(["md5(random()::text)"] * ROW_PAYLOAD)
        rows = target // (ROW_PAYLOAD * 32 + 60)
        print(f"loading ~{args.gib} GiB ({rows} rows) into {database} ...", flush=True)
        postgres.psql(
            primary, "CREATE TABLE products (id bigint PRIMARY KEY, name text, payload text)", database=database
        )
        step = 500_000
        for start in range(1, rows + 1, step):
            stop = min(rows, start + step - 1)
            postgres.psql(
                primary,
                f"INSERT INTO products SELECT i, 'product ' || i, {payload} FROM generate_series({start}, {stop}) i",
                database=database,
            )
        size = int(postgres.psql(primary, "SELECT pg_database_size(current_database())", database=database))
        digest = "SELECT count(*) || ':' || sum(hashtext(payload)::bigint) FROM products"
        before = postgres.psql(primary, digest, database=database)
        print(f"database size {size / 2**30:.2f} GiB", flush=True)

        print("backup (the CronJob's pod):", flush=True)
        pod = cluster.pod("CronJob", "product-postgres-backup")
        dump = _timed("pg_dump (backup container)", lambda: pod.container("backup").run(timeout=3600))
        upload = _timed("upload to the bucket (upload container)", lambda: pod.container("upload").run(timeout=3600))
        bucket = Bucket(store.endpoint, BUCKET, "nexus/prod", s3.REGION, ACCESS_KEY, SECRET_KEY)
        [backup] = list_backups(bucket, "product-postgres")
        print(f"  backup object {backup.object}: {backup.size / 2**20:.0f} MiB", flush=True)

        postgres.psql(primary, "DROP TABLE products", database=database)
        job = restore_job(
            dict(cluster.find("CronJob", "product-postgres-backup")),
            "product-postgres-restore-bench",
            component="product-postgres",
            backup_object=backup.object,
            source="BUCKET",
            force=False,
        )
        cluster.objects = [*cluster.objects, job]
        print("restore (the CLI's restore Job):", flush=True)
        restore_pod = cluster.pod("Job", "product-postgres-restore-bench")
        fetch = _timed("fetch and verify (fetch container)", lambda: restore_pod.container("fetch").run(timeout=3600))
        restore = _timed("pg_restore (restore container)", lambda: restore_pod.container("restore").run(timeout=3600))
        after = postgres.psql(primary, digest, database=database)
        if after != before:
            raise SystemExit(f"restored rows differ: {after} != {before}")
        print(
            f"\n{size / 2**30:.2f} GiB database, {backup.size / 2**20:.0f} MiB dump: "
            f"backup {dump + upload:.0f} s (dump {dump:.0f} + upload {upload:.0f}), "
            f"restore {fetch + restore:.0f} s (fetch {fetch:.0f} + pg_restore {restore:.0f}); rows equal"
        )
    finally:
        supervisor.stop_all()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
