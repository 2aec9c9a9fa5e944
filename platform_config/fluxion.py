"""Configuration of FluxionDB tenants (issue 6) (`nexus-platform:fluxion`).

A tenant is declared by an id and a RAM size; everything else is derived here, in pure functions the
component, the chart tests and the `tenants` CLI all share:

- namespace and Helm release `fluxiondb-<id>` (so the id may be at most 53 characters);
- memory request = memory limit = RAM (FluxionDB is in-memory: a tenant gets exactly what it pays for);
- storage = 2 x RAM, unless an explicit `storage` keeps it larger (RAM was lowered after storage grew:
  a volume never shrinks);
- CPU, from RAM: request = 500m per GiB of RAM (250m for 512Mi), at most 2 cores; limit = twice the
  request, at least 1 core and at most 4. That reproduces the FluxionDB documentation's defaults
  (512Mi: 250m/1000m), its basic example (1Gi: 500m/1000m) and its premium one (8Gi: 2000m/4000m).

Lifecycle of a tenant entry:
- `deprovisioned: true` stops serving (the chart is removed) but keeps the namespace, volume, API key
  and quota, so provisioning it again brings the same data back;
- removing an entry from the list (by hand) never deletes data: the namespace and volume are retained
  on delete and simply forgotten by Pulumi;
- deleting data takes an explicit `deleteData: true` on a deprovisioned entry, deployed once (the
  volume and namespace lose their retain-on-delete), then the entry's removal deletes them. The
  `tenants deprovision --delete-data` command does both steps.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import ClassVar

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator

from .backups import BucketConfig
from .base import (
    PROJECT,
    ConfigError,
    ImageTag,
    MemoryQuantity,
    StorageSize,
    StrictModel,
    Switchable,
    config_error,
    quantity_to_number,
)
from .monitoring import ScrapeConfig

NAME_PREFIX = "fluxiondb-"
# Namespace and release are `fluxiondb-<id>`; both must fit a 63-character DNS label.
MAX_ID_LENGTH = 63 - len(NAME_PREFIX)
MIN_RAM = "256Mi"
FLUXIONDB_IMAGE = "volandoo/fluxiondb"
# The application version the upstream FluxionDB chart 0.1.0 ships (its appVersion).
FLUXIONDB_TAG = "0.1.0"

_MIB = 2**20
_GIB = 2**30
# Largest suffix first; binary before decimal so 2 x 1Gi reads 2Gi, not 2147483648.
_SUFFIXES = (("Ti", 2**40), ("Gi", _GIB), ("Mi", _MIB), ("T", 10**12), ("G", 10**9), ("M", 10**6), ("Ki", 2**10))


def quantity_bytes(quantity: str) -> int:
    """Bytes of a memory/storage quantity, rounded up as Kubernetes does."""
    return math.ceil(quantity_to_number(quantity))


def format_bytes(amount: int) -> str:
    """A byte count as the shortest exact Kubernetes quantity: 4294967296 -> 4Gi."""
    for suffix, factor in _SUFFIXES:
        if amount % factor == 0:
            return f"{amount // factor}{suffix}"
    return str(amount)


def storage_for_ram(ram: str) -> str:
    """The documented rule: a tenant's volume is twice its RAM."""
    return format_bytes(2 * quantity_bytes(ram))


def cpu_for_ram(ram: str) -> tuple[str, str]:
    """(request, limit) in millicores, derived from RAM by the rule in the module docstring."""
    request = min(math.ceil(Decimal(quantity_bytes(ram)) * 500 / _GIB), 2000)
    limit = min(max(2 * request, 1000), 4000)
    return f"{request}m", f"{limit}m"


def tenant_resource_name(tenant_id: str) -> str:
    """Namespace, Helm release and object-name prefix of a tenant."""
    return f"{NAME_PREFIX}{tenant_id}"


_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _tenant_id(value: str) -> str:
    if len(value) > MAX_ID_LENGTH or not _DNS_LABEL.match(value):
        raise ValueError(
            f"{value!r} is not a valid tenant id: lowercase letters, digits and '-', starting and ending with a "
            f"letter or digit, at most {MAX_ID_LENGTH} characters (the namespace '{NAME_PREFIX}<id>' must be a "
            "63-character DNS label)"
        )
    return value


class FluxionIngress(Switchable):
    """Optional external access: `https://<id>.<domain>` through an Ingress, always with TLS."""

    KEY: ClassVar[str] = "ingress"
    NEEDED_WHEN_ENABLED: ClassVar[dict[str, str]] = {"domain": " (hosts are <id>.<domain>)"}

    domain: str | None = Field(None, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    className: str | None = None
    # e.g. a cert-manager cluster-issuer annotation; the TLS secret is `fluxiondb-<id>-tls`.
    annotations: dict[str, str] = Field(default_factory=dict)


class FluxionImage(StrictModel):
    repository: str = FLUXIONDB_IMAGE
    tag: ImageTag = FLUXIONDB_TAG


class FluxionDefaults(StrictModel):
    """Per-stack settings every tenant shares."""

    storageClass: str | None = None
    # A default-deny policy in each tenant namespace plus the chart's allow rule for clients.
    networkPolicy: bool = False
    # Labels of the namespaces whose pods may connect; empty = every namespace (clients hold the API key).
    clientNamespaceLabels: dict[str, str] = Field(default_factory=dict)
    prometheusAnnotations: bool = False
    # Per tenant, with monitoring.selectorLabels: a ServiceMonitor (monitoring.serviceMonitor) and a PrometheusRule
    # (monitoring.prometheusRule: down, volume nearly full, OOM kills, failed or late backups; its metrics-endpoint
    # alert only with the ServiceMonitor). The rules read kube-state-metrics and the kubelet, so they stand alone.
    monitoring: ScrapeConfig = Field(default_factory=ScrapeConfig)

    flushIntervalSeconds: int = Field(15, ge=1, le=3600, strict=True)
    ingress: FluxionIngress = Field(default_factory=FluxionIngress)
    image: FluxionImage = Field(default_factory=FluxionImage)


class TenantConfig(StrictModel):
    """One tenant: an id and its RAM; the rest is derived (module docstring)."""

    id: str
    ram: MemoryQuantity
    # Only to keep a volume larger than 2 x RAM after RAM was lowered; must be at least 2 x RAM.
    storage: StorageSize | None = None
    # Set with `pulumi config set --secret --path 'fluxion.tenants[N].apiKey'`; generated when absent.
    apiKey: SecretStr | None = None
    # Rotation generation of a generated API key: raising it generates a new key (the Secret changes and the
    # pod rolls); 0, the default, sets no keepers, so tenants that never rotated keep their key.
    apiKeyGeneration: int = Field(0, ge=0, strict=True)
    deprovisioned: bool = False
    deleteData: bool = False

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        return _tenant_id(value)

    @field_validator("ram")
    @classmethod
    def _enough_ram(cls, value: str) -> str:
        if quantity_bytes(value) < quantity_bytes(MIN_RAM):
            raise ValueError(f"{value!r} is below the minimum of {MIN_RAM} a FluxionDB tenant needs")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> TenantConfig:
        minimum = storage_for_ram(self.ram)
        if self.storage is not None and quantity_bytes(self.storage) < quantity_bytes(minimum):
            raise ValueError(
                f"storage ({self.storage}) may not be less than 2 x ram ({minimum}); omit storage to use {minimum}"
            )
        if self.deleteData and not self.deprovisioned:
            raise ValueError("deleteData is only allowed on a deprovisioned tenant (set deprovisioned: true too)")
        return self

    @property
    def name(self) -> str:
        return tenant_resource_name(self.id)

    @property
    def effective_storage(self) -> str:
        return self.storage or storage_for_ram(self.ram)

    @property
    def cpu(self) -> tuple[str, str]:
        return cpu_for_ram(self.ram)

    @property
    def active(self) -> bool:
        return not self.deprovisioned


class FluxionConfig(StrictModel):
    """FluxionDB tenants of this stack, and the defaults they share."""

    defaults: FluxionDefaults = Field(default_factory=FluxionDefaults)
    tenants: list[TenantConfig] = Field(default_factory=list)

    @field_validator("tenants")
    @classmethod
    def _unique_ids(cls, tenants: list[TenantConfig]) -> list[TenantConfig]:
        seen: set[str] = set()
        duplicates = sorted({t.id for t in tenants if t.id in seen or seen.add(t.id)})
        if duplicates:
            raise ValueError(f"tenant ids must be unique; duplicated: {', '.join(duplicates)}")
        return tenants

    def tenant(self, tenant_id: str) -> TenantConfig | None:
        return next((t for t in self.tenants if t.id == tenant_id), None)


# --- Tenant stacks (issue 19): one Pulumi stack per tenant, project tenants/project ------------------------------

TENANT_PROJECT = "fluxion-tenant"
# Platform stack outputs a tenant stack reads through its StackReference: the settings tenants share, and
# (secret, it may hold a kubeconfig) the cluster they deploy to.
SHARED_OUTPUT = "fluxionTenantDefaults"
CLUSTER_OUTPUT = "fluxionTenantCluster"
# (Secret) the backup bucket's keys, {accessKeyId, secretAccessKey}: exported only when tenants are backed up and
# the operator has set them (`dataTier.backup.bucket.accessKeyId` / `.secretAccessKey`).
BACKUP_CREDENTIALS_OUTPUT = "fluxionTenantBackupCredentials"


def tenant_stack_name(platform_stack: str, tenant_id: str) -> str:
    """`<env>-<tenant>`: the tenant stack of `tenant_id` next to platform stack `platform_stack` (e.g. dev)."""
    return f"{platform_stack}-{tenant_id}"


class TenantBackupShared(StrictModel):
    """`fluxionTenantDefaults.backup`: the schedule, retention and bucket of the platform's `dataTier.backup`, which
    tenants' backups follow; the bucket and off-site bucket without their keys (BACKUP_CREDENTIALS_OUTPUT, a
    secret, carries them)."""

    schedule: str
    retentionDays: int | None = None
    bucket: BucketConfig
    offsite: BucketConfig | None = None

    @field_validator("bucket", "offsite")
    @classmethod
    def _no_keys(cls, bucket: BucketConfig | None) -> BucketConfig | None:
        if bucket is not None and bucket.has_credentials:
            raise ValueError("the buckets' keys travel only in the secret output " + BACKUP_CREDENTIALS_OUTPUT)
        return bucket


class TenantShared(StrictModel):
    """What the platform stack exports for its tenant stacks (`fluxionTenantDefaults`)."""

    environment: str
    platformStack: str
    deleteDataOnDestroy: bool = False
    defaults: FluxionDefaults = Field(default_factory=FluxionDefaults)
    # None: tenants are not backed up (backups off, or no bucket: dev).
    backup: TenantBackupShared | None = None


def load_tenant_stack_config(raw: dict) -> TenantStackConfig:
    """Validate a tenant stack's config; errors name its keys as `fluxion-tenant:<key>` (config_error's
    wording, with this project's prefix rather than the platform's)."""
    try:
        return TenantStackConfig.model_validate(raw)
    except ValidationError as error:
        message = str(config_error("", error)).replace(f"{PROJECT}:", f"{TENANT_PROJECT}:")
        raise ConfigError(message) from None


class TenantStackConfig(StrictModel):
    """A tenant stack's config (`fluxion-tenant:*`, declared in tenants/project/Pulumi.yaml). The API key is a
    top-level secret (`fluxion-tenant:apiKey`), read as a secret Output and never part of this model."""

    # Fully qualified platform stack to read shared settings from, e.g. organization/nexus-platform/dev.
    platformStack: str = Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
    tenant: TenantConfig

    @field_validator("tenant")
    @classmethod
    def _key_not_in_plain_config(cls, tenant: TenantConfig) -> TenantConfig:
        if tenant.apiKey is not None:
            raise ValueError("apiKey: set it as the secret fluxion-tenant:apiKey, never inside the plain tenant object")
        return tenant
