"""Backups of FluxionDB tenants (docs/backups.md "FluxionDB tenants"): list a tenant's complete backups in the bucket
and restore one onto the tenant's own volume. A function-level API, for `python -m backups list|restore
fluxion/<tenant>` to call (backups/cli.py wires it).

A tenant's backup CronJob is `fluxiondb-<id>-backup` in the namespace `fluxiondb-<id>` (components/fluxion_tenant.py):
`backup` (files/backup-volume.sh) archives the claim, `upload` (files/backup-upload.sh) ships it to
`<prefix>/fluxion/<id>/<stamp>.tar.gz` and its manifest. The restore Job is that pod turned around, as backups/jobs.py
turns the databases' around: `fetch` (the upload container running files/restore-fetch.sh: download, sha256 against
the manifest) then `restore` (the backup container running files/restore-volume.sh on the claim, now writable), while
the tenant's Deployment is at 0 pods, so nothing writes the volume meanwhile.
"""

from __future__ import annotations

import copy
import datetime
from collections.abc import Callable
from typing import Any, TextIO

from components.backups import DESTINATIONS
from platform_config.backups import ACCESS_KEY_ID_KEY, SECRET_ACCESS_KEY_KEY, BucketConfig
from platform_config.data_tier import BackupConfig
from platform_config.fluxion import tenant_resource_name

from .kube import Kube
from .store import Backup, Bucket, list_backups, pick

PREFIX = "fluxion/"
# What restore-volume.sh and restore-fetch.sh say on every way out that left the volume as it was.
UNCHANGED = "left unchanged"
DATA_MOUNT = "/data"


def tenant_of(component: str) -> str | None:
    """`fluxion/<id>` -> `<id>`; None for a data tier component."""
    return component.removeprefix(PREFIX) if component.startswith(PREFIX) and len(component) > len(PREFIX) else None


def require_backed_up(stack: str, backup: BackupConfig) -> None:
    """Tenants are backed up only to a bucket (components/fluxion_tenant.py tenant_backup): else LookupError."""
    if not backup.enabled or backup.bucket is None:
        raise LookupError(f"stack {stack} ships no backups to a bucket: its FluxionDB tenants are not backed up")


def namespace(tenant_id: str) -> str:
    return tenant_resource_name(tenant_id)


def tenant_bucket(kube: Kube, config: BucketConfig, source: str = "bucket") -> Bucket:
    """The platform's bucket of `source` (`bucket`, `offsite`), with the keys of the tenant namespace's copy of its
    credentials Secret."""
    secret = DESTINATIONS[source]
    return Bucket(
        config.endpoint,
        config.bucket,
        config.prefix,
        config.region,
        kube.secret_value(secret, ACCESS_KEY_ID_KEY),
        kube.secret_value(secret, SECRET_ACCESS_KEY_KEY),
    )


def list_tenant_backups(bucket: Bucket, tenant_id: str) -> list[Backup]:
    """The tenant's complete backups (object and matching manifest), oldest first."""
    return list_backups(bucket, f"{PREFIX}{tenant_id}")


def _containers(cronjob: dict[str, Any]) -> dict[str, dict[str, Any]]:
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return {c["name"]: c for c in [*pod.get("initContainers", []), *pod.get("containers", [])]}


def _env(container: dict[str, Any], values: dict[str, str]) -> None:
    env = [e for e in container.get("env", []) if e["name"] not in values]
    container["env"] = env + [{"name": k, "value": v} for k, v in values.items()]


def restore_job(
    cronjob: dict[str, Any], name: str, *, tenant_id: str, backup_object: str, force: bool, source: str = "bucket"
) -> dict:
    """The Job restoring `backup_object` from the bucket of `source` (its rclone remote, `BUCKET` or `OFFSITE`, as
    the CronJob configures them) onto the tenant's claim (read-write this time)."""
    containers = _containers(cronjob)
    if "backup" not in containers or "upload" not in containers:
        raise ValueError(f"{cronjob['metadata']['name']} is not a FluxionDB tenant backup CronJob")
    spec = copy.deepcopy(cronjob["spec"]["jobTemplate"]["spec"])
    spec["backoffLimit"] = 0  # a restore that failed is looked at, not retried
    pod = spec["template"]["spec"]
    pod.pop("affinity", None)  # the tenant's pod is stopped: nothing to share a node with
    labels = spec["template"].setdefault("metadata", {}).setdefault("labels", {})
    labels["app.kubernetes.io/component"] = "fluxiondb-restore"
    labels["nexus.io/restore-of"] = namespace(tenant_id)
    restore_file = f"/backups/{PREFIX}{tenant_id}/.restore/{backup_object}"
    fetch = copy.deepcopy(containers["upload"])
    fetch["name"] = "fetch"
    fetch["command"] = ["sh", "/scripts/restore-fetch.sh"]
    _env(fetch, {"SOURCE": source.upper(), "BACKUP_OBJECT": backup_object, "RESTORE_FILE": restore_file})
    restore = copy.deepcopy(containers["backup"])
    restore["name"] = "restore"
    restore["command"] = ["sh", "/scripts/restore-volume.sh"]
    _env(restore, {"RESTORE_FILE": restore_file, "DATA_DIR": DATA_MOUNT, "FORCE": "yes" if force else "no"})
    for mount in restore["volumeMounts"]:
        if mount["name"] == "data":
            mount.pop("readOnly", None)
    for volume in pod["volumes"]:
        if volume["name"] == "data":
            volume["persistentVolumeClaim"].pop("readOnly", None)
    pod["initContainers"], pod["containers"] = [fetch], [restore]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": cronjob["metadata"]["namespace"], "labels": dict(labels)},
        "spec": spec,
    }


def restore_tenant(
    kube: Kube,
    bucket: Bucket,
    tenant_id: str,
    *,
    backup_date: str | None,
    force: bool,
    yes: bool,
    confirm: Callable[[str], bool],
    out: TextIO,
    timeout: float = 3600,
    source: str = "bucket",
) -> int:
    """Restore the newest complete backup of `backup_date` (YYYY-MM-DD; None: the newest) from the bucket of
    `source`: prints the plan, asks,
    scales the tenant's Deployment to 0, runs the restore Job, scales it back. 0 restored, 1 failed, 2 not asked for."""
    release = namespace(tenant_id)
    backup = pick(list_tenant_backups(bucket, tenant_id), backup_date)
    deployment = kube.get("deployment", release)
    replicas = int(deployment["spec"].get("replicas", 1))
    selector = ",".join(f"{k}={v}" for k, v in sorted(deployment["spec"]["selector"]["matchLabels"].items()))
    for line in [
        f"restore FluxionDB tenant {tenant_id}, namespace {release}",
        f"  from:     {backup.object} ({backup.size} bytes, sha256 {backup.sha256[:12]}, {source} {bucket.bucket})",
        f"  into:     its volume (claim {release}-data)",
        "  target:   " + ("REPLACED (--force)" if force else "must hold no data (else refused)"),
        f"  downtime: deployment {release} scaled {replicas} -> 0, restored, scaled back to {replicas}",
    ]:
        print(line, file=out)
    if not yes and not confirm("proceed? [y/N] "):
        print("not restored", file=out)
        return 2
    cronjob = kube.get("cronjob", f"{release}-backup")
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d%H%M%S")
    name = f"{release}-restore-{stamp}"[:63]
    job = restore_job(cronjob, name, tenant_id=tenant_id, backup_object=backup.object, force=force, source=source)
    kube.scale("deployment", release, 0)
    kube.wait_no_pods(selector, timeout)
    kube.create(job)
    ok = kube.wait_job(name, timeout)
    logs = "".join(kube.logs(name, container) for container in ("fetch", "restore"))
    out.write(logs)
    if not ok and UNCHANGED not in logs:
        print(
            f"restore FAILED (kubectl logs job/{name} -n {release}): deployment {release} stays at 0 pods; once "
            f"resolved, `kubectl scale deployment/{release} -n {release} --replicas={replicas}` starts it",
            file=out,
        )
        return 1
    kube.scale("deployment", release, replicas)
    print("restored" if ok else f"not restored, {release} started again on its data as it was", file=out)
    return 0 if ok else 1


def _size(n: int) -> str:
    return f"{n} B" if n < 1024 else f"{n / 1024:.1f} KiB" if n < 2**20 else f"{n / 2**20:.1f} MiB"


def cli_command(
    args: Any,
    backup: BackupConfig,
    kube_factory: Callable[[str], Kube],
    *,
    out: TextIO,
    confirm: Callable[[str], bool],
) -> int | None:
    """`python -m backups list|restore fluxion/<id>` (backups/cli.py main calls this first): None when the command
    names no tenant (the data tier's own commands then run), else its exit code. Errors are the CLI's to report
    (LookupError, KubeError, StoreError). `--source` picks the bucket (`bucket`, default, or `offsite`)."""
    targets = getattr(args, "components", None) or [getattr(args, "component", None) or ""]
    tenant_ids = [tenant_of(t) for t in targets]
    if args.command not in ("list", "restore") or not all(tenant_ids):
        return None
    require_backed_up(args.stack, backup)
    source = getattr(args, "source", None) or "bucket"
    if source not in DESTINATIONS:
        raise ValueError(f"--source {source}: FluxionDB tenants are backed up to buckets only (bucket or offsite)")
    bucket_config = getattr(backup, source)
    if bucket_config is None:
        raise LookupError(f"stack {args.stack} ships no backups to a {source} (dataTier.backup.{source} is unset)")
    for tenant_id in tenant_ids:
        assert tenant_id is not None
        kube = kube_factory(namespace(tenant_id))
        bucket = tenant_bucket(kube, bucket_config, source)
        if args.command == "restore":
            return restore_tenant(
                kube,
                bucket,
                tenant_id,
                backup_date=args.backup_date,
                force=args.force,
                yes=args.yes,
                confirm=confirm,
                out=out,
                timeout=args.timeout,
                source=source,
            )
        backups = list_tenant_backups(bucket, tenant_id)
        print(f"{PREFIX}{tenant_id} ({source} {bucket.bucket}/{bucket.prefix}): {len(backups)} backups", file=out)
        for b in backups:
            print(
                f"  {b.created:%Y-%m-%d %H:%M:%S}Z  {_size(b.size):>10}  {b.object}  sha256 {b.sha256[:12]}", file=out
            )
    return 0
