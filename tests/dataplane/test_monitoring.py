"""Smoke test for the observability issue: the exporter sidecars of charts/nexus-database (prod stack's values
with `metrics.enabled: true`; no committed stack turns the sidecars on yet), run with their rendered env next
to a PostgreSQL and a Redis pod, answer with the databases up, and a Prometheus scrapes them.

Versions: Debian's exporters and Prometheus (tooling/dataplane/monitoring.py names them against the chart's
images). `pg_up` and `redis_up` are named and mean the same in both; the newer exporters add metrics, which
nothing here reads.
"""

from __future__ import annotations

import pytest

from tests.dataplane.conftest import chart_namespace, rendered
from tooling.dataplane import monitoring, postgres, redis
from tooling.dataplane.processes import wait_for

STACK = "prod"
CHART = "nexus-database"
METRICS = {"metrics": {"enabled": True}}


@pytest.fixture
def monitored(make_cluster):
    cluster = make_cluster(rendered(STACK, CHART, METRICS), chart_namespace(STACK, CHART))
    pg_pod = cluster.pod("StatefulSet", "product-postgres", 0)
    postgres.official_entrypoint(pg_pod.container("postgres"))
    redis_pod = cluster.pod("StatefulSet", "redis", 0)
    redis.start(redis_pod.container("redis"))
    _, pg_metrics = monitoring.start_exporter(pg_pod.container("metrics"))
    _, redis_metrics = monitoring.start_exporter(redis_pod.container("metrics"))
    return cluster, pg_metrics, redis_metrics


def test_exporter_sidecars_report_their_databases_up_with_the_rendered_credentials(monitored):
    _, pg_metrics, redis_metrics = monitored
    assert "\npg_up 1\n" in "\n" + monitoring.metrics(pg_metrics)
    assert "\nredis_up 1\n" in "\n" + monitoring.metrics(redis_metrics)


def test_prometheus_scrapes_both_exporters(monitored):
    cluster, pg_metrics, redis_metrics = monitored
    address = cluster.network.allocate()
    root = cluster.mkdir(cluster.root / "prometheus")
    monitoring.start_prometheus(cluster.supervisor, root, address, [pg_metrics, redis_metrics], cluster.mkdir)

    def scraped() -> bool:
        up = monitoring.query(address, "pg_up == 1 or redis_up == 1")
        return len(up) == 2

    wait_for(scraped, what="pg_up and redis_up in Prometheus", timeout=60)
