"""Kubernetes objects for the policy tests: each builder returns a compliant object, and tests change
the one field whose rule they exercise (`at(obj, "spec.replicas", 1)`)."""

from __future__ import annotations

import copy
from typing import Any

LABELS = {"app.kubernetes.io/name": "api", "app.kubernetes.io/instance": "orders"}


def at(obj: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `obj` with the dotted `path` set to `value` (list indexes as numbers); None deletes it."""
    changed = copy.deepcopy(obj)
    *parents, last = path.split(".")
    node: Any = changed
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if isinstance(node, list):
        node[int(last)] = value
    elif value is None:
        node.pop(last, None)
    else:
        node[last] = value
    return changed


def container(name: str = "api", image: str = "registry.example.com/orders/api:1.4.2") -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }


def pod_spec(**extra: Any) -> dict[str, Any]:
    return {"containers": [container()], "volumes": [{"name": "tmp", "emptyDir": {}}], **extra}


def metadata(name: str, namespace: str | None = "orders", **extra: Any) -> dict[str, Any]:
    return {"name": name, **({"namespace": namespace} if namespace else {}), **extra}


def deployment(name: str = "api", namespace: str = "orders", replicas: int = 2, kind: str = "Deployment") -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": metadata(name, namespace, labels=dict(LABELS)),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(LABELS)},
            "template": {"metadata": {"labels": {**LABELS, "app.kubernetes.io/version": "1.4.2"}}, "spec": pod_spec()},
        },
    }


def statefulset(name: str = "db", namespace: str = "orders", replicas: int = 2) -> dict[str, Any]:
    return deployment(name, namespace, replicas, kind="StatefulSet")


def cronjob(name: str = "cleanup", namespace: str = "orders") -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": metadata(name, namespace),
        "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": pod_spec()}}}},
    }


def single_pod(obj: dict[str, Any], reason: str | None = "one FluxionDB pod owns the tenant's volume") -> dict:
    notes = {"nexus-platform/single-pod-by-design": "true"}
    if reason is not None:
        notes["nexus-platform/single-pod-reason"] = reason
    return at(at(obj, "metadata.annotations", notes), "spec.replicas", 1)


def pdb(name: str = "api", namespace: str = "orders", selector: dict | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(name, namespace),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": dict(LABELS)} if selector is None else selector},
    }


def hpa(
    target: str = "api", kind: str = "Deployment", min_replicas: int | None = 2, namespace: str = "orders"
) -> dict[str, Any]:
    """A HorizontalPodAutoscaler scaling `kind`/`target` (min_replicas None: the field left to its default)."""
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata(target, namespace),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": kind, "name": target},
            **({"minReplicas": min_replicas} if min_replicas is not None else {}),
            "maxReplicas": 10,
        },
    }


def namespace(name: str = "orders") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata(name, None)}


def network_policy(name: str = "api", namespace: str = "orders") -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(name, namespace),
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    }


def ingress(hosts: tuple[str, ...] = ("orders.nexus.example.com",), tls_hosts: tuple[str, ...] | None = None) -> dict:
    tls_hosts = hosts if tls_hosts is None else tls_hosts
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": metadata("api"),
        "spec": {
            "rules": [{"host": host} for host in hosts],
            **({"tls": [{"hosts": list(tls_hosts), "secretName": "api-tls"}]} if tls_hosts else {}),
        },
    }


def configmap(data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata("api-config"), "data": data}


def service(service_type: str = "ClusterIP", annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(
            "orders-postgresql-primary", "postgres", **({"annotations": annotations} if annotations else {})
        ),
        "spec": {"type": service_type, "ports": [{"port": 5432}], "selector": dict(LABELS)},
    }
