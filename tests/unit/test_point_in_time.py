"""Point-in-time recovery without a cluster: the `dataTier.backup.pointInTime` switch is validated with errors naming
the key, the restore Job is the backup CronJob's base-backup container turned around onto the primary's volume
(backups/pitr.py), and `restore --to-time` checks the time, prints its plan, needs --force and a yes, then stops the
StatefulSet, restores, re-clones the standbys and starts it again, in that order (backups/cli.py)."""

from __future__ import annotations

import datetime
import io
import re
from collections.abc import Callable

import pytest

from backups import cli, pitr
from backups.jobs import JobError
from platform_config import ConfigError, load_platform_config
from tests.unit.test_backups import NoCluster
from tests.unit.test_nexus_database import data_tier
from tooling.stacks import run_stack, stack_config

pytestmark = pytest.mark.unit

NOW = datetime.datetime(2026, 12, 3, 8, 0, 0, tzinfo=datetime.UTC)
REMOTE = {
    "PGBACKREST_PG1_HOST": "product-postgres-0.product-postgres-headless.data.svc.cluster.local",
    "PGBACKREST_PG1_HOST_TYPE": "tls",
    "PGBACKREST_PG1_HOST_CERT_FILE": "/pgbackrest-tls/tls.crt",
}


def _config_error(backup: dict, security: dict | None = None) -> str:
    raw = stack_config("prod")
    raw["dataTier"] = {**raw["dataTier"], "backup": {**raw["dataTier"]["backup"], **backup}}
    if security is not None:
        raw["security"] = security
    with pytest.raises(ConfigError) as error:
        load_platform_config(raw)
    return str(error.value)


def test_only_prod_archives_wal_for_point_in_time_recovery():
    assert data_tier("prod").backup.pointInTime.enabled
    assert not data_tier("staging").backup.pointInTime.enabled
    assert not data_tier("dev").backup.pointInTime.enabled


def test_point_in_time_recovery_without_a_bucket_is_refused_naming_the_key():
    message = _config_error({"bucket": None, "offsite": None})
    assert "nexus-platform:dataTier.backup" in message and "pointInTime.enabled needs bucket" in message


def test_point_in_time_recovery_with_a_plain_http_bucket_is_refused_with_the_endpoint():
    message = _config_error({"bucket": {"endpoint": "http://minio.local:9000", "bucket": "nexus-b"}, "offsite": None})
    assert "https:// bucket.endpoint, not 'http://minio.local:9000'" in message


def test_point_in_time_recovery_with_a_plain_http_offsite_bucket_is_refused_with_the_endpoint():
    message = _config_error({"offsite": {"endpoint": "http://minio.offsite:9000", "bucket": "nexus-o"}})
    assert "https:// offsite.endpoint, not 'http://minio.offsite:9000'" in message


def test_point_in_time_recovery_without_tls_is_refused_naming_both_keys():
    message = _config_error({}, security={"tls": {"mode": "disabled"}})
    assert "dataTier.backup.pointInTime.enabled needs security.tls.mode enabled or required" in message


def test_a_target_time_is_iso_8601_in_utc():
    assert pitr.parse_target("2026-12-03T07:50:00Z", NOW) == datetime.datetime(2026, 12, 3, 7, 50, tzinfo=datetime.UTC)
    assert pitr.parse_target("2026-12-03T07:50:00.250+00:00", NOW).microsecond == 250000
    for bad in ("2026-12-03 07:50", "2026-12-03T07:50:00+01:00", "yesterday"):
        with pytest.raises(ValueError, match=re.escape(f"--to-time '{bad}' is not an ISO 8601 time in UTC")):
            pitr.parse_target(bad, NOW)


def test_a_target_time_in_the_future_is_refused():
    with pytest.raises(ValueError, match="is in the future"):
        pitr.parse_target("2026-12-03T08:00:01Z", NOW)


def test_the_target_reaches_pgbackrest_in_the_form_postgresql_reads():
    target = datetime.datetime(2026, 12, 3, 7, 50, 1, 500, tzinfo=datetime.UTC)
    assert pitr.pgbackrest_target(target) == "2026-12-03 07:50:01.000500+00"
    assert pitr.pgbackrest_target(target.replace(microsecond=0)) == "2026-12-03 07:50:01+00"


def _cronjob(component: str, *, point_in_time: bool = True) -> dict:
    dump = {"name": "backup", "image": "postgres:17.6", "command": ["bash", "/scripts/backup-postgres.sh"]}
    base = {
        "name": "base-backup",
        "image": "registry.nexus.example.com/postgres-pitr:17.6-1",
        "command": ["bash", "/scripts/backup-pgbackrest.sh"],
        "env": [
            {"name": "PGBACKREST_STANZA", "value": component},
            {"name": "PGBACKREST_REPO1_S3_KEY", "valueFrom": {"secretKeyRef": {"name": "backup-bucket-credentials"}}},
            *({"name": k, "value": v} for k, v in REMOTE.items()),
        ],
        "volumeMounts": [
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "scripts", "mountPath": "/scripts"},
            {"name": "pgbackrest-tls", "mountPath": "/pgbackrest-tls"},
        ],
    }
    volumes = [{"name": name} for name in ("backups", "tmp", "scripts", "pgbackrest-tls")]
    pod = {"initContainers": [dump], "containers": [{"name": "upload"}, *([base] if point_in_time else [])]}
    return {
        "metadata": {"name": f"{component}-backup", "namespace": "data", "uid": "uid-1"},
        "spec": {
            "jobTemplate": {
                "spec": {
                    "template": {
                        "metadata": {"labels": {"nexus.io/backup-of": component}},
                        "spec": {**pod, "volumes": volumes},
                    }
                }
            }
        },
    }


def test_the_restore_job_runs_the_base_backup_container_as_restore_pitr_on_the_primarys_volume():
    job = pitr.restore_job(_cronjob("product-postgres"), "j", component="product-postgres", target=NOW)
    pod = job["spec"]["template"]["spec"]
    [restore] = pod["containers"]
    assert "initContainers" not in pod and job["spec"]["backoffLimit"] == 0
    assert restore["command"] == ["bash", "/scripts/restore-pitr.sh"]
    assert restore["image"] == "registry.nexus.example.com/postgres-pitr:17.6-1"
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in restore["env"]}
    assert env["TARGET_TIME"] == "2026-12-03 08:00:00+00"
    assert env["PGBACKREST_REPO1_S3_KEY"] == {"secretKeyRef": {"name": "backup-bucket-credentials"}}
    assert not set(REMOTE) & set(env), "the restore runs where PGDATA is, not through the primary's server"
    assert {"name": "data", "mountPath": "/var/lib/postgresql/data"} in restore["volumeMounts"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert set(volumes) == {"tmp", "scripts", "data"}
    assert volumes["data"]["persistentVolumeClaim"] == {"claimName": "data-product-postgres-0"}
    assert job["metadata"]["labels"]["nexus.io/restore-of"] == "product-postgres"


def test_a_database_without_base_backups_has_no_point_in_time_restore_job():
    with pytest.raises(JobError, match=r"dataTier\.backup\.pointInTime\.enabled"):
        pitr.restore_job(
            _cronjob("product-postgres", point_in_time=False), "j", component="product-postgres", target=NOW
        )


class FakeKube:
    """The API calls of a restore that stops its StatefulSet, recorded in order; the restore Job fails when
    `job_fails`, its containers then logging `failure_log`. `cronjob` makes the backup CronJob of a component."""

    def __init__(
        self,
        namespace: str,
        *,
        job_fails: bool = False,
        replicas: int = 2,
        cronjob: Callable[[str], dict] = _cronjob,
        failure_log: str = "",
    ) -> None:
        self.namespace = namespace
        self.calls: list[tuple] = []
        self.created: list[dict] = []
        self.job_fails = job_fails
        self.replicas = replicas
        self.cronjob = cronjob
        self.failure_log = failure_log

    def get(self, kind: str, name: str) -> dict:
        if kind == "cronjob":
            return self.cronjob(name.removesuffix("-backup"))
        selector = {"app.kubernetes.io/name": "nexus-database", "app.kubernetes.io/component": name}
        return {"spec": {"replicas": self.replicas, "selector": {"matchLabels": selector}}}

    def scale(self, kind: str, name: str, replicas: int) -> None:
        self.calls.append(("scale", name, replicas))

    def wait_no_pods(self, selector: str, timeout: float) -> None:
        self.calls.append(("wait_no_pods", selector))

    def create(self, obj: dict) -> None:
        self.created.append(obj)
        self.calls.append(("create", obj["kind"]))

    def wait_job(self, name: str, timeout: float) -> bool:
        return not self.job_fails

    def logs(self, job: str, container: str) -> str:
        return f"{container} of {job}\n" + (self.failure_log if self.job_fails else "")

    def delete(self, kind: str, name: str) -> None:
        self.calls.append(("delete", kind, name))


def _restore_to_time(*extra: str, confirm: bool = True, **kube) -> tuple[int, str, FakeKube | None]:
    clusters: list[FakeKube] = []

    def factory(namespace: str) -> FakeKube:
        clusters.append(FakeKube(namespace, **kube))
        return clusters[-1]

    out = io.StringIO()
    argv = ["restore", "product-postgres", "--stack", "prod", "--to-time", "2026-12-01T10:30:00Z", *extra]
    code = cli.main(argv, out=out, kube_factory=factory, confirm=lambda _: confirm)
    return code, out.getvalue(), clusters[0] if clusters else None


def test_a_malformed_to_time_is_refused_naming_the_value_before_the_cluster_is_reached(capsys):
    argv = ["restore", "product-postgres", "--stack", "prod", "--to-time", "01.12.2026 10:30"]
    assert cli.main(argv, kube_factory=NoCluster) == cli.EXIT_REFUSED
    assert "--to-time '01.12.2026 10:30' is not an ISO 8601 time in UTC" in capsys.readouterr().err


def test_a_to_time_in_a_stack_without_a_wal_archive_is_refused_naming_the_key(capsys):
    argv = ["restore", "product-postgres", "--stack", "staging", "--to-time", "2026-12-01T10:30:00Z"]
    assert cli.main(argv, kube_factory=NoCluster) == cli.EXIT_REFUSED
    assert "dataTier.backup.pointInTime.enabled is off" in capsys.readouterr().err


def test_a_backup_date_that_is_not_the_day_of_the_to_time_is_refused(capsys):
    argv = ["restore", "product-postgres", "--stack", "prod", "--backup-date", "2026-11-30", "--to-time"]
    assert cli.main([*argv, "2026-12-01T10:30:00Z"], kube_factory=NoCluster) == cli.EXIT_REFUSED
    assert "--backup-date 2026-11-30 is not the day of --to-time" in capsys.readouterr().err


def test_without_force_the_plan_is_printed_and_nothing_is_touched():
    code, out, kube = _restore_to_time("--yes")
    assert code == cli.EXIT_REFUSED and "add --force" in out
    assert "replaces: the data of product-postgres-0 (claim data-product-postgres-0)" in out
    assert "standbys: data-product-postgres-1 deleted, re-cloned from the restored primary" in out
    assert "to:       2026-12-01 10:30:00+00" in out
    assert kube is not None and kube.calls == []


def test_a_restore_that_is_not_confirmed_touches_nothing():
    code, out, kube = _restore_to_time("--force", confirm=False)
    assert code == cli.EXIT_REFUSED and "not restored" in out and kube is not None and kube.calls == []


def test_a_confirmed_restore_stops_the_database_restores_recreates_the_standbys_and_starts_it_again():
    code, out, kube = _restore_to_time("--force", replicas=3)
    assert code == cli.EXIT_OK, out
    assert kube is not None
    assert kube.calls == [
        ("scale", "product-postgres", 0),
        ("wait_no_pods", "app.kubernetes.io/component=product-postgres,app.kubernetes.io/name=nexus-database"),
        ("create", "Job"),
        ("delete", "persistentvolumeclaim", "data-product-postgres-1"),
        ("delete", "persistentvolumeclaim", "data-product-postgres-2"),
        ("scale", "product-postgres", 3),
    ]
    [job] = kube.created
    [restore] = job["spec"]["template"]["spec"]["containers"]
    assert {"name": "TARGET_TIME", "value": "2026-12-01 10:30:00+00"} in restore["env"]
    assert "backup-now product-postgres --stack prod" in out


def test_a_failed_restore_leaves_the_database_stopped_and_the_standbys_untouched():
    code, out, kube = _restore_to_time("--force", job_fails=True)
    assert code == cli.EXIT_FAILED and "stays at 0 pods" in out
    assert kube is not None and [c for c in kube.calls if c[0] in ("delete", "scale")] == [
        ("scale", "product-postgres", 0)
    ]


def test_prod_issues_each_postgres_database_one_pgbackrest_certificate_naming_its_pods():
    certificates = {
        r.inputs["spec"]["secretName"]: r.inputs["spec"]
        for r in run_stack("prod").of_type("kubernetes:cert-manager.io/v1:Certificate")
        if r.inputs["spec"]["secretName"].endswith("-pgbackrest-tls")
    }
    databases = ("product", "payment", "order", "loyalty", "shipping")
    assert sorted(certificates) == sorted(f"{db}-postgres-pgbackrest-tls" for db in databases)
    spec = certificates["product-postgres-pgbackrest-tls"]
    assert spec["commonName"] == "product-postgres-pgbackrest"  # what the pgBackRest server admits
    assert "*.product-postgres-headless.data.svc.cluster.local" in spec["dnsNames"]
    assert {"server auth", "client auth"} <= set(spec["usages"])


def test_a_restore_to_a_time_from_the_offsite_bucket_reads_pgbackrests_second_repository():
    code, out, kube = _restore_to_time("--force", "--source", "offsite")
    assert code == cli.EXIT_OK, out
    assert kube is not None
    [restore] = kube.created[0]["spec"]["template"]["spec"]["containers"]
    assert {"name": "PGBACKREST_REPO", "value": "2"} in restore["env"]
    assert "repository 2, in offsite nexus-prod-backups-offsite" in out


def test_a_restore_to_a_time_reads_the_first_bucket_by_default():
    _, out, kube = _restore_to_time("--force")
    assert kube is not None
    [restore] = kube.created[0]["spec"]["template"]["spec"]["containers"]
    assert {"name": "PGBACKREST_REPO", "value": "1"} in restore["env"]
    assert "repository 1, in bucket nexus-prod-backups" in out


def test_a_restore_to_a_time_from_the_backup_volume_is_refused_naming_the_sources(capsys):
    code, _, kube = _restore_to_time("--force", "--source", "volume")
    assert code == cli.EXIT_REFUSED and kube is not None and kube.calls == []
    assert "--source volume: the WAL archive is in a bucket (--source bucket or offsite)" in capsys.readouterr().err
