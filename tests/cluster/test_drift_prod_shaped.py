"""No drift on a freshly deployed prod-shaped stack, whose services run under HPAs.

Invariant protected: right after `pulumi up` of prod's shape (tests/cluster/test_prod_shaped.py's scaled-down
prod config: HPAs for core-pipeline and the order services, PDBs, network policies, LoadBalancer Services),
and once every HPA has scaled its workload to its floor, the drift check (`python -m tooling.drift`, the
scheduled drift workflow's) reports nothing: what controllers change there is expected drift, not drift.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.cluster.conftest import Kubectl
from tests.cluster.test_prod_shaped import scaled_down
from tooling import drift
from tooling.engine import ProgramCopy, ScratchStack
from tooling.stackfiles import stack_config

pytestmark = pytest.mark.cluster


def hpa_workloads_below_their_floor(kubectl: Kubectl) -> list[str]:
    below = []
    for hpa in kubectl.items("horizontalpodautoscalers"):
        ns, ref = hpa["metadata"]["namespace"], hpa["spec"]["scaleTargetRef"]
        target = kubectl.get(ref["kind"].lower(), ns, ref["name"])
        if target["spec"]["replicas"] < hpa["spec"].get("minReplicas", 1):
            below.append(f"{ns}/{ref['name']}")
    return below


@pytest.fixture(scope="module")
def prod_under_hpas(program: ProgramCopy, kubectl: Kubectl) -> Iterator[ScratchStack]:
    kubectl.clear_program_namespaces()
    stack = program.stack("cluster-drift-prod", "prod", overrides=scaled_down(stack_config("prod")), render=False)
    try:
        stack.up().check("pulumi up of the prod-shaped stack on the local cluster")
        yield stack
    finally:
        stack.destroy()
        stack.remove()
        kubectl.clear_program_namespaces()


def test_every_hpa_of_the_prod_shaped_stack_scales_its_workload_to_its_floor(
    prod_under_hpas: ScratchStack, kubectl: Kubectl
) -> None:
    assert len(kubectl.items("horizontalpodautoscalers")) >= 2
    deadline = time.monotonic() + 180
    while (below := hpa_workloads_below_their_floor(kubectl)) and time.monotonic() < deadline:
        time.sleep(3)
    assert below == []


def test_a_clean_prod_shaped_deploy_under_hpas_shows_no_drift(prod_under_hpas: ScratchStack, kubectl: Kubectl) -> None:
    preview = drift.refresh_preview(
        prod_under_hpas.name, cwd=prod_under_hpas.program.root, env=prod_under_hpas.program.env
    )
    report = drift.build_report(prod_under_hpas.name, preview)
    assert report.drifted == (), drift.format_report(report, show_expected=True)
