"""The stack's Kubernetes provider and the namespaces components create."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from platform_config.kubernetes import KubernetesTarget

PART_OF = "nexus-platform"
# The cluster's DNS domain (kubelet's --cluster-domain); every in-cluster host name ends in it.
CLUSTER_DOMAIN = "cluster.local"


def create_provider(stack: str, target: KubernetesTarget) -> k8s.Provider:
    """One explicit provider per stack: every component gets it, so nothing falls back to whatever
    cluster the ambient kubeconfig happens to point at when the stack config names one."""
    return k8s.Provider(
        f"{stack}-kubernetes",
        kubeconfig=target.kubeconfig,
        context=target.context,
        render_yaml_to_directory=target.renderYamlToDirectory,
        # Server-side apply gives field-level ownership and the API server's own diff in previews.
        enable_server_side_apply=True,
        # A changed Secret or ConfigMap is updated in place. The provider's default replaces it, and a named
        # object is replaced by deleting it first: a rotation would leave a window in which the Secret pods
        # start from does not exist (pulumi-kubernetes#1568). Objects marked immutable are still replaced.
        enable_secret_mutable=True,
        enable_config_map_mutable=True,
    )


def service_host(service: str, namespace: str) -> str:
    """The in-cluster DNS name of a Service: `<service>.<namespace>.svc.cluster.local`."""
    return f"{service}.{namespace}.svc.{CLUSTER_DOMAIN}"


def standard_labels(component: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    return {"app.kubernetes.io/part-of": PART_OF, "app.kubernetes.io/component": component, **(extra or {})}


def create_namespace(
    resource_name: str,
    namespace: str,
    component: str,
    *,
    holds_data: bool,
    delete_data_on_destroy: bool,
    opts: pulumi.ResourceOptions,
    labels: Mapping[str, str] | None = None,
) -> k8s.core.v1.Namespace:
    """A namespace owned by one component. Deleting a namespace deletes the PVCs inside it, so a
    namespace that holds data is left in the cluster on `pulumi destroy` unless the stack opts out
    with `deleteDataOnDestroy: true`."""
    retain = holds_data and not delete_data_on_destroy
    return k8s.core.v1.Namespace(
        resource_name,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=namespace, labels=standard_labels(component, labels)),
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(retain_on_delete=retain)),
    )


def client_job_spec(
    container: Mapping[str, Any],
    *,
    uid: int,
    labels: Mapping[str, str],
    script_volume: tuple[str, str, str],
    backoff_limit: int,
    active_deadline_seconds: int,
    extra_pod_spec: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The spec of a Job that runs one database client to completion (core-pipeline's bootstrap, the rotation
    Jobs): `container` (name, image, command, env) runs as `uid`, non-root, with a read-only root filesystem and
    nothing but its script (`script_volume`: volume name, ConfigMap, mount path, read-only) and a small /tmp.
    No TTL: Pulumi would see the Job vanish and create it again on every refresh."""
    volume, config_map, mount_path = script_volume
    client = {
        **container,
        "imagePullPolicy": "IfNotPresent",
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}},
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": uid,
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": volume, "mountPath": mount_path, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    return {
        "backoffLimit": backoff_limit,
        "activeDeadlineSeconds": active_deadline_seconds,
        "template": {
            "metadata": {"labels": dict(labels)},
            "spec": {
                "restartPolicy": "Never",
                "automountServiceAccountToken": False,
                **(extra_pod_spec or {}),
                "securityContext": {
                    "runAsNonRoot": True,
                    "runAsUser": uid,
                    "fsGroup": uid,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "containers": [client],
                "volumes": [
                    {"name": volume, "configMap": {"name": config_map}},
                    {"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}},
                ],
            },
        },
    }
