"""Every chart test renders charts that depend on the nexus-lib library chart: build those dependencies once."""

from __future__ import annotations

import pytest

from tests.charts.chart_dependencies import build_chart_dependencies


@pytest.fixture(scope="session", autouse=True)
def chart_dependencies_built() -> None:
    build_chart_dependencies()
