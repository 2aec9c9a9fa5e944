"""The backup CronJobs as each stack renders them (real helm, the component's own values): prod and staging
ship every dump to their buckets (prod also off-site) with the credentials read from a Secret of their own,
dev needs no bucket at all, the names and labels the backup alerts select on stay put, and the Jobs the
CLI builds from a rendered CronJob (backups/jobs.py) are valid Kubernetes objects running the chart's pod."""

from __future__ import annotations

from typing import Any

import pytest

from backups.jobs import backup_job, restore_job
from components.nexus_database import chart_values
from platform_config.base import Environment
from platform_config.data_tier import DataTierConfig
from tests.charts.test_nexus_database_chart import BACKED_UP, CHART, NAMESPACE, POSTGRES, env_of, pod_spec, rendered
from tooling.helm import HelmError, find, render, validate_manifests
from tooling.stacks import stack_config

pytestmark = pytest.mark.render


def cronjobs(stack: str) -> dict[str, Any]:
    return {job["metadata"]["name"]: job for job in find(rendered(stack), "CronJob")}


def container(job, name: str) -> dict[str, Any]:
    pod = pod_spec(job)
    [found] = [c for c in [*pod.get("initContainers", []), *pod["containers"]] if c["name"] == name]
    return found


def test_prod_cronjobs_dump_first_then_upload_to_the_bucket_and_the_offsite_bucket():
    bucket = stack_config("prod")["dataTier"]["backup"]["bucket"]
    offsite = stack_config("prod")["dataTier"]["backup"]["offsite"]
    for name, job in cronjobs("prod").items():
        pod = pod_spec(job)
        assert [c["name"] for c in pod["initContainers"]] == ["backup"], name
        # Point-in-time recovery (test_point_in_time_chart.py): the PostgreSQL pods also take a pgBackRest base backup.
        base_backup = ["base-backup"] if name.removesuffix("-backup") in POSTGRES else []
        assert [c["name"] for c in pod["containers"]] == ["upload", *base_backup], name
        upload = container(job, "upload")
        assert upload["command"] == ["sh", "/scripts/backup-upload.sh"]
        assert upload["image"] == "docker.io/rclone/rclone:1.60.1"
        env = env_of(upload)
        assert env["REMOTES"] == "BUCKET OFFSITE"
        assert env["RCLONE_CONFIG_BUCKET_ENDPOINT"] == bucket["endpoint"]
        assert env["BUCKET_PATH"] == f"{bucket['bucket']}/{bucket['prefix']}"
        assert env["OFFSITE_PATH"] == f"{offsite['bucket']}/{offsite['prefix']}"
        assert env["RCLONE_CONFIG_BUCKET_SERVER_SIDE_ENCRYPTION"] == "AES256"
        assert env["RETENTION_DAYS"] == "30"


def test_bucket_credentials_come_only_from_their_own_secrets():
    for job in cronjobs("prod").values():
        env = env_of(container(job, "upload"))
        for remote, secret in (("BUCKET", "backup-bucket-credentials"), ("OFFSITE", "backup-offsite-credentials")):
            for var, key in (("ACCESS_KEY_ID", "access-key-id"), ("SECRET_ACCESS_KEY", "secret-access-key")):
                assert env[f"RCLONE_CONFIG_{remote}_{var}"] == {"secretKeyRef": {"name": secret, "key": key}}
        # The database's dump container never sees the bucket's keys.
        assert not [v for v in env_of(container(job, "backup")) if v.startswith("RCLONE_")]


def test_staging_ships_to_its_bucket_only():
    for job in cronjobs("staging").values():
        env = env_of(container(job, "upload"))
        assert env["REMOTES"] == "BUCKET" and "OFFSITE_PATH" not in env


def test_dev_with_backups_on_needs_no_bucket_the_dump_stays_on_the_volume():
    raw = stack_config("dev")
    config = DataTierConfig.model_validate({**raw["dataTier"], "backup": {"enabled": True}})
    manifests = render(
        CHART,
        chart_values(config, Environment.DEV, delete_data_on_destroy=False),
        release="nexus-database",
        namespace=NAMESPACE,
    )
    jobs = find(manifests, "CronJob")
    assert {j["metadata"]["name"] for j in jobs} == {f"{name}-backup" for name in BACKED_UP}
    for job in jobs:
        pod = pod_spec(job)
        assert "initContainers" not in pod and [c["name"] for c in pod["containers"]] == ["backup"]
        assert not [v for v in env_of(pod["containers"][0]) if v.startswith("RCLONE_")]


def test_the_names_and_labels_the_backup_alerts_select_on_are_stable():
    for name in BACKED_UP:
        job = cronjobs("prod")[f"{name}-backup"]
        labels = job["metadata"]["labels"]
        assert labels["app.kubernetes.io/instance"] == "nexus-database"
        assert labels["app.kubernetes.io/part-of"] == "nexus-platform"
        assert (
            pod_spec(job)
            and job["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]["nexus.io/backup-of"] == name
        )


def test_a_bucket_without_an_endpoint_fails_the_render_naming_the_value():
    values = chart_values(
        DataTierConfig.model_validate(stack_config("prod")["dataTier"]), Environment.PROD, delete_data_on_destroy=False
    )
    values["backup"]["bucket"]["endpoint"] = ""
    with pytest.raises(HelmError, match=r"backup\.bucket: endpoint, bucket and existingSecret are all required"):
        render(CHART, values, release="nexus-database", namespace=NAMESPACE)


def _with_namespace(job: dict[str, Any]) -> dict[str, Any]:
    return {**job, "metadata": {**job["metadata"], "namespace": NAMESPACE, "uid": "0c1d-test"}}


def test_backup_now_makes_a_valid_job_owned_by_the_cronjob_with_its_pod():
    cronjob = _with_namespace(cronjobs("prod")["product-postgres-backup"])
    job = backup_job(cronjob, "product-postgres-backup-now-1")
    validate_manifests([job])
    assert job["metadata"]["ownerReferences"][0]["name"] == "product-postgres-backup"
    assert job["spec"] == cronjob["spec"]["jobTemplate"]["spec"]


def test_a_restore_job_from_the_bucket_fetches_then_restores_with_the_backup_pods_secrets_and_labels():
    cronjob = _with_namespace(cronjobs("prod")["product-postgres-backup"])
    job = restore_job(
        cronjob,
        "product-postgres-restore-1",
        component="product-postgres",
        backup_object="20261201T020000Z.dump",
        source="OFFSITE",
        force=False,
    )
    validate_manifests([job])
    pod = job["spec"]["template"]["spec"]
    [fetch], [restore] = pod["initContainers"], pod["containers"]
    assert fetch["command"] == ["sh", "/scripts/restore-fetch.sh"] and "rclone" in fetch["image"]
    assert restore["command"] == ["bash", "/scripts/restore-postgres.sh"] and "postgres" in restore["image"]
    assert env_of(fetch)["SOURCE"] == "OFFSITE"
    assert env_of(restore)["FORCE"] == "no"
    assert env_of(restore)["POSTGRES_PASSWORD"] == {
        "secretKeyRef": {"name": "product-postgres-secret", "key": "postgres-password"}
    }
    labels = job["spec"]["template"]["metadata"]["labels"]
    assert labels["nexus.io/backup-of"] == "product-postgres"  # the strict network policy admits it
    assert job["spec"]["backoffLimit"] == 0
