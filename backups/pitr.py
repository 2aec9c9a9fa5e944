"""Point-in-time recovery of a PostgreSQL database (`python -m backups restore <db> --to-time T`), with the WAL archive
and base backups pgBackRest keeps in the backup bucket (charts/nexus-database, `backup.pointInTime`).

The restore Job is built from the database's backup CronJob as the cluster has it, like backups/jobs.py builds the
others: its `base-backup` container (our PostgreSQL image with pgBackRest, the repository's settings and the
bucket's keys from their Secret) turned around into `restore`, running `files/restore-pitr.sh` on the primary's
data volume (`data-<db>-0`) while the StatefulSet is at 0 pods. The settings that point pgBackRest at the primary's
pgBackRest server are dropped: the restore runs where PGDATA is.
"""

from __future__ import annotations

import copy
import datetime
import re
from typing import Any

from .jobs import JobError, data_claim

BASE_BACKUP = "base-backup"
RESTORE_SCRIPT = "/scripts/restore-pitr.sh"
# The StatefulSet's data volume mount (PGDATA is its pgdata subdirectory): charts/nexus-database postgres.yaml.
DATA_MOUNT = "/var/lib/postgresql/data"
# What makes pgBackRest reach PGDATA through the primary's pgBackRest server (`nexus-database.pitr.baseBackup`).
_REMOTE = re.compile(r"^PGBACKREST_PG1_HOST(_[A-Z_]+)?$")
# The volumes of the backup pod the restore needs: its scratch and the chart's scripts.
_KEPT_VOLUMES = ("tmp", "scripts")
_ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|\+00:00)$")


def parse_target(text: str, now: datetime.datetime | None = None) -> datetime.datetime:
    """`--to-time`: an ISO 8601 time in UTC (`2026-12-03T07:50:00Z`, `...+00:00`, fractions of a second allowed),
    not in the future. ValueError naming the value and the allowed form otherwise."""
    if not _ISO_UTC.match(text):
        raise ValueError(
            f"--to-time {text!r} is not an ISO 8601 time in UTC: use YYYY-MM-DDTHH:MM:SSZ (e.g. 2026-12-03T07:50:00Z)"
        )
    target = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    now = now or datetime.datetime.now(datetime.UTC)
    if target > now:
        raise ValueError(
            f"--to-time {text} is in the future (now {now:%Y-%m-%dT%H:%M:%SZ}): nothing is archived for it"
        )
    return target


def pgbackrest_target(target: datetime.datetime) -> str:
    """The form pgBackRest's --target and PostgreSQL's recovery_target_time both read: `2026-12-03 07:50:00+00`."""
    fraction = f".{target.microsecond:06d}" if target.microsecond else ""
    return f"{target:%Y-%m-%d %H:%M:%S}{fraction}+00"


def _containers(cronjob: dict[str, Any]) -> dict[str, dict[str, Any]]:
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return {c["name"]: c for c in [*pod.get("initContainers", []), *pod.get("containers", [])]}


def has_point_in_time(cronjob: dict[str, Any]) -> bool:
    """Whether the database's backup CronJob takes pgBackRest base backups (point-in-time recovery is on)."""
    return BASE_BACKUP in _containers(cronjob)


def replica_claims(component: str, replicas: int) -> list[str]:
    """The standbys' data volumes: after a point-in-time restore they hold the old timeline, so they are deleted and
    the StatefulSet makes them anew, empty, which postgres-standby.sh fills by cloning the restored primary."""
    return [data_claim(component, ordinal) for ordinal in range(1, replicas)]


# pgBackRest's repository of each backup destination (charts/nexus-database `nexus-database.pitr.env`).
REPOSITORIES = {"bucket": 1, "offsite": 2}


def restore_job(
    cronjob: dict[str, Any], name: str, *, component: str, target: datetime.datetime, source: str | None = None
) -> dict[str, Any]:
    """The Job restoring `component`'s primary data volume to `target` (see the module docstring): from the
    repository of `source` (`bucket`, `offsite`) only, or by default from the first that holds a base backup before
    the target."""
    containers = _containers(cronjob)
    if BASE_BACKUP not in containers:
        raise JobError(
            f"{component} has no point-in-time recovery in this stack (its backup CronJob takes no pgBackRest base "
            "backup: dataTier.backup.pointInTime.enabled): restore a dump with --backup-date instead"
        )
    spec = copy.deepcopy(cronjob["spec"]["jobTemplate"]["spec"])
    spec["backoffLimit"] = 0  # a restore that failed is looked at, not retried
    pod = spec["template"]["spec"]
    labels = spec["template"].setdefault("metadata", {}).setdefault("labels", {})
    labels["app.kubernetes.io/component"] = f"{component}-restore"
    labels["nexus.io/restore-of"] = component

    restore = copy.deepcopy(containers[BASE_BACKUP])
    restore["name"] = "restore"
    restore["command"] = ["bash", RESTORE_SCRIPT]
    set_here = ("TARGET_TIME", "PGBACKREST_REPO")
    env = [e for e in restore.get("env", []) if not _REMOTE.match(e["name"]) and e["name"] not in set_here]
    if source is not None:
        env.append({"name": "PGBACKREST_REPO", "value": str(REPOSITORIES[source])})
    restore["env"] = [*env, {"name": "TARGET_TIME", "value": pgbackrest_target(target)}]
    mounts = [m for m in restore.get("volumeMounts", []) if m["name"] in _KEPT_VOLUMES]
    restore["volumeMounts"] = [*mounts, {"name": "data", "mountPath": DATA_MOUNT}]
    pod["containers"] = [restore]
    pod.pop("initContainers", None)
    volumes = [v for v in pod.get("volumes", []) if v["name"] in _KEPT_VOLUMES]
    pod["volumes"] = [*volumes, {"name": "data", "persistentVolumeClaim": {"claimName": data_claim(component, 0)}}]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": cronjob["metadata"]["namespace"], "labels": dict(labels)},
        "spec": spec,
    }
