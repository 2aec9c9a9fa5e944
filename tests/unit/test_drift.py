"""The drift report says what drifted and nothing else: on a recorded `pulumi refresh --preview-only --json`
(the dev stack on the local cluster after `kubectl scale` of data/redis, an edited key of the
nexus-database-scripts ConfigMap and `kubectl delete` of data/redis-service; plus the core-pipeline
Deployment and its HPA from a stack running under an HPA), it names each object with its field,
before and after; expected drift (tooling.drift.EXPECTED_DRIFT) is ignored; Secret values never print.

Steps marked "derived" below are the recorded ones with one field changed, to show a rule on drift the
local cluster does not produce by itself (with server-side apply, an HPA's replicas never reach the diff).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tooling import drift
from tooling.paths import REPO_ROOT

pytestmark = pytest.mark.unit

RECORDED = Path(__file__).with_name("test_drift_recorded.json")
DEPLOYMENT = "core-pipeline-chart:core-pipeline/core-pipeline"


@pytest.fixture
def recorded() -> dict[str, Any]:
    return json.loads(RECORDED.read_text())


def step(preview: dict[str, Any], kind: str, name: str) -> dict[str, Any]:
    (found,) = [s for s in preview["steps"] if f"{kind}::{name}" in s["urn"]]
    return found


def drifted(preview: dict[str, Any]) -> dict[str, drift.ObjectDrift]:
    return {o.object: o for o in drift.build_report("dev", preview).drifted}


def test_the_scaled_statefulset_reports_its_replicas_before_and_after(recorded) -> None:
    (field,) = drifted(recorded)["data/redis"].fields
    assert (field.path, field.before, field.after) == ("spec.replicas", "1", "3")


def test_the_edited_configmap_reports_the_edited_key_with_its_old_and_new_value(recorded) -> None:
    (field,) = drifted(recorded)["data/nexus-database-scripts"].fields
    assert field.path == 'data["backup-common.sh"]'
    assert field.before.startswith('"# Sourced by every backup script') and field.after == '"echo edited by hand"'


def test_the_deleted_service_is_reported_as_deleted(recorded) -> None:
    obj = drifted(recorded)["data/redis-service"]
    assert (obj.op, obj.kind) == ("delete", "Service")


def test_exactly_the_three_changed_objects_are_drift(recorded) -> None:
    assert sorted(drifted(recorded)) == ["data/nexus-database-scripts", "data/redis", "data/redis-service"]


def test_the_printed_report_names_object_field_and_both_values(recorded) -> None:
    text = drift.format_report(drift.build_report("dev", recorded))
    assert "Drift in stack dev: 3 object(s) differ" in text
    assert "~ StatefulSet data/redis  (data-tier-chart:data/redis)" in text
    assert "    spec.replicas: 1 (state) -> 3 (cluster)" in text
    assert "- Service data/redis-service" in text and "deleted from the cluster" in text


def test_a_preview_without_changes_reports_no_drift(recorded) -> None:
    clean = {"steps": [s for s in recorded["steps"] if s["op"] == "refresh"]}
    report = drift.build_report("dev", clean)
    assert (report.drifted, report.unchanged) == ((), 3)
    assert drift.format_report(report).startswith("No drift in stack dev")


def test_replicas_of_a_workload_under_an_hpa_are_expected_drift(recorded) -> None:
    derived = step(recorded, "kubernetes:apps/v1:Deployment", DEPLOYMENT)
    derived.update(op="update", detailedDiff={"spec.replicas": {"kind": "update"}})
    derived["newState"]["outputs"]["spec"]["replicas"] = 4
    report = drift.build_report("prod", {"steps": [derived, step(recorded, "HorizontalPodAutoscaler", DEPLOYMENT)]})
    (ignored,) = report.ignored
    assert (report.drifted, ignored.fields[0].expected_by.owner) == ((), "the HorizontalPodAutoscaler")


def test_replicas_of_a_statefulset_no_hpa_targets_stay_drift(recorded) -> None:
    hpa = step(recorded, "HorizontalPodAutoscaler", DEPLOYMENT)
    report = drift.build_report("dev", {"steps": [step(recorded, "StatefulSet", "data-tier-chart:data/redis"), hpa]})
    assert [o.object for o in report.drifted] == ["data/redis"]


def test_status_and_server_bookkeeping_are_expected_drift(recorded) -> None:
    derived = copy.deepcopy(step(recorded, "kubernetes:core/v1:Service", "data-tier-chart:data/redis-headless"))
    derived.update(
        op="update",
        detailedDiff={"status.loadBalancer": {"kind": "update"}, "metadata.resourceVersion": {"kind": "update"}},
    )
    report = drift.build_report("dev", {"steps": [derived]})
    assert (report.drifted, len(report.ignored)) == ((), 1)


def test_a_field_the_server_defaulted_is_expected_but_a_changed_one_is_drift(recorded) -> None:
    added = copy.deepcopy(step(recorded, "StatefulSet", "data-tier-chart:data/redis"))
    added["detailedDiff"] = {"spec.revisionHistoryLimit": {"kind": "add"}}
    changed = copy.deepcopy(added)
    changed["detailedDiff"] = {"spec.revisionHistoryLimit": {"kind": "update"}}
    assert drift.build_report("dev", {"steps": [added]}).drifted == ()
    assert len(drift.build_report("dev", {"steps": [changed]}).drifted) == 1


def test_a_certificate_secret_cert_manager_renewed_is_expected_drift() -> None:
    meta = {"name": "api-tls", "namespace": "order-platform", "annotations": {drift.CERT_MANAGER_ANNOTATION: "api"}}
    state = {"type": "kubernetes:core/v1:Secret", "inputs": {}, "outputs": {"metadata": meta, "data": "[secret]"}}
    renewed = {
        "op": "update",
        "urn": "urn:pulumi:prod::nexus-platform::kubernetes:core/v1:Secret::api-tls",
        "detailedDiff": {'data["tls.crt"]': {"kind": "update"}},
        "oldState": state,
        "newState": state,
    }
    assert drift.build_report("prod", {"steps": [renewed]}).drifted == ()


def test_secret_values_never_print(recorded) -> None:
    state = {
        "type": "kubernetes:core/v1:Secret",
        "inputs": {"stringData": {"password": "hunter2-old"}},
        "outputs": {"metadata": {"name": "orders-credentials", "namespace": "postgres"}},
    }
    edited = copy.deepcopy(state)
    edited["inputs"]["stringData"]["password"] = "hunter2-new"
    changed = {
        "op": "update",
        "urn": "urn:pulumi:dev::nexus-platform::kubernetes:core/v1:Secret::orders-credentials",
        "detailedDiff": {"stringData.password": {"kind": "update"}},
        "oldState": state,
        "newState": edited,
    }
    text = drift.format_report(drift.build_report("dev", {"steps": [changed]}))
    assert "hunter2" not in text and "stringData.password: [secret] (state) -> [secret] (cluster)" in text


@pytest.mark.parametrize(
    ("path", "parts"),
    [
        ("spec.replicas", ["spec", "replicas"]),
        ('data["backup-common.sh"]', ["data", "backup-common.sh"]),
        ("spec.template.spec.containers[0].image", ["spec", "template", "spec", "containers", 0, "image"]),
        (
            'metadata.annotations["deployment.kubernetes.io/revision"]',
            ["metadata", "annotations", "deployment.kubernetes.io/revision"],
        ),
    ],
)
def test_property_paths_parse_into_their_parts(path, parts) -> None:
    assert drift.parse_path(path) == parts


def test_the_cli_exits_1_on_drift_and_0_without(recorded, tmp_path: Path, capsys) -> None:
    dirty, clean = tmp_path / "dirty.json", tmp_path / "clean.json"
    dirty.write_text(json.dumps(recorded))
    clean.write_text(json.dumps({"steps": [s for s in recorded["steps"] if s["op"] == "refresh"]}))
    report = tmp_path / "report.json"
    assert drift.main(["dev", "--from-json", str(dirty), "--report-json", str(report)]) == 1
    assert json.loads(report.read_text())["drift"] is True
    assert drift.main(["dev", "--from-json", str(clean)]) == 0
    assert "No drift in stack dev" in capsys.readouterr().out


def test_the_cli_exits_2_when_the_check_cannot_run(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("not json")
    assert drift.main(["dev", "--from-json", str(broken)]) == 2


def test_docs_reading_previews_lists_every_expected_drift_field_and_its_owner() -> None:
    section = (REPO_ROOT / "docs" / "reading-previews.md").read_text().split("\n## Drift\n", 1)[1]

    def listed(rule: drift.ExpectedDrift) -> bool:
        leaf = drift.parse_path(rule.field)[-1]
        return (f"`{leaf}`" in section or f'{leaf}"]`' in section or f".{leaf}`" in section) and rule.owner in section

    assert [rule.field for rule in drift.EXPECTED_DRIFT if not listed(rule)] == []
