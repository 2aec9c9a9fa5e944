"""Our charts depend on the nexus-lib library chart (`repository: file://../nexus-lib`); its packaged archive under
each chart's charts/ is build output, ignored by Git. Plain Helm users run `helm dependency build` once; the tests
do the same, once per session, for every chart whose Chart.yaml lists dependencies."""

from __future__ import annotations

import functools

import yaml

from tooling.helm import CHARTS_DIR, run_helm

LIBRARY = "nexus-lib"
# The six charts the platform writes; each builds on the library.
OUR_CHARTS = (
    "nexus-database",
    "core-pipeline",
    "fluxiondb",
    "api-gateway",
    "order-command-service",
    "order-query-service",
)


def dependencies(chart: str) -> list[dict]:
    return yaml.safe_load((CHARTS_DIR / chart / "Chart.yaml").read_text()).get("dependencies") or []


@functools.cache
def build_chart_dependencies() -> None:
    for chart in OUR_CHARTS:
        if dependencies(chart):
            run_helm("dependency", "build", str(CHARTS_DIR / chart))
