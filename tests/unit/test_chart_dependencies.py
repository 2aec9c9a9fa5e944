"""Our charts build on the nexus-lib library chart, a `file://` dependency whose archive is build output (never
committed). The program packages it into each chart itself before registering a release (not the provider's
`dependencyUpdate`, which rebuilt one chart's archive once per release, concurrently): a fresh clone renders,
and two releases of one chart never race."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import pytest

from components.helm import chart_dependencies, package_local_dependencies
from tooling.helm import LIBRARY_CHART, OUR_CHARTS, render
from tooling.paths import CHARTS_DIR
from tooling.stacks import StackRun


def test_no_release_asks_the_provider_to_update_dependencies(any_stack: StackRun):
    asking = [name for name, chart in any_stack.charts().items() if chart.inputs.get("dependencyUpdate")]
    assert not asking, f"releases that would run helm dependency update per release: {asking}"


def test_every_release_of_our_charts_finds_the_library_packaged_in_its_charts_folder(any_stack: StackRun):
    ours = [
        Path(c.inputs["chart"]) for c in any_stack.charts().values() if Path(c.inputs["chart"]).parent == CHARTS_DIR
    ]
    assert ours, "the stack deploys none of our charts"
    missing = [str(chart) for chart in ours if not list((chart / "charts").glob(f"{LIBRARY_CHART}-*.tgz"))]
    assert not missing, f"charts without their library archive: {missing}"


def test_each_of_our_charts_declares_the_library_as_its_one_dependency():
    assert all([d["name"] for d in chart_dependencies(CHARTS_DIR / chart)] == [LIBRARY_CHART] for chart in OUR_CHARTS)


@pytest.fixture
def chart_copy(tmp_path: Path) -> Path:
    """fluxiondb and the library side by side in a folder of their own, with no archive yet (a fresh clone)."""
    for name in ("fluxiondb", LIBRARY_CHART):
        shutil.copytree(CHARTS_DIR / name, tmp_path / name, ignore=shutil.ignore_patterns("*.tgz"))
    return tmp_path / "fluxiondb"


def test_a_packaged_chart_renders_with_plain_helm_and_no_dependency_build(chart_copy: Path):
    package_local_dependencies(chart_copy)
    manifests = render(chart_copy, values={"secret": {"secretKey": "test-key"}}, validate=False)
    assert any(m["kind"] == "Deployment" for m in manifests)


def test_packaging_again_leaves_an_unchanged_archive_untouched(chart_copy: Path):
    (archive,) = package_local_dependencies(chart_copy)
    before = archive.stat().st_mtime_ns
    assert package_local_dependencies(chart_copy) == [archive]
    assert archive.stat().st_mtime_ns == before


def test_a_library_change_repackages_the_archive(chart_copy: Path):
    (archive,) = package_local_dependencies(chart_copy)
    before = archive.read_bytes()
    helpers = chart_copy.parent / LIBRARY_CHART / "templates" / "_names.tpl"
    helpers.write_text(helpers.read_text() + "\n{{/* changed */}}\n")
    package_local_dependencies(chart_copy)
    assert archive.read_bytes() != before


def test_the_archive_leaves_out_what_the_librarys_helmignore_lists(chart_copy: Path):
    (archive,) = package_local_dependencies(chart_copy)
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert f"{LIBRARY_CHART}/Chart.yaml" in names
    assert not [n for n in names if n.startswith(f"{LIBRARY_CHART}/schema/") or n.endswith("README.md")]
