"""What the cluster holds before anyone deploys to it, and kwok's configuration.

No kubelets: two fake nodes that kwok keeps Ready, and the default StorageClass whose claims kwok's volume
stages bind to fake PersistentVolumes. The CustomResourceDefinitions of the Prometheus Operator (no operator)
and of cert-manager (its controller runs on the host), and cert-manager's namespace.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from tooling.local_cluster.config import DATA_DIR

STORAGE_CLASS = "standard"
FAKE_NODES = ("kwok-node-0", "kwok-node-1")
# kwok manages only nodes with this annotation (and leaves alone objects marked with the status one).
NODE_ANNOTATION = "kwok.x-k8s.io/node=fake"
CUSTOM_STATUS_ANNOTATION = "kwok.x-k8s.io/status=custom"
KWOK_VOLUME_CLASS = "kwok-volume"  # the class name kwok's volume stages select
# The API group/version of the Prometheus Operator CRDs the cluster serves (ServiceMonitor, PrometheusRule, ...).
MONITORING_API = "monitoring.coreos.com/v1"
# cert-manager's API groups/versions (Certificate, CertificateRequest, Issuer, ClusterIssuer; Order, Challenge).
CERT_MANAGER_APIS = ("cert-manager.io/v1", "acme.cert-manager.io/v1")
# Where cert-manager keeps what it creates for cluster-scoped objects (a CA ClusterIssuer's Secret), as its
# Helm chart installs it on a real cluster: the controller's --cluster-resource-namespace.
CERT_MANAGER_NAMESPACE = "cert-manager"


def storage_class() -> dict[str, Any]:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": STORAGE_CLASS,
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": "kwok.x-k8s.io/volume",
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "Immediate",
        "allowVolumeExpansion": True,
    }


def fake_node(name: str) -> dict[str, Any]:
    key, value = NODE_ANNOTATION.split("=")
    resources = {"cpu": "32", "memory": "256Gi", "pods": "110", "ephemeral-storage": "1Ti"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"node.alpha.kubernetes.io/ttl": "0", key: value},
            "labels": {
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/role": "agent",
                "node-role.kubernetes.io/agent": "",
                "type": "kwok",
                "topology.kubernetes.io/zone": "local",
            },
        },
        "status": {"allocatable": resources, "capacity": resources},
    }


def bootstrap(crds: Iterable[Path]) -> list[tuple[str, dict[str, Any]]]:
    """(API path, object) for each object to apply once the API server is ready: the storage class, the fake
    nodes, cert-manager's namespace, and the CustomResourceDefinitions in the folders `crds` (the Prometheus
    Operator's, for the scrape objects and alert rules staging and prod ship, definitions only; cert-manager's,
    which its controller serves)."""
    # ~1.2 MB of YAML (cert-manager's issuer schemas are most of it): libyaml's loader reads it in 0.1 s, the
    # pure-Python one in 1 s, at every start
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    definitions = [
        yaml.load(path.read_text(), Loader=loader) for folder in crds for path in sorted(folder.glob("*.yaml"))
    ]
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": CERT_MANAGER_NAMESPACE}}
    return [
        (f"/apis/storage.k8s.io/v1/storageclasses/{STORAGE_CLASS}", storage_class()),
        *((f"/api/v1/nodes/{name}", fake_node(name)) for name in FAKE_NODES),
        (f"/api/v1/namespaces/{CERT_MANAGER_NAMESPACE}", namespace),
        *(
            (f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd['metadata']['name']}", crd)
            for crd in definitions
        ),
    ]


def kwok_config(kwok_stages: Path) -> str:
    """kwok's configuration file: its settings, kwok's own stages (volume stages moved to our class), ours."""
    documents = [(DATA_DIR / "config.yaml").read_text()]
    for stage in sorted(kwok_stages.glob("*.yaml")):
        documents.append(stage.read_text().replace(f"'{KWOK_VOLUME_CLASS}'", f"'{STORAGE_CLASS}'"))
    documents.append((DATA_DIR / "stages.yaml").read_text())
    return "\n---\n".join(doc.strip("\n") for doc in documents) + "\n"
