"""Backup destinations of the data tier: the chart values that point the backup CronJobs at the stack's
buckets, and the Secrets holding the buckets' credentials (platform_config/backups.py, docs/backups.md).

The credentials are operator-set Pulumi secrets. Each bucket gets a Secret of its own
(`backup-bucket-credentials`, `backup-offsite-credentials`), read only by the backup pods' upload container
and the restore Jobs' fetch container: the chart is handed the Secret's name, never a key, so no credential
reaches the Chart resource's inputs, a ConfigMap or an argv.
"""

from __future__ import annotations

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
