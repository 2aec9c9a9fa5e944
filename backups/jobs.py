"""The Jobs the CLI creates, built from a backup CronJob as the cluster has it (`<component>-backup`, rendered
by charts/nexus-database/templates/backup.yaml). Pure functions of that object, so what runs is the
chart's pod (image, env, Secrets, volumes, security context) and nothing the CLI spells a second time.

- `backup_job`: what `kubectl create job --from=cronjob/...` makes (the CronJob's job template, owned by
  the CronJob, annotated as a manual run), so kube-state-metrics counts it with the CronJob's runs.
- `restore_job`: the same pod turned around. Its `backup` container (the database's image) runs
  `restore-<kind>.sh` instead of `backup-<kind>.sh`; from a bucket, the `upload` container (rclone) runs
  first, as an init container, as `restore-fetch.sh`, which downloads the backup and checks it against
  its manifest. It keeps the `nexus.io/backup-of` label, so the strict network policy lets it connect.
  PostgreSQL and MongoDB are restored through the running server. Redis cannot be (a server loads a snapshot
  only when it starts), so its restore Job mounts the primary's data volume instead, while the StatefulSet is at
  0 pods (`OFFLINE`; the CLI stops and starts it).
"""

from __future__ import annotations

import copy
import re
from typing import Any

# The kinds a restore Job can restore (files/restore-<kind>.sh).
RESTORABLE = ("postgres", "mongodb", "redis")
# The kinds restored onto the stopped primary's data volume, by where the StatefulSet mounts it
# (charts/nexus-database redis.yaml): restore-redis.sh makes the snapshot the dataset redis-start.sh loads.
OFFLINE = {"redis": "/data"}
_SCRIPT = re.compile(r"^/scripts/backup-([a-z]+)\.sh$")
MANUAL = {"cronjob.kubernetes.io/instantiate": "manual"}


class JobError(ValueError):
    """A CronJob that is not one of the chart's backup CronJobs, or a restore that cannot be made."""


def _pod(cronjob: dict[str, Any]) -> dict[str, Any]:
    return cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def _containers(cronjob: dict[str, Any]) -> dict[str, dict[str, Any]]:
    pod = _pod(cronjob)
    return {c["name"]: c for c in [*pod.get("initContainers", []), *pod.get("containers", [])]}


def backup_kind(cronjob: dict[str, Any]) -> str:
    """`postgres`, `mongodb` or `redis`: what the CronJob's backup container dumps."""
    backup = _containers(cronjob).get("backup")
    scripts = [m.group(1) for arg in (backup or {}).get("command", []) if (m := _SCRIPT.match(str(arg)))]
    if not scripts:
        raise JobError(f"{cronjob['metadata']['name']} is not a nexus-database backup CronJob (no backup container)")
    return scripts[0]


def data_claim(component: str, ordinal: int) -> str:
    """The data volume of one pod of a StatefulSet (its volumeClaimTemplate `data`)."""
    return f"data-{component}-{ordinal}"


def restores_offline(cronjob: dict[str, Any]) -> bool:
    """Whether the restore replaces the stopped primary's volume (Redis) rather than talking to the server."""
    return backup_kind(cronjob) in OFFLINE


def ships_to_bucket(cronjob: dict[str, Any]) -> bool:
    return "upload" in _containers(cronjob)


def backup_job(cronjob: dict[str, Any], name: str) -> dict[str, Any]:
    template = cronjob["spec"]["jobTemplate"]
    meta = cronjob["metadata"]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": meta["namespace"],
            "labels": dict(template.get("metadata", {}).get("labels") or {}),
            "annotations": {**(template.get("metadata", {}).get("annotations") or {}), **MANUAL},
            "ownerReferences": [
                {
                    "apiVersion": "batch/v1",
                    "kind": "CronJob",
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": copy.deepcopy(template["spec"]),
    }


def _env(container: dict[str, Any], values: dict[str, str]) -> None:
    env = [e for e in container.get("env", []) if e["name"] not in values]
    container["env"] = env + [{"name": k, "value": v} for k, v in values.items()]


def restore_job(
    cronjob: dict[str, Any],
    name: str,
    *,
    component: str,
    backup_object: str | None,
    source: str | None,
    force: bool,
    host: str | None = None,
    date: str | None = None,
) -> dict[str, Any]:
    """A Job restoring `backup_object` of `component`: from the bucket `source` (BUCKET or OFFSITE), or from
    the backup volume when `source` is None; into `host` (another server: a fresh one) or the running one.
    From the volume, `backup_object` None with `date` (YYYYMMDD) restores that day's newest dump (the
    restore script picks it: the CLI cannot list a volume)."""
    kind = backup_kind(cronjob)
    if kind not in RESTORABLE:
        raise JobError(f"{component} ({kind}) has no restore Job: see docs/backups.md for restoring {kind}")
    if kind in OFFLINE and host:
        raise JobError(f"{component} is restored onto its own volume while it is stopped: --into is for databases")
    containers = _containers(cronjob)
    if source is not None and "upload" not in containers:
        raise JobError(f"{component}'s backups are not shipped to a bucket in this stack: restore from the volume")
    spec = copy.deepcopy(cronjob["spec"]["jobTemplate"]["spec"])
    spec["backoffLimit"] = 0  # a restore that failed is looked at, not retried
    pod = spec["template"]["spec"]
    meta = spec["template"].setdefault("metadata", {})
    labels = meta.setdefault("labels", {})
    labels["app.kubernetes.io/component"] = f"{component}-restore"
    labels["nexus.io/restore-of"] = component

    restore = copy.deepcopy(containers["backup"])
    restore["name"] = "restore"
    restore["command"] = ["bash", f"/scripts/restore-{kind}.sh"]
    if backup_object is None and (source is not None or date is None):
        raise JobError("a restore from a bucket names its object; one from the volume, its object or its date")
    if backup_object is None:
        which = {"RESTORE_DATE": str(date)}
    elif source is None:
        which = {"RESTORE_FILE": f"/backups/{component}/{backup_object}"}
    else:
        which = {"RESTORE_FILE": f"/backups/{component}/.restore/{backup_object}"}
    _env(restore, {**which, "FORCE": "yes" if force else "no", **({"HOST": host} if host else {})})
    pod["containers"] = [restore]
    pod.pop("initContainers", None)
    if kind in OFFLINE:
        restore["volumeMounts"] = [*restore.get("volumeMounts", []), {"name": "data", "mountPath": OFFLINE[kind]}]
        claim = {"persistentVolumeClaim": {"claimName": data_claim(component, 0)}}
        pod["volumes"] = [*pod.get("volumes", []), {"name": "data", **claim}]
    if source is not None:
        fetch = copy.deepcopy(containers["upload"])
        fetch["name"] = "fetch"
        fetch["command"] = ["sh", "/scripts/restore-fetch.sh"]
        _env(fetch, {"SOURCE": source, "BACKUP_OBJECT": str(backup_object), **which})
        pod["initContainers"] = [fetch]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": cronjob["metadata"]["namespace"],
            "labels": dict(labels),
        },
        "spec": spec,
    }
