"""Every Kubernetes object a committed stack deploys, as the policy pack would see it, without an engine.

The program runs under mocks (tooling/stacks.py); each v4 Chart it registers is rendered by the real
helm with the exact values, release name and namespace the component passed, and the objects components
create directly (Namespaces, Secrets) are taken from their mocked inputs. The Bitnami chart comes from its
test double, as in the engine tier.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from tooling.helm import build_work_tree_dependencies, render
from tooling.paths import BITNAMI_STANDIN
from tooling.stacks import run_stack

CHART = "kubernetes:helm.sh/v4:Chart"


def _chart_objects(resource_name: str, inputs: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    namespace = inputs.get("namespace") or "default"
    # Our charts' nexus-lib archives (build output, ignored by Git), built once for every tier that renders stacks.
    build_work_tree_dependencies()
    rendered = render(
        inputs["chart"],
        inputs.get("values"),
        release=inputs["name"],
        namespace=namespace,
        validate=False,
        extra_args=["--dependency-update"] if inputs.get("dependencyUpdate") else [],
    )
    objects = {}
    for obj in rendered:
        # v4 Chart puts objects the templates leave unnamespaced into the release namespace.
        obj.setdefault("metadata", {}).setdefault("namespace", namespace)
        objects[f"{resource_name}:{obj['kind']}:{obj['metadata']['name']}"] = obj
    return objects


def _bitnami_scrape_objects(resource_name: str, inputs: Mapping[str, Any], objects: Mapping[str, Any]) -> dict:
    """The metrics Services and ServiceMonitors Bitnami PostgreSQL 16.7.26 adds with `metrics.enabled` and
    `metrics.serviceMonitor.enabled`, which its test double does not render (templates/primary/metrics-svc.yaml,
    primary/servicemonitor.yaml, read/metrics-svc.yaml, read/servicemonitor.yaml): per role a `<sts>-metrics`
    Service selecting the role's pods, labelled component `metrics` (primary) or `metrics-read`, and a
    ServiceMonitor in the release namespace selecting that component."""
    metrics = (inputs.get("values") or {}).get("metrics") or {}
    if not (metrics.get("enabled") and (metrics.get("serviceMonitor") or {}).get("enabled")):
        return {}
    added = {}
    for obj in objects.values():
        if obj.get("kind") != "StatefulSet":
            continue
        pod_labels = obj["spec"]["template"]["metadata"]["labels"]
        role = pod_labels["app.kubernetes.io/component"]
        match = {k: pod_labels[k] for k in ("app.kubernetes.io/name", "app.kubernetes.io/instance")}
        component = "metrics" if role == "primary" else "metrics-read"
        name, namespace = obj["metadata"]["name"], obj["metadata"]["namespace"]
        added[f"{resource_name}:Service:{name}-metrics"] = {
            "kind": "Service",
            "metadata": {
                "name": f"{name}-metrics",
                "namespace": namespace,
                "labels": {**match, "app.kubernetes.io/component": component},
            },
            "spec": {
                "ports": [{"name": "http-metrics", "port": 9187}],
                "selector": {**match, "app.kubernetes.io/component": role},
            },
        }
        added[f"{resource_name}:ServiceMonitor:{name}"] = {
            "kind": "ServiceMonitor",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "selector": {"matchLabels": {**match, "app.kubernetes.io/component": component}},
                "namespaceSelector": {"matchNames": [namespace]},
                "endpoints": [{"port": "http-metrics"}],
            },
        }
    return added


@functools.cache
def stack_objects(stack: str) -> dict[str, dict[str, Any]]:
    """`{id: object}` for every Kubernetes object of the stack."""
    run = run_stack(stack, {"postgresChart": {"path": str(BITNAMI_STANDIN)}})
    objects: dict[str, dict[str, Any]] = {}
    for resource in run.resources:
        if resource.type == CHART:
            chart = _chart_objects(resource.name, resource.inputs)
            if str(resource.inputs["chart"]) == str(BITNAMI_STANDIN):
                chart |= _bitnami_scrape_objects(resource.name, resource.inputs, chart)
            objects.update(chart)
        elif resource.type.startswith("kubernetes:") and not resource.type.startswith("kubernetes:helm"):
            objects[resource.name] = {"kind": resource.type.rsplit(":", 1)[-1], **resource.inputs}
    return objects
