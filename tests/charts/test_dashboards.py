"""The data tier's Grafana dashboards (issue 18): staging and prod ship one ConfigMap per kind of database with the
Grafana sidecar's label, dev none; every panel is valid PromQL (promtool) and queries only metrics the exporters
document (the data-plane tier also runs the PostgreSQL and Redis panels against the real exporters)."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
import yaml

from tests.charts.test_alert_rules import DOCUMENTED, METRIC, PROMTOOL
from tests.charts.test_nexus_database_chart import rendered

pytestmark = pytest.mark.render

KINDS = ("kafka", "mongodb", "postgres", "redis", "zookeeper")
# The metrics the dashboards read beyond those the rules read, by who documents them.
DASHBOARD_ONLY = {
    "postgres-exporter v0.17.1": {"pg_up", "pg_stat_database_xact_commit", "pg_database_size_bytes"},
    "percona mongodb_exporter 0.43 (--compatible-mode names)": {"mongodb_up", "mongodb_op_counters_total"},
    "redis_exporter v1.67.0": {"redis_up", "redis_memory_used_bytes", "redis_commands_processed_total"}
    | {"redis_connected_slaves"},
    "danielqsj kafka-exporter 1.9": {"kafka_brokers", "kafka_topic_partition_current_offset"}
    | {"kafka_consumergroup_lag"},
    "dabealu zookeeper-exporter v0.1.13 (mntr keys as zk_*)": {"zk_up", "zk_num_alive_connections"}
    | {"zk_avg_latency", "zk_outstanding_requests"},
}


def dashboards(stack: str) -> dict[str, dict[str, Any]]:
    """Dashboard JSON by ConfigMap name."""
    maps = [m for m in rendered(stack) if m["kind"] == "ConfigMap" and "-dashboard-" in m["metadata"]["name"]]
    return {m["metadata"]["name"]: json.loads(next(iter(m["data"].values()))) for m in maps}


def panel_expressions(stack: str) -> list[str]:
    return [t["expr"] for d in dashboards(stack).values() for p in d["panels"] for t in p["targets"]]


def test_dev_ships_no_dashboards():
    assert dashboards("dev") == {}


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_staging_and_prod_ship_one_dashboard_per_kind_of_database_for_the_grafana_sidecar(stack):
    maps = [m for m in rendered(stack) if m["kind"] == "ConfigMap" and "-dashboard-" in m["metadata"]["name"]]
    assert sorted(m["metadata"]["name"] for m in maps) == [f"nexus-database-dashboard-{kind}" for kind in KINDS]
    assert {m["metadata"]["labels"]["grafana_dashboard"] for m in maps} == {"1"}


def test_every_dashboard_has_a_namespace_variable_its_panels_filter_on():
    for name, dashboard in dashboards("prod").items():
        assert [v["name"] for v in dashboard["templating"]["list"]] == ["datasource", "namespace"], name
        for panel in dashboard["panels"]:
            assert 'namespace="$namespace"' in panel["targets"][0]["expr"], (name, panel["title"])


def test_every_panel_is_valid_promql(tmp_path):
    # promtool parses each expression as a recording rule's (Debian's 2.42 has no `promql` command).
    rules = [
        {"record": f"dashboard:panel_{i}", "expr": e.replace("$namespace", "data")}
        for i, e in enumerate(panel_expressions("prod"))
    ]
    path = tmp_path / "panels.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": rules}]}))
    result = subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_metric_a_panel_queries_is_one_its_exporter_documents():
    documented = set().union(*DOCUMENTED.values(), *DASHBOARD_ONLY.values())
    named = {name for expr in panel_expressions("prod") for name in METRIC.findall(expr)}
    assert named - documented == set()
