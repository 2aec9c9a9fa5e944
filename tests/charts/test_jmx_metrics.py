"""Kafka and ZooKeeper serve their own metrics (issue 18): with `metrics.enabled` the broker's and the ZooKeeper
server's JVM load the Prometheus JMX exporter agent (charts/nexus-database/files/jmx-agent.sh, sourced by both start
scripts) on the port their headless Service calls `metrics`, with the rules file of their kind; no exporter sidecar
runs next to them, and dev, metrics off, loads nothing. The agent's metrics themselves are proven against the real
broker and server in the data-plane tier (tests/dataplane/test_monitoring.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.charts.test_nexus_database_chart import CHART_DIR, rendered
from tooling.helm import one

FILES = CHART_DIR / "files"
AGENT_SCRIPT = FILES / "jmx-agent.sh"
IMAGE_JARS = "/usr/share/java/cp-base-new"
KINDS = ("kafka", "zookeeper")


def env(container) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in container.get("env", [])}


@pytest.mark.render
@pytest.mark.parametrize("kind", KINDS)
def test_with_metrics_on_the_server_itself_serves_metrics_on_the_port_its_service_monitor_scrapes(kind):
    manifests = rendered("prod")
    pod = one(manifests, "StatefulSet", kind)["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["containers"]] == [kind], "no exporter sidecar"
    container = pod["containers"][0]
    service = one(manifests, "Service", f"{kind}-headless")
    service_port = next(p for p in service["spec"]["ports"] if p["name"] == "metrics")
    container_port = next(p for p in container["ports"] if p["name"] == "metrics")
    assert service_port["targetPort"] == "metrics"
    assert env(container)["METRICS_PORT"] == str(container_port["containerPort"]) == str(service_port["port"])
    monitor = one(manifests, "ServiceMonitor", kind)
    assert [e["port"] for e in monitor["spec"]["endpoints"]] == ["metrics"]


@pytest.mark.render
@pytest.mark.parametrize("kind", KINDS)
def test_the_agent_reads_its_kinds_rules_from_the_scripts_config_map(kind):
    manifests = rendered("prod")
    container = one(manifests, "StatefulSet", kind)["spec"]["template"]["spec"]["containers"][0]
    config = env(container)["METRICS_CONFIG"]
    assert config == f"/scripts/jmx-{kind}.yaml"
    assert any(m["mountPath"] == "/scripts" for m in container["volumeMounts"])
    scripts = one(manifests, "ConfigMap", "nexus-database-scripts")["data"]
    rules = yaml.safe_load(scripts[f"jmx-{kind}.yaml"])
    assert rules["lowercaseOutputName"] is True and rules["rules"]
    assert ". /scripts/jmx-agent.sh" in scripts[f"{kind}-start.sh"]


@pytest.mark.render
@pytest.mark.parametrize("kind", KINDS)
def test_with_metrics_off_no_agent_is_loaded_and_no_metrics_port_exists(kind):
    manifests = rendered("dev")
    container = one(manifests, "StatefulSet", kind)["spec"]["template"]["spec"]["containers"][0]
    assert "METRICS_PORT" not in env(container)
    assert "metrics" not in {p["name"] for p in container["ports"]}
    assert "metrics" not in {p["name"] for p in one(manifests, "Service", f"{kind}-headless")["spec"]["ports"]}


def source_agent_script(
    tmp_path: Path, environment: dict[str, str], jars: list[str]
) -> tuple[subprocess.CompletedProcess, Path]:
    """jmx-agent.sh sourced as the start scripts do, the image's jar folder mapped to a folder holding `jars`."""
    image_jars = tmp_path / "cp-base-new"
    image_jars.mkdir()
    for jar in jars:
        (image_jars / jar).write_bytes(b"")
    script = tmp_path / "jmx-agent.sh"
    script.write_text(AGENT_SCRIPT.read_text().replace(IMAGE_JARS, str(image_jars)))
    return subprocess.run(
        ["bash", "-c", f'set -euo pipefail; . {script}; echo "KAFKA_JMX_OPTS=${{KAFKA_JMX_OPTS:-}}"'],
        env={"PATH": "/usr/bin:/bin", **environment},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    ), image_jars


@pytest.mark.unit
def test_the_agent_script_loads_the_images_agent_with_the_port_and_rules(tmp_path):
    result, jars = source_agent_script(
        tmp_path,
        {"METRICS_PORT": "9404", "METRICS_CONFIG": "/scripts/jmx-kafka.yaml"},
        ["jmx_prometheus_javaagent-0.18.0.jar", "jolokia-jvm-1.7.1.jar"],
    )
    assert result.returncode == 0, result.stderr
    agent = jars / "jmx_prometheus_javaagent-0.18.0.jar"
    assert result.stdout.strip() == f"KAFKA_JMX_OPTS=-javaagent:{agent}=9404:/scripts/jmx-kafka.yaml"


@pytest.mark.unit
def test_the_agent_script_changes_nothing_with_metrics_off(tmp_path):
    result, _ = source_agent_script(tmp_path, {}, [])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "KAFKA_JMX_OPTS="


@pytest.mark.unit
def test_an_image_without_the_agent_stops_the_pod_naming_the_folder_and_the_way_out(tmp_path):
    result, jars = source_agent_script(
        tmp_path, {"METRICS_PORT": "7000", "METRICS_CONFIG": "/scripts/jmx-zookeeper.yaml"}, []
    )
    assert result.returncode == 1
    assert f"no jmx_prometheus_javaagent-*.jar in {jars}" in result.stderr
    assert "metrics.enabled=false" in result.stderr
