"""What the cluster holds before anyone deploys to it, and kwok's configuration.

No kubelets: two fake nodes that kwok keeps Ready, and the default StorageClass whose claims kwok's volume
stages bind to fake PersistentVolumes.
"""

from __future__ import annotations

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


def bootstrap(crds: Path) -> list[tuple[str, dict[str, Any]]]:
    """(API path, object) for each object to apply once the API server is ready: the storage class, the fake
    nodes, and the CustomResourceDefinitions in `crds` (the Prometheus Operator's, for the scrape objects and
    alert rules staging and prod ship; definitions only, no operator acts on them)."""
    definitions = [yaml.safe_load(path.read_text()) for path in sorted(crds.glob("*.yaml"))]
    return [
        (f"/apis/storage.k8s.io/v1/storageclasses/{STORAGE_CLASS}", storage_class()),
        *((f"/api/v1/nodes/{name}", fake_node(name)) for name in FAKE_NODES),
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
