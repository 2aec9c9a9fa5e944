"""The project's Pulumi home (scripts/pulumi-env.sh) keeps the CLI's automatic operation logs off: a full log of
every operation, which cost about three quarters of the engine's CPU in a warm prod preview
(docs/benchmarks-comparison.md), is written only when NEXUS_PULUMI_LOGS=1 asks for it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tooling.engine import ProgramCopy, pulumi_environment

pytestmark = pytest.mark.engine


def _pulumi_version(env: dict[str, str]) -> None:
    subprocess.run(["pulumi", "version"], env=env, check=True, capture_output=True, timeout=120)


def test_the_cli_writes_no_operation_log_in_the_projects_pulumi_home(engine_program: ProgramCopy) -> None:
    env = engine_program.env
    logs = Path(env["PULUMI_HOME"]) / "logs"
    _pulumi_version(env)
    assert logs.is_file(), f"{logs} should be the file that keeps the CLI from logging"


def test_asking_for_the_logs_lets_the_cli_write_them_and_asking_no_more_turns_them_off(
    engine_program: ProgramCopy, tmp_path: Path
) -> None:
    logs = Path(engine_program.env["PULUMI_HOME"]) / "logs"
    try:
        _pulumi_version(pulumi_environment(tmp_path / "state", {"NEXUS_PULUMI_LOGS": "1"}))
        assert logs.is_dir() and any(logs.iterdir())
    finally:
        _pulumi_version(pulumi_environment(tmp_path / "state"))
    assert logs.is_file()
