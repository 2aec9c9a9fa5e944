"""Our charts build on the nexus-lib library chart, a `file://` dependency whose archive is build output
(never committed): every release of such a chart must have the provider resolve it, or a fresh clone
cannot render it."""

from __future__ import annotations

from pathlib import Path

from components.helm import has_local_dependencies
from tooling.paths import CHARTS_DIR
from tooling.stacks import StackRun


def test_every_release_of_a_chart_with_dependencies_resolves_them_at_render_time(any_stack: StackRun):
    charts = any_stack.charts()
    ours = {name: chart for name, chart in charts.items() if Path(chart.inputs["chart"]).parent == CHARTS_DIR}
    assert ours, "the stack deploys none of our charts"
    unresolved = [
        name
        for name, chart in ours.items()
        if has_local_dependencies(chart.inputs["chart"]) and chart.inputs.get("dependencyUpdate") is not True
    ]
    assert not unresolved, f"charts deployed without resolving their library dependency: {unresolved}"


def test_each_of_our_charts_declares_the_library_as_a_dependency():
    charts = [path for path in CHARTS_DIR.iterdir() if (path / "Chart.yaml").is_file()]
    application_charts = [path for path in charts if path.name != "nexus-lib"]
    assert len(application_charts) == 6
    assert all(has_local_dependencies(str(path)) for path in application_charts)
