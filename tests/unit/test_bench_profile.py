"""The profile's pure parts (bench/profile.py, bench/run.py `process_kind`): each process of a `pulumi` run is
counted as the part it is, and the engine functions are read from `go tool pprof -top -cum` as it prints them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bench import profile
from bench.run import process_kind, side_by_side_goals

pytestmark = pytest.mark.unit


class FakeProcess:
    def __init__(self, *argv: str) -> None:
        self.argv = list(argv)

    def cmdline(self) -> list[str]:
        return self.argv


@pytest.mark.parametrize(
    "argv, kind",
    [
        (["/repo/.tools/bin/pulumi", "up", "--yes"], "engine (pulumi CLI)"),
        (
            ["/home/.tools/pulumi-home/plugins/resource-kubernetes-v4.25.0/pulumi-resource-kubernetes", "127.0.0.1:1"],
            "kubernetes provider",
        ),
        (
            [".venv/bin/python", "-u", "/repo/.tools/bin/pulumi-language-python-exec", "--monitor", "x"],
            "our Python program",
        ),
        (["/repo/.tools/bin/pulumi-resource-pulumi-python", "127.0.0.1:2"], "dynamic provider (StorageGuard)"),
        ([".venv/bin/python", "-u", "-m", "pulumi.dynamic", "127.0.0.1:2"], "dynamic provider (StorageGuard)"),
        (["/repo/.tools/bin/pulumi-language-python", "127.0.0.1:3"], "language host"),
        ([".venv/bin/python", "-m", "pip", "--version"], "other"),
    ],
)
def test_each_process_of_a_pulumi_run_counts_as_its_part(argv, kind):
    assert process_kind(FakeProcess(*argv)) == kind  # type: ignore[arg-type]


PPROF_TOP = """File: pulumi
Type: cpu
Duration: 60.63s, Total samples = 30.66s (50.57%)
      flat  flat%   sum%        cum   cum%
     0.01s 0.033% 0.033%     19.33s 63.05%  github.com/pulumi/pulumi/pkg/v3/backend.(*SnapshotManager).saveSnapshot
         0     0% 0.033%     12.67s 41.32%  github.com/pulumi/pulumi/pkg/v3/backend/diy.(*diySnapshotPersister).Save
         0     0%  0.46%      6.30s 20.55%  github.com/pulumi/pulumi/pkg/v3/backend.(*SnapshotManager).Deployment
     0.01s 0.033% 13.54%    310ms 10.31%  github.com/pulumi/pulumi/sdk/v3/go/common/util/logging.VerboseLogger.Infof
"""


def test_the_engine_functions_are_read_from_pprofs_cumulative_top(monkeypatch):
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 0, PPROF_TOP, ""))
    total, found = profile.pprof_cumulative(Path("engine.cpu"))
    assert total == 30.66
    assert found["saving the state after each step (SnapshotManager.saveSnapshot)"] == 19.33
    assert found["of which: writing it to the file backend (diySnapshotPersister.Save)"] == 12.67
    assert found["the automatic operation log (logging.VerboseLogger.Infof)"] == 0.31
    assert "marshalling properties for providers (plugin.MarshalProperties)" not in found


def test_the_benchmarks_report_states_the_side_by_side_goals_of_the_comparisons_last_run(tmp_path):
    (tmp_path / "benchmarks-comparison.md").write_text(
        "# Deploy steps\n\n- Run: 2026-12-03 19:03 UTC, 3 repeat(s)\n\n## Goals\n\n| Goal | Ratio | Result |\n"
        "|---|---|---|\n| fresh deploy | 6.4 | **missed** |\n\n## preview, cold\n\n| Tool |\n"
    )
    lines = side_by_side_goals(tmp_path)
    assert "| fresh deploy | 6.4 | **missed** |" in lines and "| Tool |" not in lines
    assert any("2026-12-03 19:03 UTC" in line for line in lines)


def test_without_a_comparison_run_the_report_says_it_has_not_run(tmp_path):
    assert "not run yet" in " ".join(side_by_side_goals(tmp_path))
