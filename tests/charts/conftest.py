"""Every chart test renders charts that depend on the nexus-lib library chart: build those dependencies once."""

from __future__ import annotations

import pytest

from tooling.helm import build_work_tree_dependencies


@pytest.fixture(scope="session", autouse=True)
def chart_dependencies_built() -> None:
    build_work_tree_dependencies()
