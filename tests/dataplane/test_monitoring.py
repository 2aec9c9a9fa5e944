"""The observability issue (18) on real servers: the exporter sidecars of charts/nexus-database, as the prod stack
renders them (exporters on since issue 18), run with their rendered env next to a PostgreSQL primary and a Redis
primary with one replica, answer with the databases up, and a real Prometheus scrapes them with the target labels
the Prometheus Operator gives a ServiceMonitor's targets (`namespace`, `pod`). Against that Prometheus, every
expression of our alert rules (nexus-database's PrometheusRule and the Bitnami cluster's rules) and of our Grafana
dashboards' panels evaluates without error, and every PostgreSQL and Redis metric they name is one the exporters
export.

Versions: Debian's exporters and Prometheus (tooling/dataplane/monitoring.py names them against the chart's
images: postgres-exporter 0.11 here, v0.17.1 in the image; redis_exporter 1.45 here, v1.67.0 in the image). The
names the rules use exist in both, but for the two of v0.17.1's replication collector, which 0.11 lacks
(NEWER_THAN_DEBIAN: their expressions still evaluate here, to nothing). The MongoDB and
Kafka exporters are not run here: tests/charts/test_alert_rules.py checks their names against the metrics those
exporters document.
"""

from __future__ import annotations

import json
import re

import pytest

from components.postgres_cluster import alert_rules
from tests.dataplane.conftest import chart_namespace, rendered
from tooling.dataplane import monitoring, postgres, redis
from tooling.dataplane.processes import wait_for

STACK = "prod"
CHART = "nexus-database"
METRIC = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{")
# Named by the rules, exported by the images' postgres-exporter (v0.17.1: its `replication` collector, on by
# default since v0.13) but not by Debian's 0.11, which has no such collector: the one gap between the two.
NEWER_THAN_DEBIAN = {"pg_replication_lag_seconds", "pg_replication_is_replica"}


def rule_groups() -> list[dict]:
    rule = next(o for o in rendered(STACK, CHART) if o["kind"] == "PrometheusRule")
    return [
        *rule["spec"]["groups"],
        {"name": "orders-postgresql", "rules": alert_rules("orders-postgresql", "postgres")},
    ]


def panels() -> list[tuple[str, str]]:
    """(dashboard/panel, PromQL) of every Grafana dashboard panel, its `$namespace` variable set to the data tier's."""
    maps = [o for o in rendered(STACK, CHART) if o["kind"] == "ConfigMap" and "-dashboard-" in o["metadata"]["name"]]
    boards = [json.loads(next(iter(m["data"].values()))) for m in maps]
    return [
        (f"{b['title']}/{p['title']}", t["expr"].replace("$namespace", chart_namespace(STACK, CHART)))
        for b in boards
        for p in b["panels"]
        for t in p["targets"]
    ]


def expressions() -> list[tuple[str, str]]:
    """(group/alert or dashboard/panel, PromQL) of every rule and every dashboard panel."""
    return [(f"{g['name']}/{r['alert']}", r["expr"]) for g in rule_groups() for r in g["rules"]] + panels()


def named(prefixes: tuple[str, ...]) -> dict[str, set[str]]:
    """Metric name -> the alerts naming it, for the metrics with one of `prefixes`."""
    names: dict[str, set[str]] = {}
    for alert, expr in expressions():
        for name in METRIC.findall(expr):
            if name.startswith(prefixes):
                names.setdefault(name, set()).add(alert)
    return names


@pytest.fixture
def cluster_and_exporters(make_cluster):
    namespace = chart_namespace(STACK, CHART)
    cluster = make_cluster(rendered(STACK, CHART), namespace)
    pg_pod = cluster.pod("StatefulSet", "product-postgres", 0)
    postgres.official_entrypoint(pg_pod.container("postgres"))
    primary, replica = cluster.pod("StatefulSet", "redis", 0), cluster.pod("StatefulSet", "redis", 1)
    redis.start(primary.container("redis"))
    redis.start(replica.container("redis"))
    targets = {}
    for pod in (pg_pod, primary, replica):
        _, address = monitoring.start_exporter(pod.container("metrics"))
        targets[address] = {"namespace": namespace, "pod": pod.name}
    return cluster, targets


def test_exporter_sidecars_report_their_databases_up_with_the_rendered_credentials(cluster_and_exporters):
    _, targets = cluster_and_exporters
    pg, redis_primary, _ = targets
    assert "\npg_up 1\n" in "\n" + monitoring.metrics(pg)
    assert "\nredis_up 1\n" in "\n" + monitoring.metrics(redis_primary)


@pytest.fixture
def prometheus(cluster_and_exporters):
    cluster, targets = cluster_and_exporters
    address = cluster.network.allocate()
    root = cluster.mkdir(cluster.root / "prometheus")
    monitoring.start_prometheus(cluster.supervisor, root, address, list(targets), cluster.mkdir, labels=targets)

    def scraped() -> bool:
        # Every exporter scraped, and the replica's link and the primary's view of it reported.
        up = monitoring.query(address, "pg_up == 1 or redis_up == 1")
        linked = monitoring.query(address, "redis_master_link_up == 1 or redis_connected_slave_lag_seconds >= 0")
        return len(up) == 3 and len(linked) >= 2

    wait_for(scraped, what="both exporters and the Redis replication metrics in Prometheus", timeout=90)
    return address


def test_prometheus_scrapes_the_exporters_with_the_operators_namespace_and_pod_labels(prometheus):
    up = monitoring.query(prometheus, 'up{namespace="data", pod=~"product-postgres-0|redis-0|redis-1"} == 1')
    assert sorted(series["metric"]["pod"] for series in up) == ["product-postgres-0", "redis-0", "redis-1"]


def test_every_alert_and_dashboard_expression_evaluates_without_error(prometheus):
    errors = []
    for alert, expr in expressions():
        try:
            monitoring.evaluate(prometheus, expr)
        except monitoring.QueryError as error:
            errors.append(f"{alert}: {error}")
    assert not errors


def test_every_postgres_and_redis_metric_the_rules_and_dashboards_name_is_exported(prometheus):
    exported = monitoring.metric_names(prometheus)
    names = named(("pg_", "redis_"))
    missing = {name: sorted(alerts) for name, alerts in names.items() if name not in exported | NEWER_THAN_DEBIAN}
    assert not missing, f"named by our rules, exported by neither exporter: {missing}"
    assert set(names) >= NEWER_THAN_DEBIAN and not NEWER_THAN_DEBIAN & exported, "update NEWER_THAN_DEBIAN"
