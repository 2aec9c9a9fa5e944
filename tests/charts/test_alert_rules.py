"""Our alert rules do what they say: every rule file rendered from our charts (nexus-database's PrometheusRule)
and components (the Bitnami clusters' `metrics.prometheusRule.rules`) passes `promtool check rules`, and
`promtool test rules` with the unit tests in tests/charts/promtool/ shows each alert firing when it should and
silent when it should not. Debian's promtool (`scripts/dataplane-servers.sh install`)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.postgres_cluster import alert_rules
from tests.charts.test_order_platform_charts import OPERATOR_SECRETS
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
    "order-services.yaml": "order-services",
    "fluxiondb.yaml": "fluxiondb",
}


def nexus_database_groups() -> list[dict[str, Any]]:
    values = CHARTS_DIR / "nexus-database" / "ci" / "all-features-values.yaml"
    manifests = render("nexus-database", values_files=[values], release="nexus-database", namespace="data")
    return one(manifests, "PrometheusRule")["spec"]["groups"]


def order_service_groups() -> list[dict[str, Any]]:
    """api-gateway (a Deployment) and order-query-service (a StatefulSet with persistence), all features on."""
    groups = []
    for service in ("api-gateway", "order-query-service"):
        values = CHARTS_DIR / service / "ci" / "all-features-values.yaml"
        manifests = render(
            service,
            values=OPERATOR_SECRETS[service],
            values_files=[values],
            release=service,
            namespace="order-platform",
        )
        groups += one(manifests, "PrometheusRule")["spec"]["groups"]
    return groups


def fluxiondb_groups() -> list[dict[str, Any]]:
    """A tenant (release fluxiondb in fluxiondb-acme) with every feature on: ServiceMonitor, persistence, rules."""
    values = CHARTS_DIR / "fluxiondb" / "ci" / "all-features-values.yaml"
    manifests = render("fluxiondb", values_files=[values], release="fluxiondb", namespace="fluxiondb-acme")
    return one(manifests, "PrometheusRule")["spec"]["groups"]


def bitnami_groups() -> list[dict[str, Any]]:
    """The orders cluster as staging and prod back it up (CronJob orders-postgres-backup)."""
    return [{"name": "orders-postgresql", "rules": alert_rules("orders-postgresql", "postgres", "orders-postgres")}]


RULES = {
    "nexus-database": nexus_database_groups,
    "bitnami-postgresql": bitnami_groups,
    "order-services": order_service_groups,
    "fluxiondb": fluxiondb_groups,
}
METRIC = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{")
# The metrics our rules may name, by who documents them. PostgreSQL's, Redis', Kafka's and ZooKeeper's are also
# checked against the real exporters' output in the data-plane tier (tests/dataplane/test_monitoring.py); the
# others only against this list, taken from each project's metric reference for the version our images pin.
DOCUMENTED = {
    "Prometheus (every scrape target)": {"up"},
    "kube-state-metrics v2 (docs/metrics/workload/*)": {
        "kube_statefulset_replicas",
        "kube_statefulset_status_replicas_ready",
        "kube_job_status_failed",
        "kube_cronjob_status_last_successful_time",
        "kube_pod_container_status_last_terminated_reason",
        "kube_pod_container_status_restarts_total",
        "kube_deployment_status_replicas_available",
        "kube_deployment_status_replicas_unavailable",
        "kube_horizontalpodautoscaler_status_current_replicas",
        "kube_horizontalpodautoscaler_spec_max_replicas",
    },
    "kubelet volume stats": {"kubelet_volume_stats_used_bytes", "kubelet_volume_stats_capacity_bytes"},
    "cert-manager": {"certmanager_certificate_expiration_timestamp_seconds"},
    "percona mongodb_exporter 0.43 (--compatible-mode names)": {
        "mongodb_mongod_replset_member_replication_lag",
        "mongodb_connections",
    },
    # Named by our own rules files (charts/nexus-database/files/jmx-*.yaml), exported live in the data-plane tier.
    "the Kafka brokers' JMX exporter agent (files/jmx-kafka.yaml)": {
        "kafka_server_replicamanager_underreplicatedpartitions",
        "kafka_controller_kafkacontroller_offlinepartitionscount",
        "kafka_controller_kafkacontroller_activecontrollercount",
    },
    "postgres-exporter v0.17.1": {
        "pg_replication_lag_seconds",
        "pg_replication_is_replica",
        "pg_stat_activity_count",
        "pg_settings_max_connections",
    },
    "redis_exporter v1.67.0": {
        "redis_master_link_up",
        "redis_connected_slave_lag_seconds",
        "redis_connected_clients",
        "redis_config_maxclients",
    },
}


def without_annotations(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**g, "rules": [{k: v for k, v in r.items() if k != "annotations"} for r in g["rules"]]} for g in groups]


def promtool(*args: str | Path) -> subprocess.CompletedProcess:
    if not Path(PROMTOOL).exists():
        pytest.fail("promtool is missing: run scripts/dataplane-servers.sh install")
    # A guard against a hung promtool, not a time limit: the data tier's suite evaluates up to a week of series
    # minute by minute (certificate expiry, late backups), about 90 s of CPU here; a busy machine takes longer.
    return subprocess.run([PROMTOOL, *map(str, args)], capture_output=True, text=True, timeout=900)


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


@pytest.mark.parametrize("source", sorted(RULES))
def test_every_metric_a_rule_names_is_one_its_exporter_documents(source):
    documented = set().union(*DOCUMENTED.values())
    named = {name for group in RULES[source]() for rule in group["rules"] for name in METRIC.findall(rule["expr"])}
    assert named - documented == set()
