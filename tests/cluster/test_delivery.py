"""Delivery on a real API server: a deploy applies exactly the reviewed update plan or nothing, and the
drift check names what changed in the cluster behind the stack's back without changing anything.

Invariants protected:
- `pulumi up --plan` (what .github/workflows/pulumi-up.yml runs with the plan saved by the pull request's
  `pulumi preview --save-plan`) refuses a program or a config change the plan did not show, names the
  resource, and leaves the cluster as it was; with the program and config unchanged it applies exactly the
  plan's operations.
- `python -m tooling.drift` (`make drift`, .github/workflows/drift.yml) finds no drift right after a deploy,
  also when an HPA has scaled a Deployment since; after `kubectl scale` of a StatefulSet, an edit of a
  ConfigMap key (`kubectl patch`, the non-interactive `kubectl edit`) and `kubectl delete` of a Service it
  names all three with their fields, and neither the state nor the cluster changes.

One dev stack whose core-pipeline runs under an HPA (autoscaling on, 2 to 4 replicas: the chart then
leaves `spec.replicas` to the HPA, as prod does). The tests run in file order (fixtures chain: deployed ->
planned -> drifted).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.conftest import PROGRAM_NAMESPACES, Kubectl
from tooling import drift
from tooling.engine import ProgramCopy, ScratchStack
from tooling.paths import REPO_ROOT

pytestmark = pytest.mark.cluster

UNDER_HPA = {"corePipeline": {"autoscaling": {"enabled": True, "minReplicas": 2, "maxReplicas": 4}}}
QUERY = ("order-platform", "order-query-service")
QUERY_URN_NAME = "order-platform-order-query-service:order-platform/order-query-service"
QUERY_CHART_VALUES = Path("charts") / "order-query-service" / "values.yaml"
# The three objects the drift tests change by hand.
SCALED = ("statefulset", "data", "redis")
EDITED = ("configmap", "data", "nexus-database-scripts")
EDITED_KEY = "backup-common.sh"
DELETED = ("service", "data", "redis-service")


@dataclass
class Delivery:
    stack: ScratchStack
    facts: dict[str, Any] = field(default_factory=dict)


def drift_check(stack: ScratchStack) -> drift.Report:
    preview = drift.refresh_preview(stack.name, cwd=stack.program.root, env=stack.program.env)
    return drift.build_report(stack.name, preview)


def resource_versions(kubectl: Kubectl) -> dict[str, str]:
    kinds = "deployments,statefulsets,services,configmaps,secrets,persistentvolumeclaims"
    return {
        f"{o['kind']}/{o['metadata']['namespace']}/{o['metadata']['name']}": o["metadata"]["resourceVersion"]
        for ns in PROGRAM_NAMESPACES
        for o in kubectl.items(kinds, ns)
    }


def state_resources(stack: ScratchStack) -> list[dict[str, Any]]:
    return stack.export()["deployment"]["resources"]


def query_service(kubectl: Kubectl) -> tuple[int, int]:
    spec = kubectl.get("deployment", *QUERY)["spec"]
    return spec["replicas"], spec["template"]["spec"]["terminationGracePeriodSeconds"]


def wait_for_hpa_scale(kubectl: Kubectl, timeout: float = 180) -> int:
    """The core-pipeline Deployment's replicas once its HPA has raised them to its floor."""
    deadline = time.monotonic() + timeout
    while True:
        replicas = kubectl.get("deployment", "core-pipeline", "core-pipeline")["spec"]["replicas"]
        if replicas >= 2 or time.monotonic() > deadline:
            return replicas
        time.sleep(3)


@pytest.fixture(scope="module")
def deployed(program: ProgramCopy, kubectl: Kubectl) -> Iterator[Delivery]:
    kubectl.clear_program_namespaces()
    stack = program.stack("cluster-delivery", "dev", overrides=UNDER_HPA, render=False)
    try:
        stack.up().check("pulumi up of dev (core-pipeline under an HPA) on the local cluster")
        yield Delivery(stack)
    finally:
        stack.destroy()
        stack.remove()
        kubectl.clear_program_namespaces()


def test_the_hpa_scales_core_pipeline_beyond_what_the_chart_applied(deployed: Delivery, kubectl: Kubectl) -> None:
    assert wait_for_hpa_scale(kubectl) == 2


def test_a_clean_deploy_under_an_hpa_shows_no_drift(deployed: Delivery, kubectl: Kubectl) -> None:
    wait_for_hpa_scale(kubectl)
    report = drift_check(deployed.stack)
    assert report.drifted == (), drift.format_report(report)
    assert report.unchanged > 100


# -- reviewed plans -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def planned(deployed: Delivery, kubectl: Kubectl, tmp_path_factory: pytest.TempPathFactory) -> Delivery:
    """The reviewed change: order-query-service 1 -> 2 replicas, its plan saved as the PR workflow does."""
    plan = tmp_path_factory.mktemp("plans") / "plan-cluster-delivery.json"
    deployed.stack.update_config({"orderPlatform": {"queryService": {"replicas": 2}}})
    deployed.stack.run("preview", "--diff", "--save-plan", str(plan)).check("pulumi preview --save-plan")
    deployed.facts.update(plan=plan, cluster_before=query_service(kubectl))
    return deployed


def up_with_plan(stack: ScratchStack, plan: Path):
    return stack.run("up", "--yes", "--diff", "--plan", str(plan))


def planned_changes(plan: Path) -> dict[str, int]:
    """How many resources the plan updates, creates, ... (its non-`same` steps), by operation; providers left
    out, as `pulumi stack history` counts none."""
    counts: dict[str, int] = {}
    for urn, resource in json.loads(plan.read_text())["resourcePlans"].items():
        if "::pulumi:providers:" in urn:
            continue
        for op in resource.get("steps") or []:
            if op != "same":
                counts[op] = counts.get(op, 0) + 1
    return counts


def test_the_plan_holds_only_the_reviewed_update(planned: Delivery) -> None:
    # `default` is the dynamic provider (StorageGuard's): its inputs carry the stack's config.
    plan = json.loads(planned.facts["plan"].read_text())["resourcePlans"]
    changed = {urn.rsplit("::", 1)[1]: p["steps"] for urn, p in plan.items() if set(p.get("steps") or []) - {"same"}}
    assert changed == {"default": ["update"], QUERY_URN_NAME: ["update"]}


def test_up_with_the_plan_refuses_a_program_change_the_plan_did_not_show_and_names_the_resource(
    planned: Delivery, kubectl: Kubectl
) -> None:
    values = planned.stack.program.root / QUERY_CHART_VALUES
    saved = values.read_text()
    assert "\nterminationGracePeriodSeconds: 30\n" in saved, f"{QUERY_CHART_VALUES} changed: pick another value"
    values.write_text(saved.replace("\nterminationGracePeriodSeconds: 30\n", "\nterminationGracePeriodSeconds: 45\n"))
    try:
        result = up_with_plan(planned.stack, planned.facts["plan"])
    finally:
        values.write_text(saved)
    assert result.returncode != 0
    assert f"apps/v1:Deployment::{QUERY_URN_NAME} violates plan" in result.output
    assert query_service(kubectl) == planned.facts["cluster_before"]


def test_up_with_the_plan_refuses_a_config_change_the_plan_did_not_show(planned: Delivery, kubectl: Kubectl) -> None:
    with planned.stack.overridden({"orderPlatform": {"queryService": {"replicas": 3}}}):
        result = up_with_plan(planned.stack, planned.facts["plan"])
    assert result.returncode != 0
    assert "violates plan" in result.output
    assert query_service(kubectl) == planned.facts["cluster_before"]


def test_the_unchanged_program_applies_exactly_the_plan(planned: Delivery, kubectl: Kubectl) -> None:
    up_with_plan(planned.stack, planned.facts["plan"]).check("pulumi up --plan of the reviewed change")
    history = json.loads(planned.stack.run("stack", "history", "--json").check("pulumi stack history").stdout)
    applied = {op: n for op, n in history[0]["resourceChanges"].items() if op != "same"}
    assert applied == planned_changes(planned.facts["plan"]) == {"update": 1}
    assert query_service(kubectl) == (2, planned.facts["cluster_before"][1])
    planned.stack.preview("--expect-no-changes").check("preview after up --plan")


# -- drift ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def drifted(planned: Delivery, kubectl: Kubectl) -> Delivery:
    """The cluster changed by hand: a StatefulSet scaled, a ConfigMap key edited, a Service deleted."""
    kind, ns, name = SCALED
    kubectl.run("-n", ns, "scale", kind, name, "--replicas=3")
    kind, ns, name = EDITED
    patch = json.dumps({"data": {EDITED_KEY: "echo edited by hand"}})
    kubectl.run("-n", ns, "patch", kind, name, "--type", "merge", "-p", patch)
    kind, ns, name = DELETED
    kubectl.run("-n", ns, "delete", kind, name, "--wait=true")
    state, versions = state_resources(planned.stack), resource_versions(kubectl)
    proc = subprocess.run(
        [sys.executable, "-m", "tooling.drift", planned.stack.name, "--cwd", str(planned.stack.program.root)],
        cwd=REPO_ROOT,
        env={**os.environ, **planned.stack.program.env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    planned.facts.update(
        cli=proc,
        report=drift_check(planned.stack),
        state_before=state,
        state_after=state_resources(planned.stack),
        versions_before=versions,
        versions_after=resource_versions(kubectl),
    )
    return planned


def test_the_drift_check_names_the_scaled_statefulset_the_edited_configmap_and_the_deleted_service(
    drifted: Delivery,
) -> None:
    found = {(o.kind, o.object, o.op) for o in drifted.facts["report"].drifted}
    assert found == {
        ("StatefulSet", "data/redis", "update"),
        ("ConfigMap", "data/nexus-database-scripts", "update"),
        ("Service", "data/redis-service", "delete"),
    }


def test_the_drift_check_reports_each_changed_field_before_and_after(drifted: Delivery) -> None:
    fields = {(o.object, f.path): (f.before, f.after) for o in drifted.facts["report"].drifted for f in o.fields}
    assert fields[("data/redis", "spec.replicas")] == ("1", "3")
    assert fields[("data/nexus-database-scripts", f'data["{EDITED_KEY}"]')][1] == '"echo edited by hand"'


def test_python_m_tooling_drift_prints_the_three_objects_and_exits_1(drifted: Delivery) -> None:
    proc = drifted.facts["cli"]
    assert proc.returncode == 1, proc.stderr
    for line in ("~ StatefulSet data/redis", "~ ConfigMap data/nexus-database-scripts", "- Service data/redis-service"):
        assert line in proc.stdout


def test_the_drift_check_changes_neither_the_state_nor_the_cluster(drifted: Delivery) -> None:
    assert drifted.facts["state_after"] == drifted.facts["state_before"]
    assert drifted.facts["versions_after"] == drifted.facts["versions_before"]
    assert "Service/data/redis-service" not in drifted.facts["versions_after"]
