"""Point-in-time recovery, run for real: prod's PostgreSQL pod with `backup.pointInTime` (archive_command, the
pgBackRest server sidecar and its script), its backup CronJob's `base-backup` container, and the restore Job the CLI
builds from that CronJob (backups/pitr.py, files/restore-pitr.sh), against a real S3-compatible store over TLS
(S3Proxy 2.6, tooling/dataplane/s3.py), with Debian's pgBackRest 2.45 and PostgreSQL 15 (the image runs 17.6 with
the PostgreSQL project's pgBackRest package: images/postgres-pitr/Dockerfile).

What differs from a cluster, visibly:
- the store is signed by its own certificate, so every pgBackRest container gets PGBACKREST_REPO1_S3_CA_FILE (in a
  cluster, the image's CA bundle verifies the bucket's endpoint);
- the pod's DNS name is rewritten to its loopback address by the harness, so the pgBackRest certificate names that
  address as well (pgBackRest compares the name it connected to with the certificate's DNS names);
- the primary's claim `data-product-postgres-0` is its pod's data directory (the harness gives each new pod fresh
  volumes; the restore Job mounts the claim by name, as in a cluster).
The database server runs without TLS (the chart's tls.mode is beside the point here; prod's is tested in
test_tls_postgres_redis.py): pgBackRest's connection has its own certificate either way.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from backups.pitr import data_claim, restore_job
from tests.dataplane.conftest import chart_namespace, rendered
from tooling.dataplane import postgres, s3
from tooling.dataplane.certificates import CertificateAuthority
from tooling.dataplane.pods import Network
from tooling.dataplane.processes import port_open, wait_for

STACK, CHART, COMPONENT = "prod", "nexus-database", "product-postgres"
ACCESS_KEY, SECRET_KEY = "pgbackrest-writer", "s3proxy-secret-key"
PREFIX = "nexus/prod"
SERVER_PORT = 8432


@pytest.fixture(scope="module")
def store(session_root, supervisor):
    root = session_root / "s3-pitr"
    root.mkdir()
    supervisor.run_as and supervisor.run_as.own(root)
    address = Network(root, 248).allocate()

    def mkdir(path):
        path.mkdir(parents=True, exist_ok=True)
        supervisor.run_as and supervisor.run_as.own(path)
        return path

    server = s3.start_s3proxy(
        supervisor, root, address, access_key=ACCESS_KEY, secret_key=SECRET_KEY, mkdir=mkdir, tls=True
    )
    # Outside /tmp, which the harness reads as the pods' /tmp mount and would rewrite in the env values.
    outside = Path(tempfile.mkdtemp(prefix="nexus-pitr-ca-", dir="/var/tmp"))
    outside.chmod(0o755)
    ca_file = shutil.copy(server.ca_file, outside / "s3proxy-ca.pem")
    yield dataclasses.replace(server, ca_file=Path(ca_file))
    supervisor.stop(server.server)
    shutil.rmtree(outside, ignore_errors=True)


def _new_bucket(store, name: str) -> str:
    status, body = store.request("PUT", f"/{name}")
    assert status == 200, body
    return name


@pytest.fixture
def bucket(store, request):
    return _new_bucket(store, f"pitr-{abs(hash(request.node.nodeid)) % 10**8:08d}")


@pytest.fixture
def offsite(store, bucket):
    """Prod's second bucket (dataTier.backup.offsite), here a second bucket of the same store."""
    return _new_bucket(store, f"{bucket}-offsite")


def _with_store_ca(objects, ca_file: Path):
    """Every container that runs pgBackRest trusts the test store's certificate (see the module docstring)."""
    objects = copy.deepcopy(objects)
    for obj in objects:
        spec = obj.get("spec", {})
        template = spec.get("jobTemplate", {}).get("spec", spec).get("template")
        if not template:
            continue
        pod = template["spec"]
        for container in [*pod.get("initContainers", []), *pod.get("containers", [])]:
            names = {e["name"] for e in container.get("env", [])}
            for repo in ("REPO1", "REPO2"):
                if f"PGBACKREST_{repo}_TYPE" in names:
                    container["env"].append({"name": f"PGBACKREST_{repo}_S3_CA_FILE", "value": str(ca_file)})
    return objects


class Primary:
    """Pod 0 of product-postgres: the postgres container as the image starts it and the pgBackRest server sidecar."""

    def __init__(self, cluster):
        self.cluster = cluster
        self.pod = cluster.pod("StatefulSet", COMPONENT, 0)
        self.servers = []

    def start(self):
        self.postgres = self.pod.container("postgres")
        self.servers.append(postgres.official_entrypoint(self.postgres))
        # Checks its certificate's files every second instead of 30 (the renewal test waits on it).
        self.servers.append(self.pod.container("pgbackrest").start(env={"INTERVAL_SECONDS": "1"}))
        wait_for(lambda: port_open(self.pod.address, SERVER_PORT), what="the pgBackRest server", timeout=60)
        return self

    def stop(self):
        for server in reversed(self.servers):
            self.cluster.supervisor.stop(server)
        self.servers = []

    def sql(self, statement: str) -> str:
        return postgres.psql(self.postgres, statement, database=self.postgres.env["POSTGRES_DB"])

    @property
    def pgdata(self) -> Path:
        return Path(self.postgres.env["PGDATA"])


@pytest.fixture
def cluster(make_cluster, store, bucket, offsite):
    backup = {
        "bucket": {"endpoint": store.tls_endpoint, "bucket": bucket},
        "offsite": {"endpoint": store.tls_endpoint, "bucket": offsite},
    }
    objects = _with_store_ca(rendered(STACK, CHART, {"tls": {"mode": "disabled"}, "backup": backup}), store.ca_file)
    cluster = make_cluster(objects, chart_namespace(STACK, CHART))
    for secret in ("backup-bucket-credentials", "backup-offsite-credentials"):
        cluster.secrets.set(secret, "access-key-id", ACCESS_KEY)
        cluster.secrets.set(secret, "secret-access-key", SECRET_KEY)
    return cluster


def _issue_pgbackrest_certificate(cluster, primary) -> None:
    """cert-manager's Certificate `<database>-pgbackrest`, here from a CA of its own each time (a renewal from a new
    CA: only the new certificate verifies against the new CA file)."""
    domain = cluster.service_domain()
    names = [f"{COMPONENT}-pgbackrest", f"*.{COMPONENT}-headless.{domain}", primary.pod.address]
    for key, value in CertificateAuthority().issue(names).items():
        cluster.secrets.set(f"{COMPONENT}-pgbackrest-tls", key, value.decode())


@pytest.fixture
def primary(cluster):
    primary = Primary(cluster)
    _issue_pgbackrest_certificate(cluster, primary)
    # The StatefulSet's claim for pod 0, by the name the restore Job mounts.
    claims = cluster.mkdir(cluster.root / "claims")
    (claims / data_claim(COMPONENT, 0)).symlink_to(primary.pod.volume_dir("data"))
    yield primary.start()
    primary.stop()


def _base_backup(cluster, primary):
    """One run of the backup CronJob's base-backup container (the dump and upload containers are tested elsewhere).
    Its PGBACKREST_PG1_PATH is PGDATA as the primary's pod sees it, which here is that pod's own directory."""
    started = time.monotonic()
    backup = cluster.pod("CronJob", f"{COMPONENT}-backup").container("base-backup")
    assert backup.env["PGBACKREST_PG1_PATH"] == "/var/lib/postgresql/data/pgdata"
    result = backup.run(env={"PGBACKREST_PG1_PATH": str(primary.pgdata)}, timeout=300)
    assert result.returncode == 0, f"backup-pgbackrest.sh failed:\n{result.stdout}\n{result.stderr}"
    return result, time.monotonic() - started


def _archived(primary) -> None:
    """Close the current WAL segment and wait until archive_command has shipped it."""
    segment = primary.sql("SELECT pg_walfile_name(pg_switch_wal())")
    wait_for(
        lambda: primary.sql("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver") >= segment,
        what=f"WAL segment {segment} archived",
        timeout=60,
    )


def _restore(cluster, target: datetime.datetime, source: str = "bucket"):
    cronjob = dict(cluster.find("CronJob", f"{COMPONENT}-backup"))
    job = restore_job(cronjob, f"{COMPONENT}-pitr", component=COMPONENT, target=target, source=source)
    job["metadata"]["name"] = f"{COMPONENT}-pitr-{len(cluster.objects)}"
    cluster.objects.append(job)
    started = time.monotonic()
    result = cluster.pod("Job", job["metadata"]["name"]).container("restore").run(timeout=300)
    return result, time.monotonic() - started


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0)


def _keys(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.fixture
def stored(session_root, bucket):
    """The keys S3Proxy holds in the test's bucket, as a function (its filesystem store: one file per object)."""
    return lambda: _keys(session_root / "s3-pitr" / "objects" / bucket)


@pytest.fixture
def stored_offsite(session_root, offsite):
    return lambda: _keys(session_root / "s3-pitr" / "objects" / offsite)


def test_archive_command_ships_each_finished_wal_segment_to_the_bucket(cluster, primary, stored):
    # No backup has run: the sidecar created the stanza when the primary started.
    primary.sql("CREATE TABLE t (id int)")
    _archived(primary)
    segment = primary.sql("SELECT last_archived_wal FROM pg_stat_archiver")
    archive = f"{PREFIX}/pgbackrest/{COMPONENT}/archive/{COMPONENT}/"
    shipped = [key for key in stored() if key.startswith(archive) and f"/{segment}-" in key]
    assert shipped, f"{segment} not under {archive}: {stored()}"


def test_archive_command_ships_each_wal_segment_to_the_offsite_bucket_too(cluster, primary, stored_offsite):
    primary.sql("CREATE TABLE t (id int)")
    _archived(primary)
    segment = primary.sql("SELECT last_archived_wal FROM pg_stat_archiver")
    archive = f"{PREFIX}/pgbackrest/{COMPONENT}/archive/{COMPONENT}/"
    assert [k for k in stored_offsite() if k.startswith(archive) and f"/{segment}-" in k], stored_offsite()


def test_the_cronjobs_base_backup_reads_the_primary_through_its_pgbackrest_server(
    cluster, primary, stored, stored_offsite
):
    result, seconds = _base_backup(cluster, primary)
    print(f"base backup (both buckets): {seconds:.1f} s")
    assert "full backup" in result.stdout and "status: ok" in result.stdout, result.stdout
    for keys in (stored(), stored_offsite()):
        assert any(k.startswith(f"{PREFIX}/pgbackrest/{COMPONENT}/backup/{COMPONENT}/backup.info") for k in keys), keys
        assert any(k.endswith("F/backup.manifest") for k in keys), keys


def _base_backup_then_two_writes_around_a_moment(cluster, primary) -> datetime.datetime:
    """A table `orders`, a base backup, row 1, the moment returned, row 2, both archived."""
    primary.sql("CREATE TABLE orders (id int PRIMARY KEY, written timestamptz DEFAULT now())")
    _base_backup(cluster, primary)
    primary.sql("INSERT INTO orders (id) VALUES (1)")
    time.sleep(1.5)
    between = _now()
    time.sleep(1.5)
    primary.sql("INSERT INTO orders (id) VALUES (2)")
    _archived(primary)
    return between


def test_a_restore_to_a_moment_between_two_writes_holds_exactly_the_first(cluster, primary):
    between = _base_backup_then_two_writes_around_a_moment(cluster, primary)
    assert primary.sql("SELECT string_agg(id::text, ',' ORDER BY id) FROM orders") == "1,2"

    primary.stop()
    shutil.rmtree(primary.pgdata)
    result, seconds = _restore(cluster, between)
    print(f"restore to {between:%H:%M:%S}: {seconds:.1f} s")
    assert result.returncode == 0, f"restore-pitr.sh failed:\n{result.stdout}\n{result.stderr}"

    # The same pod starts again on the restored volume: it replays the archive up to the target and promotes.
    primary.start()
    wait_for(lambda: primary.sql("SELECT pg_is_in_recovery()") == "f", what="promotion after recovery", timeout=120)
    assert primary.sql("SELECT string_agg(id::text, ',' ORDER BY id) FROM orders") == "1"
    # A new timeline, on which the database takes writes again.
    primary.sql("INSERT INTO orders (id) VALUES (3)")
    assert primary.sql("SELECT string_agg(id::text, ',' ORDER BY id) FROM orders") == "1,3"


def test_a_target_before_the_oldest_base_backup_is_refused_and_pgdata_is_left_as_it_was(cluster, primary):
    before_any_backup = _now() - datetime.timedelta(seconds=5)
    primary.sql("CREATE TABLE kept (id int); INSERT INTO kept VALUES (7)")
    _base_backup(cluster, primary)
    primary.stop()
    files = sorted(str(p.relative_to(primary.pgdata)) for p in primary.pgdata.rglob("*"))

    result, _ = _restore(cluster, before_any_backup)
    assert result.returncode == 3, f"{result.stdout}\n{result.stderr}"
    assert "before the end of the oldest base backup" in result.stderr, result.stderr
    assert sorted(str(p.relative_to(primary.pgdata)) for p in primary.pgdata.rglob("*")) == files
    primary.start()
    assert primary.sql("SELECT id FROM kept") == "7"


def test_a_restore_to_a_time_from_the_offsite_bucket_alone_holds_exactly_the_first_write(
    cluster, primary, session_root, bucket
):
    """The first bucket lost (its objects deleted): the off-site copy alone restores the moment."""
    between = _base_backup_then_two_writes_around_a_moment(cluster, primary)
    primary.stop()
    shutil.rmtree(primary.pgdata)
    for path in sorted((session_root / "s3-pitr" / "objects" / bucket).iterdir()):
        shutil.rmtree(path) if path.is_dir() else path.unlink()

    result, _ = _restore(cluster, between, source="offsite")
    assert result.returncode == 0, f"restore-pitr.sh failed:\n{result.stdout}\n{result.stderr}"
    primary.start()
    wait_for(lambda: primary.sql("SELECT pg_is_in_recovery()") == "f", what="promotion after recovery", timeout=120)
    assert primary.sql("SELECT string_agg(id::text, ',' ORDER BY id) FROM orders") == "1"


def test_a_renewed_pgbackrest_certificate_is_served_without_restarting_the_pod(cluster, primary):
    """Renewed from a new CA: a base backup with the new client certificate and CA succeeds only if the server
    presents the new certificate, which the sidecar restarts it on when the kubelet rewrites the Secret's files."""
    _base_backup(cluster, primary)
    _issue_pgbackrest_certificate(cluster, primary)
    sidecar = primary.pod.container("pgbackrest")
    for key in ("tls.crt", "tls.key", "ca.crt"):
        (sidecar.path("/pgbackrest-tls") / key).write_text(cluster.secrets.get(f"{COMPONENT}-pgbackrest-tls", key))
    log = sidecar.dir / "output.log"
    wait_for(lambda: "restarting the server on it" in log.read_text(), what="the server's restart", timeout=30)
    wait_for(lambda: port_open(primary.pod.address, SERVER_PORT), what="the pgBackRest server", timeout=60)
    result, _ = _base_backup(cluster, primary)
    assert "status: ok" in result.stdout, result.stdout
