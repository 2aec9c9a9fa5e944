"""The policy pack's modules import each other as top-level modules (`import rules`), as they do when
Pulumi runs the pack from its own directory; the tests import them the same way."""

from __future__ import annotations

import sys

import pytest

from tests.charts.chart_dependencies import build_chart_dependencies
from tooling.paths import REPO_ROOT

POLICY_DIR = REPO_ROOT / "policy"
if str(POLICY_DIR) not in sys.path:
    sys.path.insert(0, str(POLICY_DIR))


@pytest.fixture(scope="session", autouse=True)
def chart_dependencies_built() -> None:
    """The stacks' charts depend on the nexus-lib library chart: build its archives, as the charts tier does."""
    build_chart_dependencies()
