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


def service_account(
    resource_name: str,
    *,
    name: str,
    namespace: pulumi.Input[str],
    labels: Mapping[str, str],
    opts: pulumi.ResourceOptions,
) -> k8s.core.v1.ServiceAccount:
    """A workload's own ServiceAccount. Its token is never mounted: no pod this program runs calls the Kubernetes
    API, and the policy pack refuses the namespace's `default` account and mounted tokens in staging and prod."""
    return k8s.core.v1.ServiceAccount(
        resource_name,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace, labels=dict(labels)),
        automount_service_account_token=False,
        opts=opts,
    )


# Where a client Job finds the CA its server's certificate is verified against (TLS_CA_FILE in its environment).
TLS_CA_DIR = "/tls"
TLS_CA_FILE = f"{TLS_CA_DIR}/ca.crt"


def ca_only_volume(name: str, certificate_secret: str) -> dict[str, Any]:
    """A pod volume with only `ca.crt` of a certificate Secret (cert-manager's): a client gets the CA, never the key."""
    return {"name": name, "secret": {"secretName": certificate_secret, "items": [{"key": "ca.crt", "path": "ca.crt"}]}}


def client_job_spec(
    container: Mapping[str, Any],
    *,
    uid: int,
    labels: Mapping[str, str],
    script_volume: tuple[str, str, str],
    backoff_limit: int,
    active_deadline_seconds: int,
    service_account_name: str,
    ca_secret: str | None = None,
    extra_pod_spec: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The spec of a Job that runs one database client to completion (core-pipeline's bootstrap, the rotation
    Jobs): `container` (name, image, command, env) runs as `uid`, non-root, with a read-only root filesystem and
    nothing but its script (`script_volume`: volume name, ConfigMap, mount path, read-only) and a small /tmp,
    as the ServiceAccount `service_account_name` (no token). With TLS on, `ca_secret` is the server's certificate
    Secret: only its `ca.crt` is mounted (never the server's key), at TLS_CA_FILE, named in the env the same way.
    No TTL: Pulumi would see the Job vanish and create it again on every refresh."""
    volume, config_map, mount_path = script_volume
    ca_volumes = [ca_only_volume("tls-ca", ca_secret)] if ca_secret else []
    ca_mounts = [{"name": "tls-ca", "mountPath": TLS_CA_DIR, "readOnly": True}] if ca_secret else []
    ca_env = [{"name": "TLS_CA_FILE", "value": TLS_CA_FILE}] if ca_secret else []
    client = {
        **container,
        **({"env": [*container.get("env", []), *ca_env]} if ca_env else {}),
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
            *ca_mounts,
        ],
    }
    return {
        "backoffLimit": backoff_limit,
        "activeDeadlineSeconds": active_deadline_seconds,
        "template": {
            "metadata": {"labels": dict(labels)},
            "spec": {
                "restartPolicy": "Never",
                "serviceAccountName": service_account_name,
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
                    *ca_volumes,
                ],
            },
        },
    }
