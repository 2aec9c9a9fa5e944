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
  never a chart value.
A deprovisioned tenant keeps all of that; only the chart (Deployment, Service, Ingress) goes away.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from platform_config.fluxion import FluxionDefaults, TenantConfig, TenantShared
from platform_config.kubernetes import KubernetesTarget

from .helm import deploy_chart, local_chart
from .kubernetes import create_namespace, service_host, standard_labels
from .outputs import Exported, Exporting
from .secrets import opaque_secret, password_or_generated, secret_checksum
from .storage import StorageGuard

COMPONENT = "fluxiondb"
FLUXIONDB_PORT = 8080
# Key of the API key inside the tenant's Secret (the chart's `secret.key`).
API_KEY_SECRET_KEY = "secret-key"
TENANT_LABEL = "nexus-platform/fluxion-tenant"


@dataclass(frozen=True)
class FluxionTenantArgs:
    tenant: TenantConfig
    defaults: FluxionDefaults
    delete_data_on_destroy: bool = False
    # A tenant stack's API key (its secret config `fluxion-tenant:apiKey`), instead of `tenant.apiKey`.
    api_key: pulumi.Input[str] | None = None


def tenant_shared(config: Any, platform_stack: str) -> dict[str, Any]:
    """The platform's `fluxionTenantDefaults` output (platform_config.fluxion.TenantShared) for `config`, a
    PlatformConfig: the one home of what tenant stacks share is the platform stack's `fluxion.defaults`."""
    return TenantShared(
        environment=config.environment.value,
        platformStack=platform_stack,
        deleteDataOnDestroy=config.deleteDataOnDestroy,
        defaults=config.fluxion.defaults,
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


def quota_hard(tenant: TenantConfig) -> dict[str, str]:
    """The namespace can hold exactly one tenant-sized pod and one tenant-sized volume, and no external ports."""
    resources = container_resources(tenant)
    return {
        "requests.cpu": resources["requests"]["cpu"],
        "requests.memory": resources["requests"]["memory"],
        "limits.cpu": resources["limits"]["cpu"],
        "limits.memory": resources["limits"]["memory"],
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
    tenant: TenantConfig, defaults: FluxionDefaults, api_key_checksum: pulumi.Input[str] | None = None
) -> dict[str, Any]:
    """The values handed to charts/fluxiondb. Pure, so render tests feed helm the very same dict.
    `api_key_checksum` (of the API key's Secret) rolls the pod when the key changes."""
    client_selector = {"matchLabels": dict(defaults.clientNamespaceLabels)} if defaults.clientNamespaceLabels else {}
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
                {"serviceMonitor": {"enabled": True, "labels": dict(defaults.monitoring.selectorLabels)}}
                if defaults.monitoring.serviceMonitor
                else {}
            ),
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

        quota = k8s.core.v1.ResourceQuota(
            f"{name}-quota",
            metadata=metadata(f"{tenant.name}-quota"),
            spec=k8s.core.v1.ResourceQuotaSpecArgs(hard=quota_hard(tenant)),
            opts=child_opts,
        )
        limits = k8s.core.v1.LimitRange(
            f"{name}-limits",
            metadata=metadata(f"{tenant.name}-limits"),
            spec=k8s.core.v1.LimitRangeSpecArgs(limits=limit_range_limits(tenant)),
            opts=child_opts,
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
                values=chart_values(tenant, defaults, secret_checksum(credentials_data)),
                depends_on=[credentials, claim, quota, limits],
                opts=child_opts,
            )
            host = in_cluster_host(tenant)
            # Resolves once the chart's Service exists, so consumers that wait on it wait on the chart.
            self.host = chart.resources.apply(lambda _: host)
            self.url = self.host.apply(lambda h: f"ws://{h}:{FLUXIONDB_PORT}")
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
