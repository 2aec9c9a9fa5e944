"""Monitoring (issue 18) is stack config: dev leaves every exporter, ServiceMonitor and alert rule off, staging and
prod switch them on for the data tier and the Bitnami cluster with the Prometheus Operator's selector labels, and a
malformed `monitoring` section is refused naming the key, the value and what is allowed."""

from __future__ import annotations

import pytest

from components.postgres_cluster import alert_rules
from platform_config import ConfigError, load_platform_config
from tooling.stacks import TEST_SECRETS, StackRun, deep_merge, run_stack, stack_config, with_example_tenants

pytestmark = pytest.mark.unit

SELECTOR = {"release": "kube-prometheus-stack"}


def values(run, chart: str) -> dict:
    return run.charts()[chart].inputs["values"]


def rejection(section: str, monitoring: dict) -> str:
    overrides = {"dataTier": {"monitoring": monitoring}}
    if section == "postgresClusters":
        overrides = {"postgresClusters": {"orders": {"monitoring": monitoring}}}
    with pytest.raises(ConfigError) as raised:
        load_platform_config(deep_merge({**stack_config("dev"), **TEST_SECRETS}, overrides))
    return str(raised.value)


def test_dev_runs_no_exporter_servicemonitor_or_rule(dev_stack):
    data = values(dev_stack, "data-tier-chart")["metrics"]
    assert data["enabled"] is False and data["serviceMonitor"]["enabled"] is False
    assert "prometheusRule" not in data and "dashboards" not in data
    bitnami = values(dev_stack, "orders-postgresql")["metrics"]
    assert bitnami["enabled"] is False and "serviceMonitor" not in bitnami and "prometheusRule" not in bitnami


@pytest.mark.parametrize("stack", ["staging_stack", "prod_stack"])
def test_staging_and_prod_scrape_and_alert_on_the_data_tier_with_the_selector_labels(stack, request):
    data = values(request.getfixturevalue(stack), "data-tier-chart")["metrics"]
    assert data["enabled"] is True
    assert data["serviceMonitor"] == {"enabled": True, "labels": SELECTOR}
    assert data["prometheusRule"] == {"enabled": True, "labels": SELECTOR}


@pytest.mark.parametrize("stack", ["staging_stack", "prod_stack"])
def test_staging_and_prod_scrape_and_alert_on_the_bitnami_cluster_with_the_selector_labels(stack, request):
    bitnami = values(request.getfixturevalue(stack), "orders-postgresql")["metrics"]
    assert bitnami["serviceMonitor"] == {"enabled": True, "labels": SELECTOR}
    assert bitnami["prometheusRule"]["labels"] == SELECTOR
    backed_up = alert_rules("orders-postgresql", "postgres", "orders-postgres")
    assert len(bitnami["prometheusRule"]["rules"]) == len(backed_up)


@pytest.mark.parametrize("stack", ["staging_stack", "prod_stack"])
def test_staging_and_prod_alert_on_the_bitnami_clusters_failed_and_late_backups(stack, request):
    rules = values(request.getfixturevalue(stack), "orders-postgresql")["metrics"]["prometheusRule"]["rules"]
    backups = {rule["alert"]: rule["expr"] for rule in rules if rule["alert"].startswith("PostgresBackup")}
    assert set(backups) == {"PostgresBackupFailed", "PostgresBackupLate"}
    assert all('namespace="postgres"' in expr and "orders-postgres-backup" in expr for expr in backups.values())


def test_a_bitnami_cluster_without_a_backup_cronjob_gets_no_backup_alerts():
    assert not [rule for rule in alert_rules("orders-postgresql", "postgres") if "Backup" in rule["alert"]]


def test_the_bitnami_rules_keep_prometheus_templates_away_from_the_charts_tpl(staging_stack):
    rules = values(staging_stack, "orders-postgresql")["metrics"]["prometheusRule"]["rules"]
    summary = next(r for r in rules if r["alert"] == "PostgresExporterDown")["annotations"]["summary"]
    assert "{{`{{ $labels.pod }}`}}" in summary


def test_the_bitnami_rules_watch_the_clusters_own_namespace_and_pods():
    for rule in alert_rules("orders-postgresql", "postgres", "orders-postgres"):
        assert rule["labels"]["namespace"] == "postgres", rule["alert"]
        assert 'namespace="postgres"' in rule["expr"] and "orders-postgres" in rule["expr"], rule["alert"]


def test_a_malformed_selector_label_key_is_refused_naming_key_value_and_syntax():
    message = rejection("dataTier", {"metrics": True, "serviceMonitor": True, "selectorLabels": {"re lease": "x"}})
    assert "dataTier.monitoring.selectorLabels" in message and "'re lease'" in message
    assert "is not a Kubernetes label key" in message


def test_a_malformed_selector_label_value_is_refused_naming_key_value_and_syntax():
    message = rejection("postgresClusters", {"metrics": True, "selectorLabels": {"release": "kube prometheus"}})
    assert "postgresClusters.orders.monitoring.selectorLabels.release = 'kube prometheus'" in message
    assert "is not a Kubernetes label value" in message


def test_alert_rules_without_a_servicemonitor_are_refused():
    message = rejection("dataTier", {"metrics": True, "prometheusRule": True})
    assert "dataTier.monitoring" in message and "prometheusRule is true but serviceMonitor is false" in message


@pytest.mark.parametrize("stack", ["staging_stack", "prod_stack"])
def test_staging_and_prod_scrape_and_alert_on_core_pipeline_with_the_selector_labels(stack, request):
    chart = values(request.getfixturevalue(stack), "core-pipeline-chart")
    assert chart["serviceMonitor"] == {"enabled": True, "labels": SELECTOR}
    assert chart["prometheusRule"] == {"enabled": True, "labels": SELECTOR}


@pytest.mark.parametrize("stack", ["staging_stack", "prod_stack"])
@pytest.mark.parametrize("service", ["api-gateway", "order-command-service", "order-query-service"])
def test_staging_and_prod_scrape_every_order_service_with_the_selector_labels(stack, service, request):
    chart = values(request.getfixturevalue(stack), f"order-platform-{service}")
    assert chart["metrics"]["serviceMonitor"] == {"enabled": True, "labels": SELECTOR}
    assert chart["metrics"]["prometheusRule"] == {"enabled": True, "labels": SELECTOR}


def test_dev_services_create_no_prometheus_operator_objects(dev_stack):
    assert values(dev_stack, "core-pipeline-chart")["serviceMonitor"] == {"enabled": False}
    assert "metrics" not in values(dev_stack, "order-platform-api-gateway")


@pytest.mark.parametrize("stack", ["staging_stack", "prod_stack"])
def test_staging_and_prod_ship_the_data_tiers_grafana_dashboards(stack, request):
    assert values(request.getfixturevalue(stack), "data-tier-chart")["metrics"]["dashboards"] == {"enabled": True}


def test_dashboards_on_a_bitnami_cluster_are_refused_pointing_at_the_data_tiers():
    message = rejection("postgresClusters", {"metrics": True, "serviceMonitor": True, "dashboards": True})
    assert "postgresClusters.orders.monitoring" in message and "dataTier.monitoring.dashboards" in message


@pytest.mark.parametrize("stack", ["staging_stack", "prod_stack"])
def test_staging_and_prod_core_pipeline_logs_json_lines_for_loki(stack, request):
    assert values(request.getfixturevalue(stack), "core-pipeline-chart")["env"]["LOG_FORMAT"] == "json"


def test_dev_core_pipeline_keeps_the_images_log_format(dev_stack):
    assert "LOG_FORMAT" not in values(dev_stack, "core-pipeline-chart")["env"]


@pytest.mark.parametrize("stack", ["dev_stack", "staging_stack", "prod_stack"])
def test_the_order_services_log_spring_boot_ecs_json(stack, request):
    # The chart turns config.logFormat json into LOGGING_STRUCTURED_FORMAT_CONSOLE=ecs (nexus-lib.spring).
    for service in ("api-gateway", "order-command-service", "order-query-service"):
        assert values(request.getfixturevalue(stack), f"order-platform-{service}")["config"]["logFormat"] == "json"


@pytest.mark.parametrize("stack", ["staging_stack", "prod_stack"])
def test_staging_and_prod_network_policies_let_prometheus_scrape_core_pipeline(stack, request):
    chart = values(request.getfixturevalue(stack), "core-pipeline-chart")
    assert chart["networkPolicy"]["enabled"] and chart["networkPolicy"]["monitoringNamespace"] == "monitoring"


def tenant_charts(env: str) -> tuple[StackRun, list[str]]:
    """The program with the environment's example tenants (its `fluxion.defaults` are what tenant stacks get)."""
    run = run_stack(env, with_example_tenants(env))
    return run, [name for name in run.charts() if name.startswith("fluxiondb-")]


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_staging_and_prod_scrape_every_fluxiondb_tenant_with_the_selector_labels(env):
    run, tenants = tenant_charts(env)
    assert len(tenants) == 2
    for tenant in tenants:
        assert values(run, tenant)["metrics"]["serviceMonitor"] == {"enabled": True, "labels": SELECTOR}


def test_dev_fluxiondb_tenants_create_no_servicemonitor():
    run, tenants = tenant_charts("dev")
    assert len(tenants) == 2
    assert all("serviceMonitor" not in values(run, tenant)["metrics"] for tenant in tenants)


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_staging_and_prod_alert_on_every_fluxiondb_tenant_and_its_backups(env):
    run, tenants = tenant_charts(env)
    for tenant in tenants:
        rules = values(run, tenant)["metrics"]["prometheusRule"]
        release = values(run, tenant)["fullnameOverride"]
        assert rules == {"enabled": True, "labels": SELECTOR, "backupCronJob": f"{release}-backup"}


def test_dev_fluxiondb_tenants_create_no_alert_rules():
    run, tenants = tenant_charts("dev")
    assert all("prometheusRule" not in values(run, tenant)["metrics"] for tenant in tenants)
