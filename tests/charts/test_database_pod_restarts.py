"""The data tier's servers restart for the scripts they run and for nothing else: a backup or restore script (run by
the backup and restore Jobs, which read the scripts ConfigMap when they start) can be added or changed without
restarting a database, while a change to a script the servers run still rolls them (charts/nexus-database
`nexus-database.checksums`)."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from tooling.helm import CHARTS_DIR, render

pytestmark = pytest.mark.render

CHART = "nexus-database"


def _scripts_checksums(chart: Path) -> dict[str, str]:
    manifests = render(chart, values_files=[chart / "values-prod.yaml"], validate=False)
    return {
        f"{m['kind']}/{m['metadata']['name']}": annotations["checksum/scripts"]
        for m in manifests
        if m["kind"] == "StatefulSet" and "checksum/scripts" in (annotations := _annotations(m["spec"]["template"]))
    }


def _annotations(template: Mapping[str, Any]) -> dict[str, str]:
    return dict((template.get("metadata") or {}).get("annotations") or {})


@pytest.fixture(scope="module")
def unchanged() -> dict[str, str]:
    return _scripts_checksums(CHARTS_DIR / CHART)


@pytest.fixture
def chart_copy(tmp_path: Path) -> Path:
    copy = tmp_path / CHART
    shutil.copytree(CHARTS_DIR / CHART, copy)
    return copy


def test_every_database_statefulset_carries_the_checksum_of_its_scripts(unchanged):
    assert len(unchanged) >= 9, sorted(unchanged)  # five PostgreSQL, two MongoDB, Redis, Kafka, ZooKeeper


def test_a_new_restore_script_restarts_no_database(chart_copy, unchanged):
    (chart_copy / "files" / "restore-something-new.sh").write_text("#!/bin/sh\necho restore\n")
    assert _scripts_checksums(chart_copy) == unchanged


def test_a_changed_backup_script_restarts_no_database(chart_copy, unchanged):
    upload = chart_copy / "files" / "backup-upload.sh"
    upload.write_text(upload.read_text() + "\n# changed\n")
    assert _scripts_checksums(chart_copy) == unchanged


def test_a_changed_start_script_still_rolls_the_database_pods(chart_copy, unchanged):
    start = chart_copy / "files" / "redis-start.sh"
    start.write_text(start.read_text() + "\n# changed\n")
    changed = _scripts_checksums(chart_copy)
    assert set(changed) == set(unchanged)
    assert changed["StatefulSet/redis"] != unchanged["StatefulSet/redis"]
