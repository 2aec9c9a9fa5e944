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
from tooling.stacks import run_stack, with_example_tenants

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


@functools.cache
def stack_objects(stack: str) -> dict[str, dict[str, Any]]:
    """`{id: object}` for every Kubernetes object of the stack, and of the environment's example tenants: a
    tenant stack deploys the same FluxionTenant component with the platform's `fluxion.defaults`, so its objects
    are what the platform's own `fluxion.tenants` renders."""
    run = run_stack(stack, with_example_tenants(stack, {"postgresChart": {"path": str(BITNAMI_STANDIN)}}))
    objects: dict[str, dict[str, Any]] = {}
    for resource in run.resources:
        if resource.type == CHART:
            objects.update(_chart_objects(resource.name, resource.inputs))
        elif resource.type.startswith("kubernetes:") and not resource.type.startswith("kubernetes:helm"):
            objects[resource.name] = {"kind": resource.type.rsplit(":", 1)[-1], **resource.inputs}
    return objects
