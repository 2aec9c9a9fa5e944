"""Backup destinations of the data tier: the chart values that point the backup CronJobs at the stack's
buckets, and the Secrets holding the buckets' credentials (platform_config/backups.py, docs/backups.md).

The credentials are operator-set Pulumi secrets. Each bucket gets a Secret of its own
(`backup-bucket-credentials`, `backup-offsite-credentials`), read only by the backup pods' upload container
and the restore Jobs' fetch container: the chart is handed the Secret's name, never a key, so no credential
reaches the Chart resource's inputs, a ConfigMap or an argv.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from platform_config.backups import (
    ACCESS_KEY_ID_KEY,
    BUCKET_SECRET,
    OFFSITE_SECRET,
    SECRET_ACCESS_KEY_KEY,
    BucketConfig,
)
from platform_config.data_tier import BackupConfig

from .helm import CHARTS_DIR
from .kubernetes import TLS_CA_DIR, TLS_CA_FILE, ca_only_volume
from .secrets import as_secret, opaque_secret, secret_checksum

# The config key of each destination and the Secret the chart's pods read it from.
DESTINATIONS = {"bucket": BUCKET_SECRET, "offsite": OFFSITE_SECRET}


def _destination(bucket: BucketConfig | None, secret: str) -> dict[str, Any]:
    if bucket is None:
        return {"enabled": False}
    return {
        "enabled": True,
        "endpoint": bucket.endpoint,
        "bucket": bucket.bucket,
        "prefix": bucket.prefix,
        "region": bucket.region,
        "serverSideEncryption": bucket.serverSideEncryption,
        "existingSecret": secret,
    }


def destination_values(backup: BackupConfig) -> dict[str, Any]:
    """The chart's `backup.bucket` and `backup.offsite` values (charts/nexus-database/values.yaml)."""
    return {key: _destination(getattr(backup, key), secret) for key, secret in DESTINATIONS.items()}


def point_in_time_certificate(component: str) -> str:
    """The certificate of a PostgreSQL database's pgBackRest connection (its common name; Secret `<name>-tls`): the
    pgBackRest server in the database's pods presents it, and admits only the backup Job presenting it too
    (charts/nexus-database `nexus-database.pitr.certificate`)."""
    return f"{component}-pgbackrest"


def point_in_time_values(backup: BackupConfig) -> dict[str, Any]:
    """The chart's `backup.pointInTime` values (charts/nexus-database/values.yaml)."""
    pitr = backup.pointInTime
    if not pitr.enabled:
        return {"enabled": False}
    return {
        "enabled": True,
        "image": {"repository": pitr.image.repository, "tag": pitr.image.tag, "pullPolicy": "IfNotPresent"},
        "archiveTimeout": pitr.archiveTimeoutSeconds,
    }


def bucket_credentials(
    resource_prefix: str,
    backup: BackupConfig,
    *,
    namespace: pulumi.Input[str],
    labels: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> tuple[list[k8s.core.v1.Secret], dict[str, pulumi.Output[str]]]:
    """One Secret per configured bucket that has credentials, and their checksums by Secret name (for the
    chart's `secretChecksums`, so the backup pods pick up rotated keys). A bucket without credentials is
    warned about: its backup Jobs cannot start until the operator sets them."""
    secrets: list[k8s.core.v1.Secret] = []
    checksums: dict[str, pulumi.Output[str]] = {}
    if not backup.enabled:
        return secrets, checksums
    for key, name in DESTINATIONS.items():
        bucket: BucketConfig | None = getattr(backup, key)
        if bucket is None:
            continue
        if not bucket.has_credentials:
            pulumi.log.warn(
                f"dataTier.backup.{key} ({bucket.bucket}) has no credentials: the backup Jobs cannot ship to it "
                f"(their pods wait for Secret {name}). Set them with `pulumi config set --secret --path "
                f"dataTier.backup.{key}.accessKeyId` and `... dataTier.backup.{key}.secretAccessKey`."
            )
            continue
        assert bucket.accessKeyId is not None and bucket.secretAccessKey is not None
        data = {
            ACCESS_KEY_ID_KEY: as_secret(bucket.accessKeyId.get_secret_value()),
            SECRET_ACCESS_KEY_KEY: as_secret(bucket.secretAccessKey.get_secret_value()),
        }
        checksums[name] = secret_checksum(data)
        secrets.append(
            opaque_secret(
                f"{resource_prefix}-{name}", name=name, namespace=namespace, labels=labels, data=data, opts=opts
            )
        )
    return secrets, checksums


# --- The Bitnami cluster's logical dumps (postgresClusters.<name>; docs/backups.md "The Bitnami cluster") --------
# The pod label the CLI and the late-backup alert rules select backup pods by (charts/nexus-database backup.yaml).
BACKUP_OF_LABEL = "nexus.io/backup-of"
# The scripts' one home: the data tier chart's files, in a ConfigMap of the cluster's namespace (they hold no secret).
BACKUP_SCRIPTS_DIR = CHARTS_DIR / "nexus-database" / "files"
CLUSTER_BACKUP_SCRIPTS = (
    "backup-common.sh",
    "backup-postgres.sh",
    "backup-upload.sh",
    # The restore Job the CLI builds from this CronJob (backups/jobs.py) runs these two.
    "restore-fetch.sh",
    "restore-postgres.sh",
)
UPLOADER_IMAGE = "docker.io/rclone/rclone:1.60.1"
BACKUP_RESOURCES = {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}}
HARDENED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
}


def cluster_backup_scripts() -> dict[str, str]:
    return {name: (BACKUP_SCRIPTS_DIR / name).read_text() for name in CLUSTER_BACKUP_SCRIPTS}


def remote_env(bucket: BucketConfig, remote: str, secret: str) -> list[dict[str, Any]]:
    """rclone's remote `remote` as charts/nexus-database `nexus-database.backupRemotes` configures it: environment
    only, the keys by secretKeyRef from `secret` in the pod's namespace."""
    prefix = f"RCLONE_CONFIG_{remote}_"
    env: list[dict[str, Any]] = [
        {"name": f"{prefix}TYPE", "value": "s3"},
        {"name": f"{prefix}PROVIDER", "value": "Other"},
        {"name": f"{prefix}ENDPOINT", "value": bucket.endpoint},
        {"name": f"{prefix}REGION", "value": bucket.region},
        {"name": f"{prefix}FORCE_PATH_STYLE", "value": "true"},
    ]
    if bucket.serverSideEncryption:
        env.append({"name": f"{prefix}SERVER_SIDE_ENCRYPTION", "value": "AES256"})
    for name, key in (("ACCESS_KEY_ID", ACCESS_KEY_ID_KEY), ("SECRET_ACCESS_KEY", SECRET_ACCESS_KEY_KEY)):
        env.append({"name": f"{prefix}{name}", "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}})
    return [*env, {"name": f"{remote}_PATH", "value": f"{bucket.bucket}/{bucket.prefix}"}]


@dataclass(frozen=True)
class ClusterBackup:
    """What one PostgreSQL server's backup CronJob dumps: `component` (the CronJob `<component>-backup`, the key
    `<prefix>/<component>/` in the buckets), its primary's host, its database, the Secret and key of the admin
    password, the image whose pg_dump runs and its user, and the Secret whose ca.crt verifies the server (TLS on)."""

    component: str
    host: str
    database: str
    password_secret: str
    password_key: str
    image: str
    uid: int
    ca_secret: str | None = None


def cluster_backup_cronjob_spec(target: ClusterBackup, backup: BackupConfig) -> dict[str, Any]:
    """The CronJob spec: `backup` (init container: backup-postgres.sh, pg_dump of the database from the primary onto
    a scratch volume, `.partial` until it exited 0) then `upload` (backup-upload.sh: object, its manifest, retention)
    to every configured bucket. Bucket only: see docs/backups.md (dev ships to no bucket, so it gets no CronJob)."""
    remotes = [(key.upper(), getattr(backup, key), secret) for key, secret in DESTINATIONS.items()]
    remotes = [(remote, bucket, secret) for remote, bucket, secret in remotes if bucket is not None]
    common = [
        {"name": "TARGET", "value": target.component},
        {"name": "RETENTION_DAYS", "value": str(backup.retentionDays or "")},
        {"name": "HOME", "value": "/tmp"},
    ]
    scratch = [
        {"name": "backups", "mountPath": "/backups"},
        {"name": "tmp", "mountPath": "/tmp"},
        {"name": "scripts", "mountPath": "/scripts", "readOnly": True},
    ]
    tls_env = [{"name": "TLS_CA_FILE", "value": TLS_CA_FILE}] if target.ca_secret else []
    tls_mounts = [{"name": "tls-ca", "mountPath": TLS_CA_DIR, "readOnly": True}] if target.ca_secret else []
    dump = {
        "name": "backup",
        "image": target.image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["bash", "/scripts/backup-postgres.sh"],
        "env": [
            *common,
            {"name": "HOST", "value": target.host},
            {"name": "DATABASE", "value": target.database},
            {
                "name": "POSTGRES_PASSWORD",
                "valueFrom": {"secretKeyRef": {"name": target.password_secret, "key": target.password_key}},
            },
            *tls_env,
        ],
        "resources": BACKUP_RESOURCES,
        "securityContext": HARDENED_CONTAINER,
        "volumeMounts": [*scratch, *tls_mounts],
    }
    upload_env = [env for remote, bucket, secret in remotes for env in remote_env(bucket, remote, secret)]
    upload = {
        "name": "upload",
        "image": UPLOADER_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "command": ["sh", "/scripts/backup-upload.sh"],
        "env": [
            *common,
            *upload_env,
            {"name": "REMOTES", "value": " ".join(remote for remote, _, _ in remotes)},
            {"name": "RCLONE_CONFIG", "value": "/tmp/rclone.conf"},
        ],
        "resources": BACKUP_RESOURCES,
        "securityContext": HARDENED_CONTAINER,
        "volumeMounts": scratch,
    }
    volumes: list[dict[str, Any]] = [
        {"name": "backups", "emptyDir": {}},
        {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}},
        {"name": "scripts", "configMap": {"name": f"{target.component}-backup-scripts", "defaultMode": 0o555}},
    ]
    if target.ca_secret:
        volumes.append(ca_only_volume("tls-ca", target.ca_secret))
    pod = {
        "serviceAccountName": f"{target.component}-backup",
        "restartPolicy": "Never",
        "enableServiceLinks": False,
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsUser": target.uid,
            "runAsGroup": target.uid,
            "fsGroup": target.uid,
            "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "initContainers": [dump],
        "containers": [upload],
        "volumes": volumes,
    }
    labels = {BACKUP_OF_LABEL: target.component, "app.kubernetes.io/component": f"{target.component}-backup"}
    return backup_cronjob(backup.schedule, labels, pod)


def backup_cronjob(schedule: str, labels: dict[str, str], pod: dict[str, Any]) -> dict[str, Any]:
    """A backup CronJob's spec around its pod, as charts/nexus-database backup.yaml makes the data tier's: UTC, one
    run at a time, three runs of each outcome kept, two retries, six hours at most."""
    return {
        "schedule": schedule,
        "timeZone": "Etc/UTC",
        "concurrencyPolicy": "Forbid",
        "successfulJobsHistoryLimit": 3,
        "failedJobsHistoryLimit": 3,
        "jobTemplate": {
            "spec": {
                "backoffLimit": 2,
                "activeDeadlineSeconds": 21600,
                "template": {"metadata": {"labels": labels}, "spec": pod},
            }
        },
    }


def has_cluster_backup(backup: BackupConfig) -> bool:
    """Whether `cluster_backup` makes a CronJob: backups on and a bucket named (dev has none: see docs/backups.md)."""
    return backup.enabled and backup.bucket is not None


def cluster_backup(
    resource_prefix: str,
    target: ClusterBackup,
    backup: BackupConfig,
    *,
    namespace: pulumi.Input[str],
    labels: dict[str, str],
    depends_on: list[pulumi.Resource],
    opts: pulumi.ResourceOptions,
) -> k8s.batch.v1.CronJob | None:
    """The backup CronJob `<component>-backup` of a server outside the data tier chart, in its own namespace, with
    its scripts' ConfigMap, its ServiceAccount (no token) and the namespace's copy of the buckets' credentials
    (`bucket_credentials`, the same Secrets the data namespace gets). None when backups are off or no bucket is
    named (dev: see docs/backups.md)."""
    if not has_cluster_backup(backup):
        return None
    component = target.component

    def meta(name: str) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace, labels=dict(labels))

    scripts = k8s.core.v1.ConfigMap(
        f"{resource_prefix}-backup-scripts",
        metadata=meta(f"{component}-backup-scripts"),
        data=cluster_backup_scripts(),
        opts=opts,
    )
    account = k8s.core.v1.ServiceAccount(
        f"{resource_prefix}-backup-account",
        metadata=meta(f"{component}-backup"),
        automount_service_account_token=False,
        opts=opts,
    )
    secrets, _ = bucket_credentials(resource_prefix, backup, namespace=namespace, labels=labels, opts=opts)
    return k8s.batch.v1.CronJob(
        f"{resource_prefix}-backup",
        metadata=meta(f"{component}-backup"),
        spec=cluster_backup_cronjob_spec(target, backup),
        opts=pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(depends_on=[scripts, account, *secrets, *depends_on])
        ),
    )
