"""Deploying Helm charts: our own charts from `charts/`, upstream charts from a registry or a mirror.

All charts go through Pulumi Kubernetes' `helm.v4.Chart`: the provider renders the chart and every
object becomes a Pulumi resource of its own, so `pulumi preview` shows a diff per Deployment, Secret or
StatefulSet (what a reviewer needs), and the render-to-directory mode can write them out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

CHARTS_DIR = Path(__file__).resolve().parent.parent / "charts"


def local_chart(name: str) -> str:
    path = CHARTS_DIR / name
    if not (path / "Chart.yaml").is_file():
        raise FileNotFoundError(f"chart {name!r} not found at {path}")
    return str(path)


def deploy_chart(
    resource_name: str,
    *,
    chart: str,
    release_name: str,
    namespace: pulumi.Input[str],
    values: Mapping[str, Any],
    opts: pulumi.ResourceOptions,
    version: str | None = None,
    depends_on: Sequence[pulumi.Resource] = (),
) -> k8s.helm.v4.Chart:
    """Render and deploy one chart release. `release_name` is fixed (never derived from a random
    suffix) so the objects' names, and therefore the preview, stay stable."""
    return k8s.helm.v4.Chart(
        resource_name,
        chart=chart,
        version=version,
        name=release_name,
        namespace=namespace,
        values=dict(values),
        dependency_update=has_local_dependencies(chart) or None,
        # Helm hooks are rendered as ordinary objects by v4 Chart; the charts keep test hooks off.
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=list(depends_on))),
    )


def has_local_dependencies(chart: str) -> bool:
    """Whether a chart on disk declares dependencies (ours: the `nexus-lib` library chart, `file://`). Their
    archives are build output, never committed, so the provider resolves them at render time."""
    chart_file = Path(chart) / "Chart.yaml"
    return chart_file.is_file() and bool((yaml.safe_load(chart_file.read_text()) or {}).get("dependencies"))
