"""Kafka and ZooKeeper pods of charts/nexus-database, run for real: `zookeeper-start.sh` and `kafka-start.sh`
(server id from the pod ordinal, the broker's advertised headless name, SASL/PLAIN from the Secret), exec'ing
the image's run script (tooling/dataplane/confluent.py) into the Apache ZooKeeper and broker, and a client
producing and consuming with the Secret's credentials.

Values: no committed stack turns SASL on (platform_config refuses it while core-pipeline and the order
platform connect without it), so the running pair is the dev stack's values (1 broker, 1 ZooKeeper) with
`kafka.sasl.enabled: true`, what the chart renders once a stack enables it. The prod stack's 3-server
ensemble and 3 brokers are checked by running the same scripts up to the rendered configuration (both bind
fixed ports on 0.0.0.0, so a second server of either cannot run on one machine).

Versions: Apache Kafka 3.9.0 (cp-kafka 7.9.0 is Confluent's build of it) and its ZooKeeper 3.8.4 (cp-zookeeper
7.9.0 ships 3.8 too), from Maven Central. SASL/PLAIN, listener-scoped JAAS config and broker.id/ZooKeeper
registration are Apache Kafka's, unchanged by Confluent; Confluent's extra `confluent.*` properties are
ignored by the Apache broker (the image's balancer default is the one it sets). The client is kafka-python.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import pytest

from tests.dataplane.conftest import chart_namespace, new_cluster, rendered, servers_stopped_after
from tooling.dataplane import kafka

# kafka-python 3.0 reads its protocol schemas with a deprecated importlib.resources call.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
CHART = "nexus-database"
# Plaintext listeners, whatever the stack's security profile: TLS is tests/dataplane/test_tls_kafka.py's.
SASL = {"kafka": {"sasl": {"enabled": True}}, "tls": {"mode": "disabled"}}


@pytest.fixture(scope="module")
def broker(session_root, supervisor):
    objects = rendered("dev", CHART, SASL)
    cluster = new_cluster(session_root, supervisor, objects, chart_namespace("dev", CHART), __name__)
    with servers_stopped_after(supervisor):
        zookeeper = cluster.pod("StatefulSet", "zookeeper", 0).container("zookeeper")
        kafka.start(zookeeper, kafka.ZOOKEEPER_PORT)
        broker = cluster.pod("StatefulSet", "kafka", 0).container("kafka")
        kafka.start(broker, kafka.KAFKA_PORT)
        yield cluster, broker


def _client_config(broker, password: str | None = None) -> dict:
    env = broker.env
    return {
        "bootstrap_servers": f"{broker.pod.address}:{kafka.KAFKA_PORT}",
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "PLAIN",
        "sasl_plain_username": env["SASL_USERNAME"],
        "sasl_plain_password": env["SASL_PASSWORD"] if password is None else password,
        "request_timeout_ms": 15000,
    }


def _client():
    """kafka-python, imported here so the other tiers collect this module without it installed."""
    import kafka as client
    import kafka.errors

    return client, kafka.errors


def test_broker_takes_its_id_from_the_ordinal_and_advertises_its_headless_name(broker):
    client, _ = _client()
    cluster, container = broker
    properties = (container.path("/etc/kafka") / "kafka.properties").read_text().splitlines()
    assert "broker.id=0" in properties
    name = f"kafka-0.kafka-headless.{cluster.service_domain()}"
    assert f"advertised.listeners=INTERNAL://{name}:9092" in properties
    with kafka.cluster_dns(cluster.network):
        admin = client.KafkaAdminClient(**_client_config(container))
        try:
            brokers = admin.describe_cluster()["brokers"]
        finally:
            admin.close()
    assert [(b["broker_id"], b["host"], b["port"]) for b in brokers] == [(0, name, 9092)], brokers


def test_produce_and_consume_round_trip_with_the_sasl_credentials_from_the_secret(broker):
    client, _ = _client()
    cluster, container = broker
    topic, message = f"orders-{uuid.uuid4().hex[:8]}", b"order 1 placed"
    with kafka.cluster_dns(cluster.network):
        producer = client.KafkaProducer(**_client_config(container), acks="all")
        try:
            producer.send(topic, message).get(timeout=60)
        finally:
            producer.close()
        consumer = client.KafkaConsumer(
            topic, **_client_config(container), auto_offset_reset="earliest", consumer_timeout_ms=20000, group_id=None
        )
        try:
            received = []
            for record in consumer:  # ends at the first record, or after consumer_timeout_ms with none
                received.append(record.value)
                break
        finally:
            consumer.close()
    assert received == [message]


def test_a_wrong_sasl_password_is_refused(broker, caplog):
    client, errors = _client()
    cluster, container = broker
    caplog.set_level(logging.INFO, logger="kafka")
    # kafka-python retries a refused bootstrap until max_block_ms, then reports the timeout; the broker's
    # answer (SASL authentication failed) is what it logs for each attempt.
    with kafka.cluster_dns(cluster.network), pytest.raises(errors.KafkaError):
        config = {**_client_config(container, password="not-the-password"), "request_timeout_ms": 3000}
        producer = client.KafkaProducer(**config, max_block_ms=5000, bootstrap_timeout_ms=10000)
        try:
            producer.send("orders", b"x").get(timeout=5)
        finally:
            producer.close(timeout=2)
    # Either side may tell: the client logs the broker's answer, unless (on a loaded machine) the broker closed
    # the connection before the client read it; the broker logs every failed authentication itself.
    refusals = [r.getMessage() for r in caplog.records if "Authentication failed" in r.getMessage()]
    broker_log = (container.dir / "output.log").read_text(errors="replace")
    broker_refused = "Failed authentication with" in broker_log and "Invalid username or password" in broker_log
    assert (refusals and "Invalid username or password" in refusals[0]) or broker_refused, [
        r.getMessage() for r in caplog.records
    ]


def test_sasl_password_is_on_no_process_command_line(broker):
    _, container = broker
    password = container.env["SASL_PASSWORD"]
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().decode(errors="replace")
        except OSError:
            continue
        assert password not in args, f"pid {cmdline.parent.name}"


@pytest.fixture
def prod_cluster(make_cluster):
    return make_cluster(rendered("prod", CHART, SASL), chart_namespace("prod", CHART))


def _configure_only(container) -> dict[str, str]:
    result = container.run(env={"DATAPLANE_CONFLUENT_DRY_RUN": "1"}, timeout=60)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    return dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line and not line.startswith("="))


def test_zookeeper_start_script_numbers_servers_from_the_ordinal_and_lists_the_whole_ensemble(prod_cluster):
    replicas = prod_cluster.find("StatefulSet", "zookeeper")["spec"]["replicas"]
    assert replicas == 3
    container = prod_cluster.pod("StatefulSet", "zookeeper", 1).container("zookeeper")
    props = _configure_only(container)
    domain = prod_cluster.service_domain()
    assert {k: v for k, v in props.items() if k.startswith("server.")} == {
        f"server.{i + 1}": f"zookeeper-{i}.zookeeper-headless.{domain}:2888:3888" for i in range(replicas)
    }
    assert (container.path("/var/lib/zookeeper/data") / "myid").read_text() == "2"
    assert props["clientPort"] == "2181" and props["initLimit"] == "10" and props["syncLimit"] == "5"


def test_kafka_start_script_gives_each_broker_its_ordinal_as_id_and_its_own_advertised_name(prod_cluster):
    container = prod_cluster.pod("StatefulSet", "kafka", 2).container("kafka")
    props = _configure_only(container)
    assert props["broker.id"] == "2"
    assert props["advertised.listeners"] == f"INTERNAL://kafka-2.kafka-headless.{prod_cluster.service_domain()}:9092"
    assert props["listener.security.protocol.map"] == "INTERNAL:SASL_PLAINTEXT"
    assert props["default.replication.factor"] == "3" and props["min.insync.replicas"] == "2"
