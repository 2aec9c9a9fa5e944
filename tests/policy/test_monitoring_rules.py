"""Prod ships no data store nobody scrapes (data-store-scraped): every StatefulSet has a ServiceMonitor selecting a
Service that selects its pods, or a PodMonitor selecting its pods, in its namespace."""

from __future__ import annotations

import pytest
import rules

from tests.policy.manifests import LABELS, statefulset

pytestmark = pytest.mark.unit


def metrics_service(namespace: str = "orders", selector: dict | None = None) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "db-headless", "namespace": namespace, "labels": dict(LABELS)},
        "spec": {"clusterIP": "None", "ports": [{"name": "metrics", "port": 9187}], "selector": selector or LABELS},
    }


def monitor(kind: str = "ServiceMonitor", namespace: str = "orders", labels: dict | None = None) -> dict:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": kind,
        "metadata": {"name": "db", "namespace": namespace},
        "spec": {"selector": {"matchLabels": labels or dict(LABELS)}, "endpoints": [{"port": "metrics"}]},
    }


def problems(*objects: dict) -> list[str]:
    return [problem for _, problem in rules.data_stores_without_scrape_object(dict(enumerate(objects)))]


def test_a_statefulset_whose_service_a_servicemonitor_selects_passes():
    assert problems(statefulset(), metrics_service(), monitor()) == []


def test_a_statefulset_a_podmonitor_selects_passes():
    assert problems(statefulset(), monitor("PodMonitor")) == []


def test_a_statefulset_without_any_scrape_object_is_refused_naming_it_and_the_config_to_set():
    [problem] = problems(statefulset(), metrics_service())
    assert "StatefulSet orders/db" in problem and "monitoring" in problem


def test_a_servicemonitor_in_another_namespace_does_not_count():
    assert len(problems(statefulset(), metrics_service(), monitor(namespace="monitoring"))) == 1


def test_a_servicemonitor_whose_namespace_selector_names_the_data_stores_namespace_counts():
    scraper = monitor(namespace="monitoring")
    scraper["spec"]["namespaceSelector"] = {"matchNames": ["orders"]}
    assert problems(statefulset(), metrics_service(), scraper) == []


def test_a_servicemonitor_selecting_a_service_of_other_pods_does_not_count():
    other = metrics_service(selector={"app.kubernetes.io/name": "something-else"})
    assert len(problems(statefulset(), other, monitor())) == 1


def test_deployments_are_not_data_stores():
    deployment = statefulset()
    deployment["kind"] = "Deployment"
    assert problems(deployment) == []


def test_the_rule_is_in_force_in_prod_only():
    assert [env for env in rules.ENVIRONMENTS if rules.pack_config(env).get("data-store-scraped") != "disabled"] == [
        "prod"
    ]
