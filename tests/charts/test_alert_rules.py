"""Our alert rules do what they say: every rule file rendered from our charts (nexus-database's PrometheusRule)
and components (the Bitnami clusters' `metrics.prometheusRule.rules`) passes `promtool check rules`, and
`promtool test rules` with the unit tests in tests/charts/promtool/ shows each alert firing when it should and
silent when it should not. Debian's promtool (`scripts/dataplane-servers.sh install`)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.postgres_cluster import alert_rules
from tooling.helm import CHARTS_DIR, one, render

pytestmark = pytest.mark.render

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
TESTS = Path(__file__).parent / "promtool"
# Which rules each unit-test file exercises.
SUITES = {
    "data-common.yaml": "nexus-database",
    "data-postgres.yaml": "nexus-database",
    "data-mongodb.yaml": "nexus-database",
    "data-redis.yaml": "nexus-database",
    "data-kafka.yaml": "nexus-database",
    "bitnami-postgres.yaml": "bitnami-postgresql",
}


def nexus_database_groups() -> list[dict[str, Any]]:
    values = CHARTS_DIR / "nexus-database" / "ci" / "all-features-values.yaml"
    manifests = render("nexus-database", values_files=[values], release="nexus-database", namespace="data")
    return one(manifests, "PrometheusRule")["spec"]["groups"]


def bitnami_groups() -> list[dict[str, Any]]:
    return [{"name": "orders-postgresql", "rules": alert_rules("orders-postgresql", "postgres")}]


RULES = {"nexus-database": nexus_database_groups, "bitnami-postgresql": bitnami_groups}


def without_annotations(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**g, "rules": [{k: v for k, v in r.items() if k != "annotations"} for r in g["rules"]]} for g in groups]


def promtool(*args: str | Path) -> subprocess.CompletedProcess:
    if not Path(PROMTOOL).exists():
        pytest.fail("promtool is missing: run scripts/dataplane-servers.sh install")
    return subprocess.run([PROMTOOL, *map(str, args)], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def rule_files(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    """(full rules, rules without annotations) per rule source, as files promtool reads."""
    folder = tmp_path_factory.mktemp("rules")
    files = {}
    for source, groups in RULES.items():
        rendered = groups()
        full, bare = folder / f"{source}.yaml", folder / f"{source}-bare.yaml"
        full.write_text(yaml.safe_dump({"groups": rendered}))
        bare.write_text(yaml.safe_dump({"groups": without_annotations(rendered)}))
        files[source] = (full, bare)
    return files


@pytest.mark.parametrize("source", sorted(RULES))
def test_the_rendered_rules_and_their_annotation_templates_are_valid(rule_files, source):
    result = promtool("check", "rules", rule_files[source][0])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("suite", sorted(SUITES))
def test_each_alert_fires_when_it_should_and_stays_silent_otherwise(rule_files, suite, tmp_path):
    test = yaml.safe_load((TESTS / suite).read_text())
    test["rule_files"] = [str(rule_files[SUITES[suite]][1])]
    path = tmp_path / suite
    path.write_text(yaml.safe_dump(test))
    result = promtool("test", "rules", path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("source", sorted(RULES))
def test_every_alert_has_a_unit_test_in_which_it_fires(source):
    alerts = {rule["alert"] for group in RULES[source]() for rule in group["rules"]}
    fired = {
        check["alertname"]
        for suite, tested in SUITES.items()
        if tested == source
        for case in yaml.safe_load((TESTS / suite).read_text())["tests"]
        for check in case["alert_rule_test"]
        if check.get("exp_alerts")
    }
    assert alerts - fired == set(), f"alerts of {source} no unit test makes fire"
