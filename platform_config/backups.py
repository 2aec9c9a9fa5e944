"""Where backups go (`nexus-platform:dataTier.backup.bucket` and `.offsite`): an S3-compatible bucket.

Every backup is first written to the database's backup volume (the `local` destination, the only one in
dev); a stack that names a `bucket` also ships each completed backup there, and one that names an
`offsite` bucket too (prod: another provider or region, so losing one cannot lose both). The retention
(`dataTier.backup.retentionDays`) applies to the volume and to every bucket.

The bucket's credentials are Pulumi secrets of the stack, set by the operator (the bucket's provider issues
them; nothing here can generate them):

    pulumi config set --secret --path dataTier.backup.bucket.accessKeyId
    pulumi config set --secret --path dataTier.backup.bucket.secretAccessKey

The component puts them into a Secret of their own (`backup-bucket-credentials`, `backup-offsite-credentials`)
that only the backup and restore pods read; the chart receives the Secret's name, never a credential.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, SecretStr, model_validator

from .base import StrictModel

# S3 bucket names: 3-63 lowercase letters, digits, dots and hyphens, starting and ending alphanumeric.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_ENDPOINT = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?/?$")
_PREFIX = re.compile(r"^([A-Za-z0-9._-]+/)*[A-Za-z0-9._-]+$")
_REGION = re.compile(r"^[a-z0-9-]{2,32}$")


def _matches(pattern: re.Pattern[str], allowed: str):
    def check(value: str) -> str:
        if not pattern.match(value):
            raise ValueError(f"{value!r} is not {allowed}")
        return value

    return AfterValidator(check)


Endpoint = Annotated[
    str, _matches(_ENDPOINT, "an http(s)://host[:port] URL such as https://s3.eu-central-1.amazonaws.com")
]
BucketName = Annotated[str, _matches(_BUCKET, "an S3 bucket name (3-63 of a-z, 0-9, '.', '-')")]
Prefix = Annotated[str, _matches(_PREFIX, "a key prefix such as nexus/prod (no leading or trailing '/')")]
Region = Annotated[str, _matches(_REGION, "a region name such as eu-central-1")]


class BucketConfig(StrictModel):
    """One S3-compatible bucket. Objects are `<prefix>/<database>/<stamp>.<ext>` plus a manifest each."""

    endpoint: Endpoint
    bucket: BucketName
    prefix: Prefix = "nexus"
    region: Region = "us-east-1"
    # Ask the store to encrypt each object at rest (S3 `x-amz-server-side-encryption: AES256`).
    serverSideEncryption: bool = True
    # Operator-set Pulumi secrets (see the module docstring). Unset, the component warns and the backup
    # Jobs fail (their Secret is missing), which the backup alerts report.
    accessKeyId: SecretStr | None = None
    secretAccessKey: SecretStr | None = None

    @model_validator(mode="after")
    def _both_keys_or_neither(self) -> BucketConfig:
        if (self.accessKeyId is None) != (self.secretAccessKey is None):
            missing = "accessKeyId" if self.accessKeyId is None else "secretAccessKey"
            raise ValueError(f"{missing} is not set: set both accessKeyId and secretAccessKey, or neither")
        return self

    @property
    def has_credentials(self) -> bool:
        return self.accessKeyId is not None


# Secret names and keys the chart's backup and restore pods read (charts/nexus-database/values.yaml).
BUCKET_SECRET = "backup-bucket-credentials"
OFFSITE_SECRET = "backup-offsite-credentials"
ACCESS_KEY_ID_KEY = "access-key-id"
SECRET_ACCESS_KEY_KEY = "secret-access-key"
