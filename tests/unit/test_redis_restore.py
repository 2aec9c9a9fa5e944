"""Restoring Redis without a cluster: a server loads a snapshot only when it starts, so `restore redis` stops the
StatefulSet, runs the restore Job on the primary's own volume (restore-redis.sh: the snapshot replaces the dataset),
and starts it again; a Job that left the data unchanged (refused, or a snapshot that does not check out) starts it
again too, and one that failed mid-swap leaves it stopped (backups/cli.py, backups/jobs.py)."""

from __future__ import annotations

import io

import pytest

from backups import cli
from backups.jobs import JobError, restore_job
from tests.unit.test_point_in_time import FakeKube

pytestmark = pytest.mark.unit

SELECTOR = "app.kubernetes.io/component=redis,app.kubernetes.io/name=nexus-database"


def _redis_cronjob(component: str) -> dict:
    backup = {
        "name": "backup",
        "image": "redis:7.4",
        "command": ["bash", "/scripts/backup-redis.sh"],
        "env": [{"name": "TARGET", "value": component}],
        "volumeMounts": [{"name": "backups", "mountPath": "/backups"}, {"name": "scripts", "mountPath": "/scripts"}],
    }
    volumes = [{"name": "backups", "persistentVolumeClaim": {"claimName": f"{component}-backups"}}, {"name": "scripts"}]
    return {
        "metadata": {"name": f"{component}-backup", "namespace": "data", "uid": "uid-1"},
        "spec": {
            "jobTemplate": {
                "spec": {
                    "template": {
                        "metadata": {"labels": {"nexus.io/backup-of": component}},
                        "spec": {"containers": [backup], "volumes": volumes},
                    }
                }
            }
        },
    }


def _restore_redis(*extra: str, confirm: bool = True, **kube) -> tuple[int, str, FakeKube | None]:
    clusters: list[FakeKube] = []

    def factory(namespace: str) -> FakeKube:
        clusters.append(FakeKube(namespace, cronjob=_redis_cronjob, **kube))
        return clusters[-1]

    out = io.StringIO()
    argv = ["restore", "redis", "--stack", "dev", "--backup-date", "2026-12-01", *extra]
    code = cli.main(argv, out=out, kube_factory=factory, confirm=lambda _: confirm)
    return code, out.getvalue(), clusters[0] if clusters else None


def test_the_redis_restore_job_runs_restore_redis_on_the_primarys_data_volume_where_the_statefulset_mounts_it():
    job = restore_job(_redis_cronjob("redis"), "j", component="redis", backup_object=None, source=None, force=True,
                      date="20261201")  # fmt: skip
    pod = job["spec"]["template"]["spec"]
    [restore] = pod["containers"]
    assert restore["command"] == ["bash", "/scripts/restore-redis.sh"]
    assert {"name": "data", "mountPath": "/data"} in restore["volumeMounts"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"] == {"claimName": "data-redis-0"}
    env = {e["name"]: e["value"] for e in restore["env"] if "value" in e}
    assert (env["RESTORE_DATE"], env["FORCE"]) == ("20261201", "yes")


def test_a_redis_restore_into_another_server_is_refused():
    with pytest.raises(JobError, match="restored onto its own volume"):
        restore_job(_redis_cronjob("redis"), "j", component="redis", backup_object="x.rdb", source=None, force=False,
                    host="elsewhere")  # fmt: skip
    code, _, kube = _restore_redis("--into", "elsewhere")
    assert code == cli.EXIT_REFUSED and kube is not None and kube.calls == []


def test_the_plan_says_redis_stops_and_what_replaces_its_data_and_an_unconfirmed_restore_touches_nothing():
    code, out, kube = _restore_redis(confirm=False)
    assert code == cli.EXIT_REFUSED and "not restored" in out
    assert "into:     the volume of redis-0 (claim data-redis-0)" in out
    assert "downtime: statefulset redis scaled 2 -> 0, restored, scaled back to 2" in out
    assert "must hold no dataset (else refused)" in out
    assert kube is not None and kube.calls == []


def test_a_confirmed_redis_restore_stops_redis_restores_its_volume_and_starts_it_again():
    code, out, kube = _restore_redis("--force", replicas=3)
    assert code == cli.EXIT_OK, out
    assert kube is not None
    assert kube.calls == [("scale", "redis", 0), ("wait_no_pods", SELECTOR), ("create", "Job"), ("scale", "redis", 3)]
    assert "restored: redis-0 starts from the snapshot" in out


def test_a_redis_restore_its_job_refused_starts_redis_again_on_its_data_as_it_was():
    log = "restore: the volume holds a dataset: nothing restored, the data left unchanged\n"
    code, out, kube = _restore_redis(job_fails=True, failure_log=log)
    assert code == cli.EXIT_FAILED and "started again on its data as it was" in out
    assert kube is not None and [c for c in kube.calls if c[0] == "scale"] == [
        ("scale", "redis", 0),
        ("scale", "redis", 2),
    ]


def test_a_redis_restore_that_failed_without_saying_the_data_is_unchanged_leaves_redis_stopped():
    code, out, kube = _restore_redis("--force", job_fails=True, failure_log="mv: cannot move: No space left\n")
    assert code == cli.EXIT_FAILED and "statefulset redis stays at 0 pods" in out
    assert kube is not None and [c for c in kube.calls if c[0] == "scale"] == [("scale", "redis", 0)]
