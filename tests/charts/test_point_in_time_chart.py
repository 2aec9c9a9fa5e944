"""Point-in-time recovery as each stack renders it (real helm, the component's own values): prod's five PostgreSQL
databases archive every WAL segment with pgBackRest into the backup bucket, run a pgBackRest server beside each server
and take a base backup in each backup CronJob run, all configured through PGBACKREST_* variables whose keys come from
the bucket's Secret; dev and staging render none of it; and turning it on leaves the data volumes' claim templates as
they were, so no StatefulSet is replaced and no volume is lost. What the programs do:
tests/dataplane/test_point_in_time.py."""

from __future__ import annotations

import copy
import datetime
from typing import Any

import pytest

from backups.pitr import restore_job
from tests.charts.test_nexus_database_chart import CHART, NAMESPACE, POSTGRES, env_of, pod_spec, rendered, stack_values
from tooling.helm import HelmError, find, render, validate_manifests
from tooling.stacks import stack_config

pytestmark = pytest.mark.render

PITR_IMAGE = "registry.nexus.example.com/postgres-pitr:17.6-1"
KEY_REFS = {
    "PGBACKREST_REPO1_S3_KEY": {"secretKeyRef": {"name": "backup-bucket-credentials", "key": "access-key-id"}},
    "PGBACKREST_REPO1_S3_KEY_SECRET": {
        "secretKeyRef": {"name": "backup-bucket-credentials", "key": "secret-access-key"}
    },
}


def _by_name(manifests, kind: str) -> dict[str, Any]:
    return {o["metadata"]["name"]: o for o in find(manifests, kind)}


def _containers(workload) -> dict[str, Any]:
    pod = pod_spec(workload)
    return {c["name"]: c for c in [*pod.get("initContainers", []), *pod["containers"]]}


def _pgbackrest_containers(manifests) -> list[str]:
    return [
        f"{w['metadata']['name']}/{name}"
        for w in [*find(manifests, "StatefulSet"), *find(manifests, "CronJob")]
        for name, c in _containers(w).items()
        if any(var.startswith("PGBACKREST_") for var in env_of(c)) or "pgbackrest" in str(c.get("args", ""))
    ]


def test_prod_postgres_archives_every_wal_segment_with_pgbackrest_within_a_minute():
    statefulsets = _by_name(rendered("prod"), "StatefulSet")
    for name in POSTGRES:
        postgres = _containers(statefulsets[name])["postgres"]
        assert postgres["image"] == PITR_IMAGE, name
        assert {
            "--archive_mode=on",
            f"--archive_command=pgbackrest --stanza={name} archive-push %p",
            "--archive_timeout=60",
        } <= set(postgres["args"]), postgres["args"]
        env = env_of(postgres)
        assert env["PGBACKREST_STANZA"] == name and env["PGBACKREST_CONFIG"] == "/dev/null"


def _pgbackrest_envs(manifests) -> list[dict[str, Any]]:
    """The environment of every container that runs pgBackRest (workload/container named in `_where`)."""
    envs = []
    for workload in [*find(manifests, "StatefulSet"), *find(manifests, "CronJob")]:
        for container in _containers(workload).values():
            env = env_of(container)
            if "PGBACKREST_REPO1_TYPE" in env:
                envs.append({**env, "_where": f"{workload['metadata']['name']}/{container['name']}"})
    return envs


def test_prod_pgbackrest_settings_point_at_the_bucket_with_the_keys_only_from_its_secret():
    bucket = stack_config("prod")["dataTier"]["backup"]["bucket"]
    manifests = rendered("prod")
    for env in _pgbackrest_envs(manifests):
        db = env["PGBACKREST_STANZA"]
        assert env["PGBACKREST_REPO1_TYPE"] == "s3"
        assert env["PGBACKREST_REPO1_S3_BUCKET"] == bucket["bucket"]
        assert env["PGBACKREST_REPO1_S3_ENDPOINT"] == "s3.eu-central-1.amazonaws.com"
        assert env["PGBACKREST_REPO1_S3_REGION"] == bucket["region"]
        assert env["PGBACKREST_REPO1_PATH"] == f"/{bucket['prefix']}/pgbackrest/{db}"
        assert env["PGBACKREST_REPO1_RETENTION_FULL_TYPE"] == "time"
        assert env["PGBACKREST_REPO1_RETENTION_FULL"] == "30"
        for var, ref in KEY_REFS.items():
            assert env[var] == ref, f"{env['_where']} {var}"
    text = repr(manifests)
    assert "PGBACKREST_REPO1_S3_KEY', 'value'" not in text and "pgbackrest.conf" not in text


def test_prod_archives_wal_and_takes_base_backups_in_the_offsite_bucket_too_with_its_own_keys():
    offsite = stack_config("prod")["dataTier"]["backup"]["offsite"]
    manifests = rendered("prod")
    checked = 0
    for env in _pgbackrest_envs(manifests):
        db = env["PGBACKREST_STANZA"]
        assert env["PGBACKREST_REPO2_S3_BUCKET"] == offsite["bucket"]
        assert env["PGBACKREST_REPO2_S3_ENDPOINT"] == "s3.eu-west-1.amazonaws.com"
        assert env["PGBACKREST_REPO2_PATH"] == f"/{offsite['prefix']}/pgbackrest/{db}"
        assert env["PGBACKREST_REPO2_RETENTION_FULL"] == "30" and env["PITR_REPOS"] == "1 2"
        for var in ("PGBACKREST_REPO2_S3_KEY", "PGBACKREST_REPO2_S3_KEY_SECRET"):
            assert env[var]["secretKeyRef"]["name"] == "backup-offsite-credentials", var
        checked += 1
    assert checked >= len(POSTGRES) * 3  # the postgres container, the server sidecar, the base backup


def test_without_an_offsite_bucket_pgbackrest_has_one_repository():
    values = copy.deepcopy(stack_values("prod"))
    values["backup"]["offsite"] = {"enabled": False}
    manifests = render(CHART, values=values, release=CHART, namespace=NAMESPACE)
    envs = [env_of(c) for w in find(manifests, "CronJob") for c in _containers(w).values()]
    pgbackrest = [env for env in envs if "PGBACKREST_REPO1_TYPE" in env]
    assert pgbackrest and all(env["PITR_REPOS"] == "1" for env in pgbackrest)
    assert not [var for env in envs for var in env if var.startswith("PGBACKREST_REPO2")]


def test_each_prod_postgres_pod_serves_pgdata_to_its_own_backup_certificate_only():
    statefulsets = _by_name(rendered("prod"), "StatefulSet")
    for name in POSTGRES:
        server = _containers(statefulsets[name])["pgbackrest"]
        env = env_of(server)
        assert server["command"] == ["bash", "/scripts/pgbackrest-server.sh"] and server["image"] == PITR_IMAGE
        assert env["PGBACKREST_TLS_SERVER_AUTH"] == f"{name}-pgbackrest={name}"
        assert env["PGBACKREST_TLS_SERVER_ADDRESS"] == {"fieldRef": {"fieldPath": "status.podIP"}}
        assert env["PGBACKREST_TLS_SERVER_KEY_FILE"] == "/pgbackrest-tls/tls.key"
        volumes = {v["name"]: v for v in pod_spec(statefulsets[name])["volumes"]}
        assert volumes["pgbackrest-tls"]["secret"]["secretName"] == f"{name}-pgbackrest-tls"


def test_prod_postgres_backup_cronjobs_take_a_base_backup_through_the_primarys_pgbackrest_server():
    cronjobs = _by_name(rendered("prod"), "CronJob")
    for name in POSTGRES:
        containers = _containers(cronjobs[f"{name}-backup"])
        assert list(containers) == ["backup", "upload", "base-backup"], name  # the dump still runs, first
        env = env_of(containers["base-backup"])
        assert containers["base-backup"]["command"] == ["bash", "/scripts/backup-pgbackrest.sh"]
        assert env["PGBACKREST_PG1_HOST"] == f"{name}-0.{name}-headless.{NAMESPACE}.svc.cluster.local"
        assert env["PGBACKREST_PG1_HOST_TYPE"] == "tls" and env["PGBACKREST_PG1_HOST_PORT"] == "8432"
        assert env["PGBACKREST_PG1_HOST_CERT_FILE"] == "/pgbackrest-tls/tls.crt"
    for other in ("cart-mongodb-backup", "user-mongodb-backup", "redis-backup"):
        assert "base-backup" not in _containers(cronjobs[other]), other


@pytest.mark.parametrize("stack", ["dev", "staging"])
def test_dev_and_staging_render_no_point_in_time_recovery(stack):
    manifests = rendered(stack)
    assert _pgbackrest_containers(manifests) == []
    postgres = [w for name, w in _by_name(manifests, "StatefulSet").items() if name in POSTGRES]
    assert postgres and {_containers(w)["postgres"]["image"] for w in postgres} == {"docker.io/library/postgres:17.6"}


def test_turning_point_in_time_recovery_on_keeps_the_data_claim_templates_so_no_volume_is_replaced():
    values = stack_values("prod")
    off = copy.deepcopy(values)
    off["backup"]["pointInTime"] = {"enabled": False}
    with_pitr = _by_name(rendered("prod"), "StatefulSet")
    without = _by_name(render(CHART, off, release="nexus-database", namespace=NAMESPACE), "StatefulSet")
    for name in POSTGRES:
        assert with_pitr[name]["spec"]["volumeClaimTemplates"] == without[name]["spec"]["volumeClaimTemplates"]
        assert with_pitr[name]["spec"]["serviceName"] == without[name]["spec"]["serviceName"]


def test_the_chart_refuses_point_in_time_recovery_over_plain_http_naming_the_values():
    values = stack_values("prod")
    values["backup"]["bucket"]["endpoint"] = "http://minio.data.svc:9000"
    with pytest.raises(HelmError, match=r"backup\.pointInTime\.enabled needs an https:// backup\.bucket\.endpoint"):
        render(CHART, values, release="nexus-database", namespace=NAMESPACE)


def test_the_point_in_time_restore_job_built_from_a_rendered_prod_cronjob_is_a_valid_job():
    cronjob = copy.deepcopy(_by_name(rendered("prod"), "CronJob")["product-postgres-backup"])
    cronjob["metadata"].setdefault("namespace", NAMESPACE)
    target = datetime.datetime(2026, 12, 1, 10, 30, tzinfo=datetime.UTC)
    job = restore_job(cronjob, "product-postgres-pitr-1", component="product-postgres", target=target)
    validate_manifests([job])
    [restore] = pod_spec({"kind": "Job", "spec": job["spec"]})["containers"]
    assert restore["image"] == PITR_IMAGE
    assert not [v for v in env_of(restore) if v.startswith("PGBACKREST_PG1_HOST")]
