"""Our Grafana dashboards (issue 18): staging and prod ship one ConfigMap per kind of database and one per service
(core-pipeline, each order service, each FluxionDB tenant) with the Grafana sidecar's label, dev none; every panel
is valid PromQL (promtool) and queries only metrics their exporters document (the data-plane tier also runs the
PostgreSQL, Redis, Kafka and ZooKeeper panels against the real exporters; the services' own metrics, Spring Boot
Actuator's, only against its documentation: their images are not ours to run)."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
import yaml

from tests.charts.test_alert_rules import DOCUMENTED, METRIC, PROMTOOL
from tests.charts.test_nexus_database_chart import rendered
from tests.policy.stack_objects import stack_objects

pytestmark = pytest.mark.render

KINDS = ("kafka", "mongodb", "postgres", "redis", "zookeeper")
# The metrics the dashboards read beyond those the rules read, by who documents them.
DASHBOARD_ONLY = {
    "postgres-exporter v0.17.1": {"pg_up", "pg_stat_database_xact_commit", "pg_database_size_bytes"},
    "percona mongodb_exporter 0.43 (--compatible-mode names)": {"mongodb_up", "mongodb_op_counters_total"},
    "redis_exporter v1.67.0": {"redis_up", "redis_memory_used_bytes", "redis_commands_processed_total"}
    | {"redis_connected_slaves"},
    "the Kafka brokers' JMX exporter agent (files/jmx-kafka.yaml)": {
        "kafka_server_brokertopicmetrics_messagesin_total",
        "kafka_server_brokertopicmetrics_bytesin_total",
        "kafka_server_brokertopicmetrics_bytesout_total",
        "kafka_network_requestmetrics_totaltimems_p99",
    },
    "ZooKeeper's JMX exporter agent (files/jmx-zookeeper.yaml)": {
        "zookeeper_numaliveconnections",
        "zookeeper_outstandingrequests",
        "zookeeper_avgrequestlatency",
        "zookeeper_datatree_nodecount",
        "zookeeper_datatree_watchcount",
    },
    "jmx_prometheus_javaagent 0.18.0's JVM collectors": {"jvm_memory_bytes_used"},
}
# What the services' dashboards read beyond kube-state-metrics and `up`.
SERVICE_METRICS = {
    "kube-state-metrics v2": {"kube_deployment_spec_replicas", "kube_statefulset_replicas"}
    | {"kube_statefulset_status_replicas_ready", "kube_deployment_status_replicas_available"},
    "cAdvisor (the kubelet's /metrics/cadvisor)": {"container_cpu_usage_seconds_total"}
    | {"container_memory_working_set_bytes"},
    # Spring Boot Actuator's /actuator/prometheus (Micrometer: http.server.requests, jvm.memory.used, jvm.gc.pause,
    # jvm.threads.live), docs.spring.io "Supported Metrics and Meters".
    "Spring Boot Actuator 3.x (Micrometer)": {"http_server_requests_seconds_count", "http_server_requests_seconds_sum"}
    | {"jvm_memory_used_bytes", "jvm_gc_pause_seconds_sum", "jvm_threads_live_threads"},
}
SERVICES = ("core-pipeline", "api-gateway", "order-command-service", "order-query-service")


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


def service_dashboards(stack: str) -> dict[str, dict[str, Any]]:
    """The services' dashboard JSON by `<namespace>/<ConfigMap name>`."""
    return {
        f"{o['metadata']['namespace']}/{o['metadata']['name']}": json.loads(next(iter(o["data"].values())))
        for o in stack_objects(stack).values()
        if o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith("-dashboard")
    }


def test_dev_ships_no_service_dashboards():
    assert service_dashboards("dev") == {}


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_every_scraped_service_and_tenant_ships_its_own_dashboard_for_the_grafana_sidecar(stack):
    objects = stack_objects(stack).values()
    scraped = {
        f"{o['metadata']['namespace']}/{o['metadata']['name']}-dashboard"
        for o in objects
        if o["kind"] == "ServiceMonitor"
        and o["metadata"]["labels"]["app.kubernetes.io/name"] in (*SERVICES, "fluxiondb")
    }
    assert {name.split("/")[1] for name in scraped} >= {f"{s}-dashboard" for s in SERVICES}
    assert any("fluxiondb" in name for name in scraped), "no FluxionDB tenant is scraped"
    assert set(service_dashboards(stack)) == scraped
    labels = {
        o["metadata"]["labels"].get("grafana_dashboard")
        for o in objects
        if o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith("-dashboard")
    }
    assert labels == {"1"}


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_no_two_dashboards_of_a_stack_share_a_grafana_uid(stack):
    uids = [d["uid"] for d in service_dashboards(stack).values()] + [d["uid"] for d in dashboards(stack).values()]
    assert len(uids) == len(set(uids)) and all(len(uid) <= 40 for uid in uids), uids


def test_every_service_panel_is_valid_promql_filtered_on_the_namespace_variable(tmp_path):
    exprs = [t["expr"] for d in service_dashboards("prod").values() for p in d["panels"] for t in p["targets"]]
    assert exprs and all('namespace="$namespace"' in e for e in exprs)
    rules = [{"record": f"dashboard:panel_{i}", "expr": e.replace("$namespace", "x")} for i, e in enumerate(exprs)]
    path = tmp_path / "panels.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": rules}]}))
    result = subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_metric_a_service_panel_queries_is_one_its_exporter_documents():
    documented = set().union(*DOCUMENTED.values(), *SERVICE_METRICS.values())
    named = {
        name
        for d in service_dashboards("prod").values()
        for p in d["panels"]
        for t in p["targets"]
        for name in METRIC.findall(t["expr"])
    }
    assert named - documented == set()
    assert "http_server_requests_seconds_count" in named, "the order services' request panels are missing"
