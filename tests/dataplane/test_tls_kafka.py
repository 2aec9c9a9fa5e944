"""TLS and audit logging of the Kafka brokers and ZooKeeper (charts/nexus-database `tls.mode`, `audit.level`), run
for real: `zookeeper-start.sh` and `kafka-start.sh` as rendered, on the Apache broker and ZooKeeper server, with a
certificate of the shape cert-manager issues (tooling/dataplane/certificates.py) in each Secret `<component>-tls`,
and kafka-python as the client.

Values: the dev stack's (1 broker, 1 ZooKeeper server) with the security settings overridden, since the
committed stacks take theirs from the program (staging enabled/basic, prod required/comprehensive):
- required + comprehensive, with SASL on (SASL_SSL, the harder case): TLS clients with the CA produce and
  consume; plaintext clients are refused; a client that checks names refuses a broker reached by a name its
  certificate lacks; the broker reaches ZooKeeper over TLS only (ZooKeeper has no plaintext port); every allowed
  operation is in the broker's log;
- enabled + basic, without SASL: plaintext on 9092 and TLS on 9093 both work; a denied operation is in the
  broker's log and allowed ones are not; ZooKeeper's audit log records the broker's registration;
- required, ZooKeeper serving a certificate for another name: the broker refuses it (names checked);
- prod's 3-server ensemble under required, up to its rendered configuration: TLS quorum, no plaintext port.
Versions: Apache Kafka 3.9.0 and ZooKeeper 3.8.4, as in test_kafka.py.
"""

from __future__ import annotations

import time
import uuid

import pytest

from tests.dataplane.conftest import chart_namespace, new_cluster, rendered, servers_stopped_after
from tooling.dataplane import kafka
from tooling.dataplane.certificates import CertificateAuthority
from tooling.dataplane.processes import port_open

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
CHART = "nexus-database"
STACK = "dev"


def _client():
    import kafka as client
    import kafka.errors

    return client, kafka.errors


def _start_pair(session_root, supervisor, overrides: dict, label: str, broker_ports: list[int]):
    objects = rendered(STACK, CHART, overrides)
    cluster = new_cluster(session_root, supervisor, objects, chart_namespace(STACK, CHART), label)
    ca = CertificateAuthority()
    kafka.issue_certificate(cluster, ca, "zookeeper")
    kafka.issue_certificate(cluster, ca, "kafka")
    zookeeper = cluster.pod("StatefulSet", "zookeeper", 0).container("zookeeper")
    kafka.start(zookeeper, kafka.ZOOKEEPER_TLS_PORT)
    broker = cluster.pod("StatefulSet", "kafka", 0).container("kafka")
    kafka.start(broker, broker_ports[0])
    for port in broker_ports[1:]:
        assert port_open(broker.pod.address, port), f"broker not listening on {port}"
    ca_file = cluster.root / "ca.crt"
    ca_file.write_bytes(ca.pem)
    return cluster, zookeeper, broker, ca_file


def _bootstrap(cluster, port: int) -> str:
    return f"kafka-service.{cluster.service_domain()}:{port}"


def _round_trip(cluster, config: dict) -> list[bytes]:
    client, _ = _client()
    topic, message = f"orders-{uuid.uuid4().hex[:8]}", b"order 1 placed"
    with kafka.cluster_dns(cluster.network):
        producer = client.KafkaProducer(**config, acks="all", request_timeout_ms=15000)
        try:
            producer.send(topic, message).get(timeout=60)
        finally:
            producer.close()
        consumer = client.KafkaConsumer(
            topic, **config, auto_offset_reset="earliest", consumer_timeout_ms=20000, group_id=None
        )
        try:
            received = [record.value for record in consumer][:1]
        finally:
            consumer.close()
    assert received == [message]
    return received


def _refused(cluster, config: dict) -> None:
    client, errors = _client()
    with kafka.cluster_dns(cluster.network), pytest.raises(errors.KafkaError):
        producer = client.KafkaProducer(**config, request_timeout_ms=3000, max_block_ms=5000, bootstrap_timeout_ms=8000)
        try:
            producer.send("orders", b"x").get(timeout=5)
        finally:
            producer.close(timeout=2)


def _log(container) -> str:
    return (container.dir / "output.log").read_text(errors="replace")


def _properties(container) -> dict[str, str]:
    lines = (container.path("/etc/kafka") / "kafka.properties").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


class TestRequired:
    """tls.mode required, audit.level comprehensive, SASL on."""

    @pytest.fixture(scope="class")
    def pair(self, session_root, supervisor):
        overrides = {
            "tls": {"mode": "required"},
            "audit": {"level": "comprehensive"},
            "kafka": {"sasl": {"enabled": True}},
        }
        with servers_stopped_after(supervisor):
            yield _start_pair(session_root, supervisor, overrides, f"{__name__}.required", [kafka.KAFKA_PORT])

    @staticmethod
    def _sasl(broker) -> dict:
        env = broker.env
        return {
            "sasl_mechanism": "PLAIN",
            "sasl_plain_username": env["SASL_USERNAME"],
            "sasl_plain_password": env["SASL_PASSWORD"],
        }

    def test_a_client_over_tls_with_the_ca_produces_and_consumes_on_9092(self, pair):
        cluster, _, broker, ca_file = pair
        config = {
            "bootstrap_servers": _bootstrap(cluster, kafka.KAFKA_PORT),
            "security_protocol": "SASL_SSL",
            "ssl_cafile": str(ca_file),
            **self._sasl(broker),
        }
        _round_trip(cluster, config)

    def test_a_plaintext_client_is_refused(self, pair):
        cluster, _, broker, _ = pair
        before = _log(broker).count("(SSL handshake failed)")
        config = {"bootstrap_servers": _bootstrap(cluster, kafka.KAFKA_PORT), "security_protocol": "SASL_PLAINTEXT"}
        _refused(cluster, {**config, **self._sasl(broker)})
        # The broker saw the attempts, as TLS handshakes that failed.
        assert _log(broker).count("(SSL handshake failed)") > before

    def test_a_client_checking_names_refuses_the_broker_reached_by_a_name_its_certificate_lacks(self, pair):
        cluster, _, broker, ca_file = pair
        cluster.network.register("kafka.elsewhere.example", broker.pod.address)
        config = {
            "bootstrap_servers": f"kafka.elsewhere.example:{kafka.KAFKA_PORT}",
            "security_protocol": "SASL_SSL",
            "ssl_cafile": str(ca_file),
            "ssl_check_hostname": True,
            **self._sasl(broker),
        }
        _refused(cluster, config)

    def test_the_broker_reaches_zookeeper_over_tls_only(self, pair):
        cluster, zookeeper, broker, ca_file = pair
        rendered_env = {e["name"]: e.get("value") for e in broker.spec["env"]}
        assert (
            rendered_env["KAFKA_ZOOKEEPER_CONNECT"] == f"zookeeper-0.zookeeper-headless.{cluster.service_domain()}:2182"
        )
        # Here the harness resolves names in env values to pod addresses; ZooKeeper's client checks the name the
        # address maps back to (as a cluster's reverse DNS of a StatefulSet pod gives its headless name).
        props = _properties(broker)
        assert props["zookeeper.connect"] == f"{zookeeper.pod.address}:2182"
        assert props["zookeeper.ssl.client.enable"] == "true"
        assert props["zookeeper.ssl.endpoint.identification.algorithm"] == "HTTPS"
        assert not port_open(zookeeper.pod.address, kafka.ZOOKEEPER_PORT), "ZooKeeper still takes plaintext on 2181"
        # Registered: the broker is in the cluster's metadata, which it reads from ZooKeeper.
        client, _ = _client()
        with kafka.cluster_dns(cluster.network):
            admin = client.KafkaAdminClient(
                bootstrap_servers=_bootstrap(cluster, kafka.KAFKA_PORT),
                security_protocol="SASL_SSL",
                ssl_cafile=str(ca_file),
                **self._sasl(broker),
            )
            try:
                brokers = admin.describe_cluster()["brokers"]
            finally:
                admin.close()
        assert [b["broker_id"] for b in brokers] == [0]

    def test_comprehensive_audit_logs_every_allowed_operation_on_stdout(self, pair):
        cluster, _, broker, ca_file = pair
        user = broker.env["SASL_USERNAME"]
        config = {"bootstrap_servers": _bootstrap(cluster, kafka.KAFKA_PORT), "security_protocol": "SASL_SSL"}
        _round_trip(cluster, {**config, "ssl_cafile": str(ca_file), **self._sasl(broker)})
        lines = [line for line in _log(broker).splitlines() if line.endswith("(kafka.authorizer.logger)")]
        writes = [line for line in lines if f"Principal = User:{user} is Allowed Operation = Write" in line]
        assert writes and "on resource = Topic:LITERAL:orders-" in writes[0], lines[-5:]


def test_a_broker_refuses_a_zookeeper_whose_certificate_lacks_its_name(session_root, supervisor):
    objects = rendered(STACK, CHART, {"tls": {"mode": "required"}})
    cluster = new_cluster(session_root, supervisor, objects, chart_namespace(STACK, CHART), f"{__name__}.zk-name")
    ca = CertificateAuthority()
    for key, value in ca.issue(["zookeeper.elsewhere.example"]).items():
        cluster.secrets.set("zookeeper-tls", key, value.decode())
    kafka.issue_certificate(cluster, ca, "kafka")
    with servers_stopped_after(supervisor):
        kafka.start(cluster.pod("StatefulSet", "zookeeper", 0).container("zookeeper"), kafka.ZOOKEEPER_TLS_PORT)
        broker = cluster.pod("StatefulSet", "kafka", 0).container("kafka").start()
        # The broker gives up when it cannot connect within zookeeper.connection.timeout.ms (18 s) and exits.
        deadline = time.monotonic() + 120
        while broker.running() and time.monotonic() < deadline:
            time.sleep(1)
        log = broker.log.read_text(errors="replace")
        assert not broker.running(), "the broker is still running against a ZooKeeper with another name"
        assert "Timed out waiting for connection" in log, log[-3000:]
        assert "doesn't match any of the subject alternative names" in log, log[-3000:]


def test_prods_ensemble_servers_talk_tls_to_each_other_and_to_clients_only(make_cluster):
    # The 3-server ensemble cannot run on one machine (fixed ports): zookeeper-start.sh and the image's configure
    # are run up to the rendered zookeeper.properties of server 2, with its certificate in place.
    cluster = make_cluster(rendered("prod", CHART, {"tls": {"mode": "required"}}), chart_namespace("prod", CHART))
    kafka.issue_certificate(cluster, CertificateAuthority(), "zookeeper")
    container = cluster.pod("StatefulSet", "zookeeper", 1).container("zookeeper")
    result = container.run(env={"DATAPLANE_CONFLUENT_DRY_RUN": "1"}, timeout=60)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    props = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line and not line.startswith("="))
    assert "clientPort" not in props and props["secureClientPort"] == "2182"
    assert props["sslQuorum"] == "true" and props["ssl.quorum.hostnameVerification"] == "true"
    assert props["ssl.quorum.keyStore.type"] == "PEM" and props["client.portUnification"] == "false"
    assert sorted(k for k in props if k.startswith("server.")) == ["server.1", "server.2", "server.3"]
    store = container.path("/etc/kafka/secrets/zookeeper.pem")
    assert store.stat().st_mode & 0o777 == 0o600
    assert "PRIVATE KEY" in store.read_text() and store.read_text().count("BEGIN CERTIFICATE") == 2


class TestEnabled:
    """tls.mode enabled, audit.level basic, SASL off."""

    @pytest.fixture(scope="class")
    def pair(self, session_root, supervisor):
        overrides = {"tls": {"mode": "enabled"}, "audit": {"level": "basic"}}
        ports = [kafka.KAFKA_PORT, kafka.KAFKA_TLS_PORT]
        with servers_stopped_after(supervisor):
            yield _start_pair(session_root, supervisor, overrides, f"{__name__}.enabled", ports)

    def test_plaintext_on_9092_and_tls_on_9093_both_carry_messages(self, pair):
        cluster, _, _, ca_file = pair
        _round_trip(cluster, {"bootstrap_servers": _bootstrap(cluster, kafka.KAFKA_PORT)})
        tls = {"bootstrap_servers": _bootstrap(cluster, kafka.KAFKA_TLS_PORT), "security_protocol": "SSL"}
        _round_trip(cluster, {**tls, "ssl_cafile": str(ca_file)})

    def test_zookeeper_takes_plaintext_and_tls_and_the_broker_uses_tls(self, pair):
        _, zookeeper, broker, _ = pair
        assert port_open(zookeeper.pod.address, kafka.ZOOKEEPER_PORT)
        assert port_open(zookeeper.pod.address, kafka.ZOOKEEPER_TLS_PORT)
        props = _properties(broker)
        assert props["zookeeper.connect"].endswith(":2182") and props["zookeeper.ssl.client.enable"] == "true"
        assert props["inter.broker.listener.name"] == "TLS"

    def test_basic_audit_logs_a_denied_operation_and_no_allowed_one(self, pair):
        client, errors = _client()
        from kafka.admin import ACL, ACLOperation, ACLPermissionType, ResourcePattern, ResourceType

        cluster, _, broker, _ = pair
        topic = f"payroll-{uuid.uuid4().hex[:8]}"
        config = {"bootstrap_servers": _bootstrap(cluster, kafka.KAFKA_PORT), "request_timeout_ms": 10000}
        with kafka.cluster_dns(cluster.network):
            admin = client.KafkaAdminClient(**config)
            try:
                deny = ACL(
                    principal="User:ANONYMOUS",
                    host="*",
                    operation=ACLOperation.ALL,
                    permission_type=ACLPermissionType.DENY,
                    resource_pattern=ResourcePattern(ResourceType.TOPIC, topic),
                )
                assert not admin.create_acls([deny])["failed"]
            finally:
                admin.close()
            producer = client.KafkaProducer(**config, max_block_ms=8000)
            try:
                with pytest.raises(errors.KafkaError):
                    producer.send(topic, b"salary").get(timeout=10)
            finally:
                producer.close(timeout=2)
        lines = [line for line in _log(broker).splitlines() if line.endswith("(kafka.authorizer.logger)")]
        assert any("is Denied Operation" in line and topic in line for line in lines), lines[-5:]
        assert not any("is Allowed Operation" in line for line in lines)

    def test_zookeeper_audit_log_records_the_broker_registration_as_key_value_lines(self, pair):
        _, zookeeper, _, _ = pair
        audit = [line for line in _log(zookeeper).splitlines() if "Slf4jAuditLogger" in line]
        assert any("operation=create" in line and "znode=/brokers/ids/0" in line for line in audit), audit[-5:]
