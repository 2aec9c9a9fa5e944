"""FluxionTenant: one FluxionDB instance (our chart `charts/fluxiondb`) in its own namespace, per tenant.

What the component owns, and why it owns it rather than the chart:
- the namespace `fluxiondb-<id>`, with a ResourceQuota and LimitRange sized from the tenant's RAM, and
  (when the stack asks for network policies) a default-deny NetworkPolicy, so the namespace keeps one
  even while the tenant is deprovisioned;
- the PersistentVolumeClaim, handed to the chart as `persistence.existingClaim`: growing RAM grows the
  claim in place (pulumi-kubernetes patches `spec.resources`, the storage class expands the volume), a
  StorageGuard refuses a shrink at preview, and the claim and namespace are retained on delete, so
  removing a tenant from the stack never deletes its data unless the tenant says `deleteData: true`
  (or the stack says `deleteDataOnDestroy: true`);
- the API key (operator-supplied or generated) in a Secret handed to the chart by name, so the key is
  never a chart value;
- when the stack ships backups to a bucket (`TenantBackup`), a backup CronJob `<tenant>-backup` that archives the
  claim (mounted read-only) and uploads it with the data tier's `backup-upload.sh` to
  `<prefix>/fluxion/<id>/<stamp>.tar.gz` plus its manifest, a copy of the bucket's credentials Secret in the
  tenant's namespace, and (with network policies) the egress its pods need (docs/backups.md "FluxionDB tenants").
A deprovisioned tenant keeps all of that but the backup CronJob; only the chart (Deployment, Service, Ingress) goes
away.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

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
from platform_config.fluxion import (
    FluxionDefaults,
    TenantBackupShared,
    TenantConfig,
    TenantShared,
    format_bytes,
    quantity_bytes,
)
from platform_config.kubernetes import KubernetesTarget

from .backups import (
    BACKUP_OF_LABEL,
    BACKUP_RESOURCES,
    BACKUP_SCRIPTS_DIR,
    DESTINATIONS,
    HARDENED_CONTAINER,
    UPLOADER_IMAGE,
    backup_cronjob,
    remote_env,
)
from .helm import deploy_chart, local_chart
from .kubernetes import create_namespace, service_host, standard_labels
from .outputs import Exported, Exporting
from .secrets import as_secret, opaque_secret, password_or_generated, secret_checksum
from .storage import StorageGuard

COMPONENT = "fluxiondb"
FLUXIONDB_PORT = 8080
# Key of the API key inside the tenant's Secret (the chart's `secret.key`).
API_KEY_SECRET_KEY = "secret-key"
TENANT_LABEL = "nexus-platform/fluxion-tenant"


# --- Backups of the tenant's volume (issue 17) ---------------------------------------------------------------
# The scripts, from their one home (the data tier chart's files), in a ConfigMap of the tenant's namespace.
BACKUP_SCRIPTS = ("backup-volume.sh", "backup-upload.sh", "restore-fetch.sh", "restore-volume.sh")
# rclone's image (UPLOADER_IMAGE) runs both containers: its busybox has tar and gzip but no zstd, so .tar.gz.
BACKUP_COMPRESSION = "gzip"
# The FluxionDB image's user (charts/fluxiondb values podSecurityContext): the backup pod reads and the restore Job
# writes the volume as that user.
FLUXIONDB_UID = 10001
DATA_MOUNT = "/data"


@dataclass(frozen=True)
class TenantBackup:
    """What a tenant's backup CronJob needs from the platform: `dataTier.backup`'s schedule and retention, its
    bucket (endpoint, bucket, prefix, region, SSE flag) and off-site bucket if any (each backup goes to both, as the
    data tier's do), and their keys as Pulumi secrets (None: not set yet; the pods then wait for their Secret, as
    the data tier's do)."""

    schedule: str
    retention_days: int | None
    bucket: BucketConfig
    access_key_id: pulumi.Input[str] | None = None
    secret_access_key: pulumi.Input[str] | None = None
    offsite: BucketConfig | None = None
    offsite_access_key_id: pulumi.Input[str] | None = None
    offsite_secret_access_key: pulumi.Input[str] | None = None

    def destinations(self) -> list[tuple[str, BucketConfig, str]]:
        """(rclone remote, bucket, the namespace's Secret of its keys) of each bucket a backup goes to, named as
        the data tier's (components/backups.py DESTINATIONS)."""
        buckets = {"bucket": self.bucket, "offsite": self.offsite}
        return [(key.upper(), buckets[key], secret) for key, secret in DESTINATIONS.items() if buckets[key]]

    def keys(self) -> dict[str, tuple[pulumi.Input[str], pulumi.Input[str]] | None]:
        """Each destination's Secret name -> its (access key id, secret access key), None while not set."""
        pairs = {
            BUCKET_SECRET: (self.access_key_id, self.secret_access_key),
            OFFSITE_SECRET: (self.offsite_access_key_id, self.offsite_secret_access_key),
        }
        keys: dict[str, tuple[pulumi.Input[str], pulumi.Input[str]] | None] = {}
        for _, _, secret in self.destinations():
            key_id, key = pairs[secret]
            keys[secret] = (key_id, key) if key_id is not None and key is not None else None
        return keys


def tenant_backup(backup: BackupConfig) -> TenantBackup | None:
    """The platform's backup settings as a tenant's, or None when tenants are not backed up: backups off, or no
    bucket (dev). Bucket only: a backup volume in the tenant's namespace would need a second claim the tenant's
    quota refuses, and would sit next to the data it protects."""
    if not backup.enabled or backup.bucket is None:
        return None

    def secret(value) -> pulumi.Output[str] | None:
        return as_secret(value.get_secret_value()) if value else None

    bucket, offsite = backup.bucket, backup.offsite
    return TenantBackup(
        schedule=backup.schedule,
        retention_days=backup.retentionDays,
        bucket=bucket,
        access_key_id=secret(bucket.accessKeyId),
        secret_access_key=secret(bucket.secretAccessKey),
        offsite=offsite,
        offsite_access_key_id=secret(offsite.accessKeyId) if offsite else None,
        offsite_secret_access_key=secret(offsite.secretAccessKey) if offsite else None,
    )


def shared_backup(backup: BackupConfig) -> TenantBackupShared | None:
    """`fluxionTenantDefaults.backup`: `tenant_backup`'s settings as tenant stacks read them, the bucket's keys left
    out (they are `tenant_backup_credentials`, a secret output)."""
    if tenant_backup(backup) is None:
        return None
    assert backup.bucket is not None
    keyless = {"accessKeyId": None, "secretAccessKey": None}
    return TenantBackupShared(
        schedule=backup.schedule,
        retentionDays=backup.retentionDays,
        bucket=backup.bucket.model_copy(update=keyless),
        offsite=backup.offsite.model_copy(update=keyless) if backup.offsite else None,
    )


def tenant_backup_credentials(backup: BackupConfig) -> pulumi.Output[dict[str, str]] | None:
    """The platform's `fluxionTenantBackupCredentials` output: the bucket's keys (and the off-site bucket's, once
    set, as `offsiteAccessKeyId`/`offsiteSecretAccessKey`), a Pulumi secret, for tenant stacks to copy into their
    namespace; None when tenants are not backed up or the bucket's keys are not set yet."""
    if tenant_backup(backup) is None or backup.bucket is None or not backup.bucket.has_credentials:
        return None
    keys: dict[str, str] = {}
    for prefix, bucket in (("", backup.bucket), ("offsite", backup.offsite)):
        if bucket is not None and bucket.has_credentials:
            assert bucket.accessKeyId is not None and bucket.secretAccessKey is not None
            keys[credential_key(prefix, "accessKeyId")] = bucket.accessKeyId.get_secret_value()
            keys[credential_key(prefix, "secretAccessKey")] = bucket.secretAccessKey.get_secret_value()
    return pulumi.Output.secret(keys)


def credential_key(prefix: str, key: str) -> str:
    """`accessKeyId`, or with prefix `offsite`, `offsiteAccessKeyId` (the credentials output's keys)."""
    return f"{prefix}{key[0].upper()}{key[1:]}" if prefix else key


def backup_from_platform(
    shared: TenantBackupShared | None, credentials: Mapping[str, str] | None
) -> TenantBackup | None:
    """A tenant stack's TenantBackup, from the platform's `fluxionTenantDefaults.backup` and the keys of its secret
    output `fluxionTenantBackupCredentials` (read by the tenant program; each wrapped as a Pulumi secret here)."""
    if shared is None:
        return None
    given = credentials or {}

    def key(prefix: str, name: str) -> pulumi.Output[str] | None:
        value = given.get(credential_key(prefix, name))
        return as_secret(value) if value else None

    return TenantBackup(
        schedule=shared.schedule,
        retention_days=shared.retentionDays,
        bucket=shared.bucket,
        access_key_id=key("", "accessKeyId"),
        secret_access_key=key("", "secretAccessKey"),
        offsite=shared.offsite,
        offsite_access_key_id=key("offsite", "accessKeyId") if shared.offsite else None,
        offsite_secret_access_key=key("offsite", "secretAccessKey") if shared.offsite else None,
    )


def backup_target(tenant: TenantConfig) -> str:
    """Where a tenant's backups are in the bucket, under its prefix (`TARGET` of the scripts)."""
    return f"fluxion/{tenant.id}"


def backup_scripts() -> dict[str, str]:
    return {name: (BACKUP_SCRIPTS_DIR / name).read_text() for name in BACKUP_SCRIPTS}


def bucket_port(bucket: BucketConfig) -> int:
    url = urlparse(bucket.endpoint)
    return url.port or (443 if url.scheme == "https" else 80)


def backup_cronjob_name(tenant: TenantConfig) -> str:
    """The backup CronJob, named in the chart's alert rules (metrics.prometheusRule.backupCronJob)."""
    return f"{tenant.name}-backup"


def backup_service_account(tenant: TenantConfig) -> str:
    """The backup and restore pods' own ServiceAccount (no token, no RBAC: they never talk to the API)."""
    return f"{tenant.name}-backup"


def backup_pod_labels(tenant: TenantConfig) -> dict[str, str]:
    return standard_labels(f"{COMPONENT}-backup", {BACKUP_OF_LABEL: tenant.name})


def _remote_env(backup: TenantBackup) -> list[dict[str, Any]]:
    """rclone's remotes BUCKET and (off-site) OFFSITE (`remote_env`), the keys from the namespace's copies of the
    credentials Secrets."""
    destinations = backup.destinations()
    return [
        *(env for remote, bucket, secret in destinations for env in remote_env(bucket, remote, secret)),
        {"name": "REMOTES", "value": " ".join(remote for remote, _, _ in destinations)},
        {"name": "RCLONE_CONFIG", "value": "/tmp/rclone.conf"},
    ]


def _container(name: str, script: str, env: list[dict[str, Any]], mounts: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": name,
        "image": UPLOADER_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "command": ["sh", f"/scripts/{script}"],
        "env": [*env, {"name": "HOME", "value": "/tmp"}],
        "resources": BACKUP_RESOURCES,
        "securityContext": HARDENED_CONTAINER,
        "volumeMounts": mounts,
    }


def backup_cronjob_spec(tenant: TenantConfig, backup: TenantBackup) -> dict[str, Any]:
    """The backup CronJob's spec: `backup` (init container: backup-volume.sh archives the claim, mounted read-only,
    onto a scratch volume) then `upload` (backup-upload.sh: object, then its manifest with size and sha256, then
    retention), both in rclone's image. The pod runs on the tenant pod's node (required pod affinity): the claim is
    ReadWriteOnce, which lets pods of one node share it."""
    common = [
        {"name": "TARGET", "value": backup_target(tenant)},
        {"name": "RETENTION_DAYS", "value": str(backup.retention_days or "")},
    ]
    scratch = [
        {"name": "backups", "mountPath": "/backups"},
        {"name": "tmp", "mountPath": "/tmp"},
        {"name": "scripts", "mountPath": "/scripts", "readOnly": True},
    ]
    archive = _container(
        "backup",
        "backup-volume.sh",
        [*common, {"name": "SOURCE_DIR", "value": DATA_MOUNT}, {"name": "COMPRESSION", "value": BACKUP_COMPRESSION}],
        [{"name": "data", "mountPath": DATA_MOUNT, "readOnly": True}, *scratch],
    )
    upload = _container("upload", "backup-upload.sh", [*common, *_remote_env(backup)], scratch)
    tenant_pod = {"matchLabels": {TENANT_LABEL: tenant.id, "app.kubernetes.io/instance": tenant.name}}
    pod = {
        "serviceAccountName": backup_service_account(tenant),
        "restartPolicy": "Never",
        "enableServiceLinks": False,
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsUser": FLUXIONDB_UID,
            "runAsGroup": FLUXIONDB_UID,
            "fsGroup": FLUXIONDB_UID,
            "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "affinity": {
            "podAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": tenant_pod, "topologyKey": "kubernetes.io/hostname"}
                ]
            }
        },
        "initContainers": [archive],
        "containers": [upload],
        "volumes": [
            {"name": "data", "persistentVolumeClaim": {"claimName": claim_name(tenant), "readOnly": True}},
            # The archive: at most the volume's size; on the node's disk, gone with the pod.
            {"name": "backups", "emptyDir": {"sizeLimit": tenant.effective_storage}},
            {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}},
            {"name": "scripts", "configMap": {"name": f"{tenant.name}-backup-scripts", "defaultMode": 0o555}},
        ],
    }
    return backup_cronjob(backup.schedule, backup_pod_labels(tenant), pod)


def backup_egress(tenant: TenantConfig, backup: TenantBackup) -> dict[str, Any]:
    """The NetworkPolicy spec letting the backup and restore pods past the namespace's default-deny: DNS, and the
    buckets' ports (to any address: a policy cannot name a host, so the port is the narrowest rule)."""
    ports = sorted({bucket_port(bucket) for _, bucket, _ in backup.destinations()})
    return {
        "podSelector": {"matchLabels": {BACKUP_OF_LABEL: tenant.name}},
        "policyTypes": ["Egress"],
        "egress": [
            {"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
            {
                "to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}, {"namespaceSelector": {}}],
                "ports": [{"protocol": "TCP", "port": port} for port in ports],
            },
        ],
    }


@dataclass(frozen=True)
class FluxionTenantArgs:
    tenant: TenantConfig
    defaults: FluxionDefaults
    delete_data_on_destroy: bool = False
    # A tenant stack's API key (its secret config `fluxion-tenant:apiKey`), instead of `tenant.apiKey`.
    api_key: pulumi.Input[str] | None = None
    # Backups of the tenant's volume (`tenant_backup`); None: not backed up.
    backup: TenantBackup | None = None


def tenant_shared(config: Any, platform_stack: str) -> dict[str, Any]:
    """The platform's `fluxionTenantDefaults` output (platform_config.fluxion.TenantShared) for `config`, a
    PlatformConfig: the one home of what tenant stacks share is the platform stack's `fluxion.defaults`."""
    return TenantShared(
        environment=config.environment.value,
        platformStack=platform_stack,
        deleteDataOnDestroy=config.deleteDataOnDestroy,
        defaults=config.fluxion.defaults,
        backup=shared_backup(config.dataTier.backup),
    ).model_dump(mode="json")


def tenant_cluster(target: KubernetesTarget) -> dict[str, str | None]:
    """The platform's `fluxionTenantCluster` output: the cluster tenant stacks deploy to, exactly the platform's
    provider settings (render mode included), so a tenant's provider is the one its resources had in the platform
    stack and moving them there (`tenants migrate`) changes nothing."""
    return target.model_dump(mode="json")


def keeps_data(tenant: TenantConfig, delete_data_on_destroy: bool) -> bool:
    """Whether the claim and namespace outlive their removal from the program (retain on delete)."""
    return not (delete_data_on_destroy or tenant.deleteData)


def claim_name(tenant: TenantConfig) -> str:
    return f"{tenant.name}-data"


def secret_name(tenant: TenantConfig) -> str:
    return f"{tenant.name}-api-key"


def in_cluster_host(tenant: TenantConfig) -> str:
    """The chart's Service is named after the release (`fluxiondb-<id>`), in the namespace of the same name."""
    return service_host(tenant.name, tenant.name)


def external_host(tenant: TenantConfig, defaults: FluxionDefaults) -> str | None:
    return f"{tenant.id}.{defaults.ingress.domain}" if defaults.ingress.enabled else None


def container_resources(tenant: TenantConfig) -> dict[str, dict[str, str]]:
    """Memory request = limit = RAM; CPU from the documented rule (platform_config.fluxion.cpu_for_ram)."""
    cpu_request, cpu_limit = tenant.cpu
    return {
        "requests": {"cpu": cpu_request, "memory": tenant.ram},
        "limits": {"cpu": cpu_limit, "memory": tenant.ram},
    }


def _plus(quantity: str, extra: str | None) -> str:
    if extra is None:
        return quantity
    if quantity.endswith("m") and extra.endswith("m"):
        return f"{int(quantity[:-1]) + int(extra[:-1])}m"
    return format_bytes(quantity_bytes(quantity) + quantity_bytes(extra))


def quota_hard(tenant: TenantConfig, backed_up: bool = False) -> dict[str, str]:
    """The namespace can hold exactly one tenant-sized pod and one tenant-sized volume, and no external ports;
    plus, when the tenant is backed up, one backup pod (its containers run one after the other)."""
    resources = container_resources(tenant)

    def room(kind: str, resource: str) -> str:
        extra = BACKUP_RESOURCES[kind][resource] if backed_up else None
        return _plus(resources[kind][resource], extra)

    return {
        "requests.cpu": room("requests", "cpu"),
        "requests.memory": room("requests", "memory"),
        "limits.cpu": room("limits", "cpu"),
        "limits.memory": room("limits", "memory"),
        "requests.storage": tenant.effective_storage,
        "persistentvolumeclaims": "1",
        "services.loadbalancers": "0",
        "services.nodeports": "0",
    }


def limit_range_limits(tenant: TenantConfig) -> list[dict[str, Any]]:
    """Defaults for any container that names no resources, and the per-object ceilings of the plan."""
    resources = container_resources(tenant)
    return [
        {
            "type": "Container",
            "max": resources["limits"],
            "default": resources["limits"],
            "defaultRequest": resources["requests"],
        },
        {"type": "PersistentVolumeClaim", "max": {"storage": tenant.effective_storage}},
    ]


def _ingress_values(tenant: TenantConfig, defaults: FluxionDefaults) -> dict[str, Any]:
    host = external_host(tenant, defaults)
    if host is None:
        return {"enabled": False}
    return {
        "enabled": True,
        "className": defaults.ingress.className or "",
        "annotations": dict(defaults.ingress.annotations),
        "hosts": [{"host": host, "paths": [{"path": "/", "pathType": "Prefix"}]}],
        "tls": [{"hosts": [host], "secretName": f"{tenant.name}-tls"}],
    }


def chart_values(
    tenant: TenantConfig,
    defaults: FluxionDefaults,
    api_key_checksum: pulumi.Input[str] | None = None,
    backed_up: bool = False,
) -> dict[str, Any]:
    """The values handed to charts/fluxiondb. Pure, so render tests feed helm the very same dict.
    `api_key_checksum` (of the API key's Secret) rolls the pod when the key changes; `backed_up` (the tenant has a
    backup CronJob) adds its failed and late backups to the alert rules."""
    client_selector = {"matchLabels": dict(defaults.clientNamespaceLabels)} if defaults.clientNamespaceLabels else {}
    monitoring = defaults.monitoring
    rules = {"enabled": True, "labels": dict(monitoring.selectorLabels)}
    if backed_up:
        rules["backupCronJob"] = backup_cronjob_name(tenant)
    return {
        "fullnameOverride": tenant.name,
        "replicaCount": 1,
        "image": {"repository": defaults.image.repository, "tag": defaults.image.tag},
        "resources": container_resources(tenant),
        "fluxiondb": {"flushIntervalSeconds": defaults.flushIntervalSeconds},
        # The claim is the component's (grown in place, retained); `size` only documents it in the values.
        "persistence": {"enabled": True, "existingClaim": claim_name(tenant), "size": tenant.effective_storage},
        "secret": {"create": False, "name": secret_name(tenant), "key": API_KEY_SECRET_KEY},
        "secretChecksums": {secret_name(tenant): api_key_checksum} if api_key_checksum else {},
        "service": {"type": "ClusterIP", "port": FLUXIONDB_PORT},
        "ingress": _ingress_values(tenant, defaults),
        "networkPolicy": {"enabled": defaults.networkPolicy, "clientNamespaceSelector": client_selector},
        "metrics": {
            "prometheusAnnotations": defaults.prometheusAnnotations,
            **(
                {"serviceMonitor": {"enabled": True, "labels": dict(monitoring.selectorLabels)}}
                if monitoring.serviceMonitor
                else {}
            ),
            **({"prometheusRule": rules} if monitoring.prometheusRule else {}),
        },
        "podLabels": {TENANT_LABEL: tenant.id},
        "tests": {"enabled": False},
    }


class FluxionTenant(Exporting, pulumi.ComponentResource):
    """One tenant's FluxionDB: namespace, quota, volume, API key and (while provisioned) the chart.

    Its stack outputs (`fluxion.tenants.<id>`) are the `Exported` attributes, by their camelCase names;
    only `api_key` is secret.
    """

    state: Exported[str]
    namespace: Exported[pulumi.Output[str]]
    release_name: Exported[str]
    ram: Exported[str]
    storage: Exported[str]
    cpu_request: Exported[str]
    cpu_limit: Exported[str]
    host: Exported[pulumi.Output[str | None]]
    port: Exported[int]
    url: Exported[pulumi.Output[str | None]]
    external_url: Exported[str | None]
    claim_name: Exported[pulumi.Output[str]]
    api_key_secret_name: Exported[str]
    api_key_secret_key: Exported[str]
    api_key: Exported[pulumi.Output[str]]

    def __init__(self, name: str, args: FluxionTenantArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("nexus:fluxion:FluxionTenant", name, None, opts)
        child_opts = pulumi.ResourceOptions(parent=self)
        tenant, defaults = args.tenant, args.defaults
        backup = args.backup if tenant.active else None
        keep = keeps_data(tenant, args.delete_data_on_destroy)
        labels = standard_labels(COMPONENT, {TENANT_LABEL: tenant.id})

        guard = StorageGuard(f"{name}-storage", claims={claim_name(tenant): tenant.effective_storage}, opts=child_opts)
        namespace = create_namespace(
            f"{name}-namespace",
            tenant.name,
            COMPONENT,
            holds_data=True,
            delete_data_on_destroy=not keep,
            labels={TENANT_LABEL: tenant.id},
            opts=child_opts,
        )
        in_namespace = namespace.metadata.name

        def metadata(object_name: str) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(name=object_name, namespace=in_namespace, labels=labels)

        # After the guard: a RAM change it refuses (a shrink) must not lower the ceilings first, which, updated in
        # parallel, left the quota and limits at the refused size (seen as two pending updates afterwards).
        guarded = pulumi.ResourceOptions.merge(child_opts, pulumi.ResourceOptions(depends_on=[guard]))
        quota = k8s.core.v1.ResourceQuota(
            f"{name}-quota",
            metadata=metadata(f"{tenant.name}-quota"),
            spec=k8s.core.v1.ResourceQuotaSpecArgs(hard=quota_hard(tenant, backed_up=backup is not None)),
            opts=guarded,
        )
        limits = k8s.core.v1.LimitRange(
            f"{name}-limits",
            metadata=metadata(f"{tenant.name}-limits"),
            spec=k8s.core.v1.LimitRangeSpecArgs(limits=limit_range_limits(tenant)),
            opts=guarded,
        )
        if defaults.networkPolicy:
            k8s.networking.v1.NetworkPolicy(
                f"{name}-default-deny",
                metadata=metadata(f"{tenant.name}-default-deny"),
                spec=k8s.networking.v1.NetworkPolicySpecArgs(pod_selector={}, policy_types=["Ingress", "Egress"]),
                opts=child_opts,
            )

        given_key = (
            args.api_key if args.api_key is not None else tenant.apiKey.get_secret_value() if tenant.apiKey else None
        )
        self.api_key = password_or_generated(
            given_key, f"{name}-api-key", child_opts, generation=tenant.apiKeyGeneration
        )
        credentials_data = {API_KEY_SECRET_KEY: self.api_key}
        credentials = opaque_secret(
            f"{name}-credentials",
            name=secret_name(tenant),
            namespace=in_namespace,
            labels=labels,
            data=credentials_data,
            opts=child_opts,
        )
        # Quota and LimitRange first: a grown claim must fit the raised ceilings.
        claim = k8s.core.v1.PersistentVolumeClaim(
            f"{name}-data",
            metadata=metadata(claim_name(tenant)),
            spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
                access_modes=["ReadWriteOnce"],
                storage_class_name=defaults.storageClass,
                resources=k8s.core.v1.VolumeResourceRequirementsArgs(requests={"storage": tenant.effective_storage}),
            ),
            opts=pulumi.ResourceOptions.merge(
                child_opts, pulumi.ResourceOptions(retain_on_delete=keep, depends_on=[guard, quota, limits])
            ),
        )

        self.namespace = in_namespace
        self.host = pulumi.Output.from_input(None)
        self.url = pulumi.Output.from_input(None)
        if tenant.active:
            chart = deploy_chart(
                f"{name}-chart",
                chart=local_chart("fluxiondb"),
                release_name=tenant.name,
                namespace=in_namespace,
                values=chart_values(tenant, defaults, secret_checksum(credentials_data), backup is not None),
                depends_on=[credentials, claim, quota, limits],
                opts=child_opts,
            )
            host = in_cluster_host(tenant)
            # Resolves once the chart's Service exists, so consumers that wait on it wait on the chart.
            self.host = chart.resources.apply(lambda _: host)
            self.url = self.host.apply(lambda h: f"ws://{h}:{FLUXIONDB_PORT}")
        if backup is not None:
            self._backups(name, tenant, defaults, backup, in_namespace, metadata, claim, child_opts)
        self.claim_name = claim.metadata.name
        self.state = "active" if tenant.active else "deprovisioned"
        self.release_name = tenant.name
        self.ram = tenant.ram
        self.storage = tenant.effective_storage
        self.cpu_request, self.cpu_limit = tenant.cpu
        self.port = FLUXIONDB_PORT
        external = external_host(tenant, defaults)
        self.external_url = f"wss://{external}" if external and tenant.active else None
        self.api_key_secret_name = secret_name(tenant)
        self.api_key_secret_key = API_KEY_SECRET_KEY
        self.register_outputs(self.outputs())

    def _backups(self, name, tenant, defaults, backup, in_namespace, metadata, claim, child_opts) -> None:
        """The backup CronJob, its scripts, the namespace's copies of the buckets' credentials, and its egress."""
        scripts = k8s.core.v1.ConfigMap(
            f"{name}-backup-scripts",
            metadata=metadata(f"{tenant.name}-backup-scripts"),
            data=backup_scripts(),
            opts=child_opts,
        )
        account = k8s.core.v1.ServiceAccount(
            f"{name}-backup-account",
            metadata=metadata(backup_service_account(tenant)),
            automount_service_account_token=False,
            opts=child_opts,
        )
        reads = [scripts, claim, account]
        buckets = {secret: bucket for _, bucket, secret in backup.destinations()}
        for secret, keys in backup.keys().items():
            if keys is None:
                pulumi.log.warn(
                    f"tenant {tenant.id}: the backup bucket {buckets[secret].bucket} has no credentials, so its backup "
                    f"pods wait for Secret {secret}: set its accessKeyId and secretAccessKey in dataTier.backup"
                )
                continue
            reads.append(
                opaque_secret(
                    f"{name}-{secret}",
                    name=secret,
                    namespace=in_namespace,
                    labels=backup_pod_labels(tenant),
                    data={ACCESS_KEY_ID_KEY: keys[0], SECRET_ACCESS_KEY_KEY: keys[1]},
                    opts=child_opts,
                )
            )
        if defaults.networkPolicy:
            k8s.networking.v1.NetworkPolicy(
                f"{name}-backup-egress",
                metadata=metadata(f"{tenant.name}-backup-egress"),
                spec=backup_egress(tenant, backup),
                opts=child_opts,
            )
        k8s.batch.v1.CronJob(
            f"{name}-backup",
            metadata=metadata(backup_cronjob_name(tenant)),
            spec=backup_cronjob_spec(tenant, backup),
            opts=pulumi.ResourceOptions.merge(child_opts, pulumi.ResourceOptions(depends_on=reads)),
        )
