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
(NEWER_THAN_DEBIAN: their expressions still evaluate here, to nothing). The MongoDB exporter is not run here
(no MongoDB server): tests/charts/test_alert_rules.py checks its names against the metrics it documents.

Kafka and ZooKeeper have no exporter sidecar: `kafka-start.sh` and `zookeeper-start.sh` load the Prometheus JMX
exporter agent (files/jmx-agent.sh, rules files/jmx-kafka.yaml and files/jmx-zookeeper.yaml) into the real
Kafka 3.9.0 broker and ZooKeeper 3.8.4 server (tests/dataplane/test_kafka.py says how they run), with
jmx_prometheus_javaagent 0.18.0 from Maven Central, the version the Confluent 7.x images ship in cp-base-new.
They run with the dev stack's values plus `metrics` on (one broker, one standalone ZooKeeper: prod's 3-server
ensemble cannot run through its scripts on one machine, they bind fixed ports); the rules and dashboards checked
against them are prod's, which name the same metrics. Prod's shape for ZooKeeper, a 3-server ensemble whose MBeans
sit under another path (leader and followers), runs by hand on loopback ports with the chart's rules file and the
agent loaded as the script loads it.
"""

from __future__ import annotations

import json
import re

import pytest

from components.postgres_cluster import alert_rules
from tests.dataplane.conftest import PLAINTEXT_VALUES, chart_namespace, new_cluster, rendered, servers_stopped_after
from tooling.dataplane import kafka, monitoring, postgres, redis
from tooling.dataplane.paths import CP_BASE_NEW_LIB, KAFKA_LIB, java
from tooling.dataplane.processes import port_open, wait_for

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
    cluster = make_cluster(rendered(STACK, CHART, PLAINTEXT_VALUES), namespace)
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


# --- Kafka and ZooKeeper: the JMX exporter agent in their own JVMs ---------------------------------------------

METRICS_ON = {"metrics": {"enabled": True, "serviceMonitor": {"enabled": True}, "prometheusRule": {"enabled": True}}}
JMX_PREFIXES = ("kafka_", "zookeeper_", "jvm_")


def metrics_port(container) -> int:
    return next(p["containerPort"] for p in container.spec["ports"] if p["name"] == "metrics")


@pytest.fixture(scope="module")
def jmx_prometheus(session_root, supervisor):
    """ZooKeeper and a broker started by their start scripts with metrics on, and a Prometheus scraping both
    agents with the operator's `namespace`/`pod` labels. Yields (Prometheus address, {pod: agent address})."""
    namespace = chart_namespace("dev", CHART)
    cluster = new_cluster(session_root, supervisor, rendered("dev", CHART, METRICS_ON), namespace, __name__)
    with servers_stopped_after(supervisor):
        agents = {}
        for name, port in (("zookeeper", kafka.ZOOKEEPER_PORT), ("kafka", kafka.KAFKA_PORT)):
            container = cluster.pod("StatefulSet", name, 0).container(name)
            server = kafka.start(container, port)
            agent = f"{container.pod.address}:{metrics_port(container)}"
            wait_for(
                lambda a=agent: "jvm_" in monitoring.metrics(a), what=f"{name}'s JMX agent", timeout=60, server=server
            )
            agents[container.pod.name] = agent
        address = cluster.network.allocate()
        root = cluster.mkdir(cluster.root / "prometheus")
        labels = {agent: {"namespace": namespace, "pod": pod} for pod, agent in agents.items()}
        monitoring.start_prometheus(supervisor, root, address, list(agents.values()), cluster.mkdir, labels=labels)

        def scraped() -> bool:
            controllers = monitoring.query(address, "kafka_controller_kafkacontroller_activecontrollercount == 1")
            return len(controllers) == 1 and bool(monitoring.query(address, "zookeeper_numaliveconnections >= 1"))

        wait_for(scraped, what="the broker's and ZooKeeper's metrics in Prometheus", timeout=90)
        yield address, agents


def test_kafka_and_zookeeper_serve_their_jmx_metrics_on_the_port_the_service_monitor_scrapes(jmx_prometheus):
    _, agents = jmx_prometheus
    service_ports = {
        o["metadata"]["name"]: {p["name"]: p["port"] for p in o["spec"]["ports"]}
        for o in rendered("dev", CHART, METRICS_ON)
        if o["kind"] == "Service" and o["metadata"]["name"] in ("kafka-headless", "zookeeper-headless")
    }
    assert agents["zookeeper-0"].endswith(f":{service_ports['zookeeper-headless']['metrics']}")
    assert agents["kafka-0"].endswith(f":{service_ports['kafka-headless']['metrics']}")
    assert "\nkafka_server_replicamanager_underreplicatedpartitions 0.0\n" in monitoring.metrics(agents["kafka-0"])
    assert 'zookeeper_numaliveconnections{role="standalone",}' in monitoring.metrics(agents["zookeeper-0"])


def test_every_kafka_zookeeper_and_jvm_metric_the_rules_and_dashboards_name_is_exported(jmx_prometheus):
    address, _ = jmx_prometheus
    exported = monitoring.metric_names(address)
    names = named(JMX_PREFIXES)
    assert {n.split("_")[0] for n in names} == {"kafka", "zookeeper", "jvm"}, names
    missing = {name: sorted(alerts) for name, alerts in names.items() if name not in exported}
    assert not missing, f"named by our rules or dashboards, exported by neither agent: {missing}"


def test_the_kafka_alerts_stay_silent_on_a_healthy_broker(jmx_prometheus):
    address, _ = jmx_prometheus
    kafka_alerts = [(a, e) for a, e in expressions() if a.startswith("kafka/")]
    assert {a for a, _ in kafka_alerts} >= {
        "kafka/KafkaUnderReplicatedPartitions",
        "kafka/KafkaOfflinePartitions",
        "kafka/KafkaNoActiveController",
    }
    firing = {alert: monitoring.evaluate(address, expr) for alert, expr in kafka_alerts}
    assert {alert: result for alert, result in firing.items() if result} == {}
    # The broker holds a ZooKeeper session, which ZooKeeper counts.
    assert float(monitoring.query(address, "zookeeper_numaliveconnections")[0]["value"][1]) >= 1


# --- ZooKeeper as an ensemble: the rules file maps a leader's and followers' MBeans to the same names -------------

# Loopback ports of the three servers (client, quorum, election, agent): zookeeper-start.sh binds fixed ports, so
# prod's ensemble is run here by hand, each server with the chart's rules file and the agent as the script loads it.
ENSEMBLE_PORTS = [(22181 + i, 22881 + i, 23881 + i, 17001 + i) for i in range(3)]


@pytest.fixture(scope="module")
def ensemble_metrics(session_root, supervisor):
    """Three ZooKeeper 3.8.4 servers in one ensemble, each loading the JMX agent with prod's jmx-zookeeper.yaml (the
    scripts ConfigMap's). Yields each server's /metrics text once a leader is elected."""
    taken = [port for ports in ENSEMBLE_PORTS for port in ports if port_open("127.0.0.1", port)]
    if taken:
        pytest.fail(f"ports {taken} are taken on this machine: the ensemble below needs them")
    cluster = new_cluster(
        session_root, supervisor, rendered("prod", CHART, PLAINTEXT_VALUES), chart_namespace("prod", CHART), __name__
    )
    scripts = next(
        o for o in cluster.objects if o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith("-scripts")
    )
    root = cluster.mkdir(cluster.root / "ensemble")
    rules = root / "jmx-zookeeper.yaml"
    rules.write_text(scripts["data"]["jmx-zookeeper.yaml"])
    agent = next(CP_BASE_NEW_LIB.glob("jmx_prometheus_javaagent-*.jar"))
    peers = [
        f"server.{i + 1}=127.0.0.1:{quorum}:{election}" for i, (_, quorum, election, _) in enumerate(ENSEMBLE_PORTS)
    ]
    with servers_stopped_after(supervisor):
        servers = []
        for i, (client, _, _, metrics) in enumerate(ENSEMBLE_PORTS):
            data = cluster.mkdir(root / f"server-{i + 1}")
            (data / "myid").write_text(f"{i + 1}\n")
            config = data / "zoo.cfg"
            config.write_text(
                "\n".join([f"dataDir={data}", f"clientPort={client}", "clientPortAddress=127.0.0.1", "tickTime=2000"])
                + "\ninitLimit=10\nsyncLimit=5\nadmin.enableServer=false\n"
                + "\n".join(peers)
                + "\n"
            )
            for path in (rules, data / "myid", config):
                if supervisor.run_as:
                    supervisor.run_as.own(path)
            argv = [java(), "-Xmx96m", "-XX:TieredStopAtLevel=1", f"-javaagent:{agent}=127.0.0.1:{metrics}:{rules}"]
            argv += ["-cp", f"{KAFKA_LIB}/*", "org.apache.zookeeper.server.quorum.QuorumPeerMain", str(config)]
            env = {"PATH": "/usr/bin:/bin", "HOME": str(data)}
            servers.append(supervisor.start(f"zookeeper-{i + 1}", argv, env=env, cwd=data, log=data / "output.log"))
        addresses = [f"127.0.0.1:{metrics}" for *_, metrics in ENSEMBLE_PORTS]

        def elected() -> bool:
            texts = [monitoring.metrics(a) for a in addresses]
            return all("zookeeper_quorumsize 3.0" in t for t in texts) and any('role="Leader"' in t for t in texts)

        wait_for(elected, what="a leader elected among the three servers", timeout=90, server=servers[0])
        yield [monitoring.metrics(a) for a in addresses]


def test_an_ensembles_leader_and_followers_export_every_zookeeper_metric_our_rules_and_dashboards_name(
    ensemble_metrics,
):
    names = set(named(("zookeeper_",)))
    assert names
    for text in ensemble_metrics:
        exported = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line.startswith("zookeeper_")}
        assert names <= exported, sorted(names - exported)
    roles = sorted(
        line.split('role="')[1].split('"')[0]
        for text in ensemble_metrics
        for line in text.splitlines()
        if line.startswith("zookeeper_numaliveconnections{")
    )
    assert roles == ["Follower", "Follower", "Leader"]
