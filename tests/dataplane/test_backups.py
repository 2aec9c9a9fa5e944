"""The backup CronJobs of charts/nexus-database (prod stack: nightly, 30 days' retention), run for real:
each Job's container (`bash /scripts/backup-<kind>.sh`, sourcing backup-common.sh) against a primary
started from the same render, its dump restored into an empty server, the retention pruning and a dump
that fails half-way. The backup claim is one directory per claim name, shared by every run, as a PVC is.

MongoDB's backup (backup-mongodb.sh: mongodump) needs a MongoDB server, which has no package that installs
here: it is only syntax-checked (test_mongodb_scripts.py).

Versions: pg_dump/pg_restore and the server are Debian's 15 (the image's 17.6 dumps its own 17 server);
the custom format and restore-into-an-existing-database are unchanged. redis-cli 7.0's `--rdb` (the image
has 7.4) asks for an RDB-only sync (REPLCONF rdb-only, since 7.0) either way; the RDB format is read by
both. GNU find's `-mtime` and bash are the image's too (Debian bookworm).
"""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

import pytest

from tests.dataplane.conftest import PLAINTEXT_VALUES, chart_namespace, rendered
from tooling.dataplane import postgres, redis
from tooling.dataplane.paths import REDIS_SERVER
from tooling.dataplane.processes import wait_for

STACK = "prod"
CHART = "nexus-database"
DAY = 86400


@pytest.fixture
def data_tier(make_cluster):
    return make_cluster(rendered(STACK, CHART, PLAINTEXT_VALUES), chart_namespace(STACK, CHART))


def _backup_job(cluster, target: str):
    return cluster.pod("CronJob", f"{target}-backup").container("backup")


def _backups(job) -> list[str]:
    backup_dir = job.path("/backups") / job.env["TARGET"]
    return sorted(p.name for p in backup_dir.iterdir()) if backup_dir.is_dir() else []


def _limit_file_size(limit: int):
    """A disk that fills up half-way: writes past `limit` bytes fail (SIGXFSZ kills the writer)."""

    def preexec() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return preexec


def _postgres_with_rows(cluster, rows: int = 500):
    primary = cluster.pod("StatefulSet", "product-postgres", 0).container("postgres")
    postgres.official_entrypoint(primary)
    database = primary.env["POSTGRES_DB"]
    # The service's own tables, created by the service user (as the application does).
    postgres.psql(
        primary,
        "CREATE TABLE products (id int PRIMARY KEY, name text, payload text);"
        f"INSERT INTO products SELECT i, 'product ' || i, repeat(md5(i::text), 8) FROM generate_series(1, {rows}) i",
        database=database,
        user=primary.env["APP_USERNAME"],
        password=primary.env["APP_PASSWORD"],
        host=primary.pod.address,
    )
    return primary, database


def _checksum(container, database: str, host: str | None = None) -> str:
    return postgres.psql(
        container,
        "SELECT count(*) || ':' || md5(string_agg(id || name || payload, ',' ORDER BY id)) FROM products",
        database=database,
        host=host,
        password=container.env["POSTGRES_PASSWORD"] if host else None,
    )


def test_postgres_backup_restores_into_an_empty_server_with_the_same_rows(data_tier):
    primary, database = _postgres_with_rows(data_tier)
    job = _backup_job(data_tier, "product-postgres")
    result = job.run(timeout=120)
    assert result.returncode == 0, f"backup-postgres.sh failed:\n{result.stdout}\n{result.stderr}"
    dumps = [name for name in _backups(job) if name.endswith(".dump")]
    assert len(dumps) == 1 and not [n for n in _backups(job) if n.endswith(".partial")], _backups(job)

    # An empty server: a new pod of the same StatefulSet on a fresh volume (its init script creates the
    # service role that owns the dumped objects), restored as the README says.
    target = data_tier.pod("StatefulSet", "product-postgres", 0).container("postgres")
    postgres.official_entrypoint(target)
    dump = job.path("/backups") / job.env["TARGET"] / dumps[0]
    env = {**postgres.client_env(target), "PGPASSWORD": target.env["POSTGRES_PASSWORD"]}
    restore = target.run(
        ["pg_restore", "--exit-on-error", "--username", "postgres", "--dbname", database, str(dump)], env=env
    )
    assert restore.returncode == 0, restore.stderr
    assert _checksum(target, database) == _checksum(primary, database)
    owner = postgres.psql(target, "SELECT tableowner FROM pg_tables WHERE tablename = 'products'", database=database)
    assert owner == target.env["APP_USERNAME"]


def test_retention_prunes_only_backups_older_than_the_retention_period(data_tier):
    _postgres_with_rows(data_tier, rows=10)
    job = _backup_job(data_tier, "product-postgres")
    retention = int(job.env["RETENTION_DAYS"])
    assert retention == 30
    backup_dir = job.path("/backups") / job.env["TARGET"]
    data_tier.mkdir(backup_dir)
    now = time.time()
    ages = {
        "20200101T020000Z.dump": 2,  # an old name, a recent file: kept (age is the file's, not its name's)
        "29-days.dump": 29,
        "30-and-a-half-days.dump": 30.5,  # find -mtime +30 means 31 whole days or more
        "31-days.dump": 31.2,
        "forty-days.dump": 40,
    }
    for name, days in ages.items():
        path = backup_dir / name
        path.write_text("old")
        os.utime(path, (now - days * DAY, now - days * DAY))
    other_target = job.path("/backups") / "payment-postgres"
    data_tier.mkdir(other_target)
    (other_target / "old.dump").write_text("old")
    os.utime(other_target / "old.dump", (now - 90 * DAY, now - 90 * DAY))

    result = job.run(timeout=120)
    assert result.returncode == 0, result.stderr
    left = _backups(job)
    assert {"20200101T020000Z.dump", "29-days.dump", "30-and-a-half-days.dump"} <= set(left), left
    assert not {"31-days.dump", "forty-days.dump"} & set(left), left
    assert len([n for n in left if n.endswith(".dump")]) == 4  # the three kept and tonight's
    assert (other_target / "old.dump").exists(), "retention reached outside the Job's own target"


def test_postgres_dump_failing_half_way_leaves_nothing_that_looks_like_a_complete_backup(data_tier):
    _postgres_with_rows(data_tier, rows=20000)
    job = _backup_job(data_tier, "product-postgres")
    result = job.run(timeout=120, preexec=_limit_file_size(64 * 1024))
    assert result.returncode != 0, "the backup reported success although its dump could not be written"
    left = _backups(job)
    assert not [n for n in left if not n.startswith(".")], f"a failed dump left a visible backup: {left}"


def _redis_with_keys(cluster, count: int = 200, size: int = 16):
    primary = cluster.pod("StatefulSet", "redis", 0).container("redis")
    redis.start(primary)
    script = f"for i=1,{count} do redis.call('SET', 'key:' .. i, string.rep(string.format('%08d', i), {size})) end"
    assert redis.cli(primary, "EVAL", script, "0").returncode == 0
    return primary


def _redis_digest(container, host: str | None = None, password: str | None = None) -> str:
    """Every key and value, in one server-side pass."""
    script = (
        "local keys = redis.call('KEYS', 'key:*') table.sort(keys) local out = {} "
        "for _, k in ipairs(keys) do out[#out + 1] = k .. '=' .. redis.call('GET', k) end "
        "return redis.sha1hex(table.concat(out, ',')) .. ':' .. #keys"
    )
    return redis.cli(container, "EVAL", script, "0", host=host, password=password).stdout.strip()


def test_redis_backup_restores_into_an_empty_server_with_the_same_keys(data_tier):
    primary = _redis_with_keys(data_tier)
    job = _backup_job(data_tier, "redis")
    result = job.run(timeout=60)
    assert result.returncode == 0, f"backup-redis.sh failed:\n{result.stdout}\n{result.stderr}"
    rdbs = [n for n in _backups(job) if n.endswith(".rdb")]
    assert len(rdbs) == 1, _backups(job)

    # An empty server loading the snapshot (AOF off: see the next test for why that matters).
    restore_dir = data_tier.mkdir(data_tier.root / "redis-restore")
    (restore_dir / "dump.rdb").write_bytes((job.path("/backups") / "redis" / rdbs[0]).read_bytes())
    data_tier.supervisor.run_as and data_tier.supervisor.run_as.own(restore_dir / "dump.rdb")
    address = data_tier.network.allocate()
    server = data_tier.supervisor.start(
        "redis-restore",
        [str(REDIS_SERVER), "--bind", address, "--dir", str(restore_dir), "--appendonly", "no", "--save", ""],
        env={"PATH": "/usr/bin:/bin"},
        cwd=restore_dir,
        log=restore_dir / "redis.log",
    )
    wait_for(
        lambda: redis.cli(primary, "PING", host=address, password="").stdout.strip() == "PONG",
        what="the restore server",
        timeout=30,
        server=server,
    )
    assert _redis_digest(primary, host=address, password="") == _redis_digest(primary)


def test_redis_restore_as_the_readme_describes_brings_the_keys_back(data_tier):
    _redis_with_keys(data_tier, count=50)
    job = _backup_job(data_tier, "redis")
    assert job.run(timeout=60).returncode == 0
    rdb = next(n for n in _backups(job) if n.endswith(".rdb"))
    # A new pod on a fresh volume, the snapshot copied into its /data before it first starts.
    restored = data_tier.pod("StatefulSet", "redis", 0).container("redis")
    dump = restored.path("/data") / "dump.rdb"
    dump.write_bytes((job.path("/backups") / "redis" / rdb).read_bytes())
    data_tier.supervisor.run_as and data_tier.supervisor.run_as.own(dump)
    redis.start(restored)
    assert redis.cli(restored, "DBSIZE").stdout.strip() == "50"
    # redis-start.sh loaded the snapshot with AOF off; it switches AOF back on, so writes are durable again.
    wait_for(
        lambda: redis.cli(restored, "CONFIG", "GET", "appendonly").stdout.split()[-1:] == ["yes"],
        what="AOF switched back on after the restore",
        timeout=30,
    )


def test_redis_dump_failing_half_way_leaves_nothing_that_looks_like_a_complete_backup(data_tier):
    _redis_with_keys(data_tier, count=2000, size=64)
    job = _backup_job(data_tier, "redis")
    result = job.run(timeout=60, preexec=_limit_file_size(64 * 1024))
    assert result.returncode != 0, "the backup reported success although its snapshot could not be written"
    left = _backups(job)
    assert not [n for n in left if not n.startswith(".")], f"a failed dump left a visible backup: {left}"


def test_backup_files_are_private_to_the_backup_user(data_tier):
    _postgres_with_rows(data_tier, rows=10)
    job = _backup_job(data_tier, "product-postgres")
    assert job.run(timeout=120).returncode == 0
    backup_dir = job.path("/backups") / job.env["TARGET"]
    modes = {p.name: oct(p.stat().st_mode & 0o777) for p in Path(backup_dir).iterdir()}
    assert all(mode == "0o600" for mode in modes.values()), modes
