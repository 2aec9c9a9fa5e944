"""bench/deploy.py's pure parts, without a cluster or a timer: the helmfile documents' waits, the release order,
the goal verdicts from given figures, the engine floor's program, and the bench cluster instance's folder and
ports."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from bench import deploy
from bench.run import ChartRender
from tooling.local_cluster import instance

pytestmark = pytest.mark.unit


def render(release: str, namespace: str) -> ChartRender:
    return ChartRender(f"{namespace}/{release}", Path("/charts") / release, release, namespace, {})


RENDERS = [
    render("orders-postgresql", "postgres"),
    render("nexus-database", "data"),
    render("order-command-service", "order-platform"),
]
VALUES = {r.label: Path(f"/values/{r.release}.yaml") for r in RENDERS}


def test_the_waiting_helmfile_document_waits_for_every_release_and_its_jobs() -> None:
    defaults = deploy.sync_document(RENDERS, VALUES, wait=True)["helmDefaults"]
    assert (defaults["wait"], defaults["waitForJobs"]) == (True, True)


def test_the_reference_helmfile_document_does_not_wait() -> None:
    defaults = deploy.sync_document(RENDERS, VALUES, wait=False)["helmDefaults"]
    assert (defaults["wait"], defaults["waitForJobs"]) == (False, False)


def test_the_order_platforms_releases_need_the_database_and_the_data_tier_in_the_helmfile_document() -> None:
    releases = {r["name"]: r for r in deploy.sync_document(RENDERS, VALUES, wait=True)["releases"]}
    assert releases["order-command-service"]["needs"] == ["postgres/orders-postgresql", "data/nexus-database"]


def test_helm_installs_a_release_after_the_releases_it_needs() -> None:
    shuffled = [RENDERS[2], RENDERS[0], RENDERS[1]]
    assert [r.release for r in deploy.install_order(shuffled)] == [
        "orders-postgresql",
        "nexus-database",
        "order-command-service",
    ]


def figures(**overrides: float) -> dict[tuple[str, str], float]:
    base = {
        (deploy.PULUMI, deploy.PREVIEW_WARM): 6.0,
        (deploy.HELMFILE_WAIT, deploy.NOOP): 5.0,
        (deploy.PULUMI, deploy.FRESH): 45.0,
        (deploy.HELMFILE_WAIT, deploy.FRESH): 30.0,
        (deploy.FLOOR, deploy.PREVIEW_WARM): 5.0,
    }
    keys = {"warm": (deploy.PULUMI, deploy.PREVIEW_WARM), "fresh": (deploy.PULUMI, deploy.FRESH)}
    return {**base, **{keys[name]: value for name, value in overrides.items()}}


def test_a_warm_preview_slower_than_helmfiles_no_op_misses_the_first_goal() -> None:
    goal = deploy.goals(figures())[0]
    assert (round(goal.ratio, 2), goal.verdict) == (1.2, "**missed**")


def test_a_fresh_deploy_of_exactly_one_and_a_half_helmfile_syncs_meets_the_second_goal() -> None:
    goal = deploy.goals(figures())[1]
    assert (goal.ratio, goal.verdict) == (1.5, "met")


def test_a_warm_preview_twenty_percent_above_the_floor_meets_the_third_goal_and_more_misses_it() -> None:
    assert deploy.goals(figures(warm=6.0))[2].verdict == "met"
    assert deploy.goals(figures(warm=6.1))[2].verdict == "**missed**"


def test_a_goal_without_its_figures_is_not_measured_rather_than_met() -> None:
    assert [goal.verdict for goal in deploy.goals({})] == ["not measured"] * 3


def test_the_engine_floor_program_brings_its_up_summary_to_the_given_resource_count(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registered: list[str] = []
    fake_random = types.ModuleType("pulumi_random")
    fake_random.RandomString = lambda name, **_: registered.append(name)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pulumi_random", fake_random)
    exec(deploy.floor_program_source(251), {})  # the generated program, against a stand-in random module
    assert len(set(registered)) == 250  # plus the Stack itself: 251 in the summary


def test_the_bench_cluster_shares_no_folder_and_no_port_with_make_ups_or_the_tests() -> None:
    default, test, bench = (instance(name, {}) for name in ("default", "test", "bench"))
    assert bench.state_dir.name == ".local-cluster-bench"
    assert bench.ports.apiserver == default.ports.apiserver + 2 * (test.ports.apiserver - default.ports.apiserver)
    taken = {port for _, port in default.ports.items()} | {port for _, port in test.ports.items()}
    assert taken.isdisjoint(port for _, port in bench.ports.items())
