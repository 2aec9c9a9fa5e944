"""charts/nexus-database: what `tls.mode` and `audit.level` render for Kafka, ZooKeeper and MongoDB (real helm over
values-prod.yaml, metrics on, each mode given explicitly). Disabled renders none of it; enabled adds a TLS listener
beside each plaintext one; required leaves TLS only (a pod's loopback sidecars included where the server cannot
exempt loopback: MongoDB). Certificates come from the Secret `<component>-tls`; backups mount its ca.crt only.
Kafka and ZooKeeper run for real in tests/dataplane/test_tls_kafka.py; MongoDB cannot run here (no server
installs), so this file and tests/dataplane/test_mongodb_scripts.py are its proof."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import pytest

from tests.charts.test_nexus_database_chart import CHART, CHART_DIR, NAMESPACE, env_of, pod_spec
from tooling.helm import one, render

pytestmark = pytest.mark.render


@functools.cache
def _rendered(mode: str, audit: str) -> tuple[Mapping[str, Any], ...]:
    values = {"tls": {"mode": mode}, "audit": {"level": audit}, "metrics": {"enabled": True}}
    return tuple(render(CHART, values, values_files=[CHART_DIR / "values-prod.yaml"], namespace=NAMESPACE))


def rendered(mode: str = "disabled", audit: str = "disabled") -> list[Mapping[str, Any]]:
    return list(_rendered(mode, audit))


def container(objects, kind: str, name: str, container_name: str) -> Mapping[str, Any]:
    pod = pod_spec(one(objects, kind, name))
    return next(c for c in [*pod.get("initContainers", []), *pod["containers"]] if c["name"] == container_name)


def service_ports(objects, name: str) -> dict[str, int]:
    return {p["name"]: p["port"] for p in one(objects, "Service", name)["spec"]["ports"]}


def container_ports(c: Mapping[str, Any]) -> dict[str, int]:
    return {p["name"]: p["containerPort"] for p in c.get("ports", [])}


def volumes(objects, kind: str, name: str) -> dict[str, Mapping[str, Any]]:
    return {v["name"]: v for v in pod_spec(one(objects, kind, name))["volumes"]}


def mounts(c: Mapping[str, Any]) -> dict[str, str]:
    return {m["name"]: m["mountPath"] for m in c.get("volumeMounts", [])}


# --- Kafka ----------------------------------------------------------------------------------------------------


def test_with_tls_disabled_kafka_and_zookeeper_mount_no_certificate_and_open_no_tls_port():
    objects = rendered()
    for name in ("kafka", "zookeeper"):
        c = container(objects, "StatefulSet", name, name)
        assert "tls" not in mounts(c) and not {"kafka-tls", "client-tls"} & set(container_ports(c))
        assert not any(e["name"].startswith(("TLS_", "KAFKA_SSL_", "ZOOKEEPER_SSL_")) for e in c["env"])
    assert service_ports(objects, "kafka-service") == {"kafka": 9092}
    assert service_ports(objects, "zookeeper-service") == {"client": 2181}


def test_with_tls_enabled_the_kafka_services_add_a_kafka_tls_port_beside_9092():
    objects = rendered("enabled")
    assert service_ports(objects, "kafka-service") == {"kafka": 9092, "kafka-tls": 9093}
    assert {"kafka": 9092, "kafka-tls": 9093}.items() <= service_ports(objects, "kafka-headless").items()
    broker = container(objects, "StatefulSet", "kafka", "kafka")
    assert {"kafka": 9092, "kafka-tls": 9093}.items() <= container_ports(broker).items()
    assert env_of(broker)["TLS_MODE"] == "enabled"


def test_with_tls_required_kafka_keeps_one_client_port_9092_which_is_tls():
    objects = rendered("required")
    assert service_ports(objects, "kafka-service") == {"kafka": 9092}
    broker = container(objects, "StatefulSet", "kafka", "kafka")
    assert "kafka-tls" not in container_ports(broker)
    assert env_of(broker)["TLS_MODE"] == "required"


def test_brokers_read_pem_from_the_kafka_tls_secret_and_check_peer_names():
    objects = rendered("enabled")
    broker = container(objects, "StatefulSet", "kafka", "kafka")
    env = env_of(broker)
    assert env["KAFKA_SSL_KEYSTORE_TYPE"] == "PEM" and env["KAFKA_SSL_TRUSTSTORE_TYPE"] == "PEM"
    assert env["KAFKA_SSL_TRUSTSTORE_LOCATION"] == "/tls/ca.crt"
    assert env["KAFKA_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM"] == "https"
    # The key store kafka-start.sh builds (key + chain) lives in memory, in the image's secrets folder.
    assert env["KAFKA_SSL_KEYSTORE_LOCATION"].startswith(mounts(broker)["keystore"] + "/")
    vols = volumes(objects, "StatefulSet", "kafka")
    assert vols["tls"]["secret"] == {"secretName": "kafka-tls", "defaultMode": 0o440}
    assert vols["keystore"]["emptyDir"]["medium"] == "Memory"
    assert mounts(broker)["tls"] == "/tls"


def test_brokers_connect_to_zookeeper_over_tls_on_2182_with_its_name_checked():
    for mode in ("enabled", "required"):
        env = env_of(container(rendered(mode), "StatefulSet", "kafka", "kafka"))
        assert all(host.endswith(":2182") for host in env["KAFKA_ZOOKEEPER_CONNECT"].split(","))
        assert env["KAFKA_ZOOKEEPER_SSL_CLIENT_ENABLE"] == "true"
        assert env["KAFKA_ZOOKEEPER_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM"] == "HTTPS"
        assert env["KAFKA_ZOOKEEPER_SSL_TRUSTSTORE_LOCATION"] == "/tls/ca.crt"
        assert "-Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty" in env["KAFKA_OPTS"]


def test_no_password_of_a_key_store_is_rendered():
    for mode in ("enabled", "required"):
        for name in ("kafka", "zookeeper"):
            env = env_of(container(rendered(mode), "StatefulSet", name, name))
            assert not [key for key in env if "PASSWORD" in key and key.startswith(("KAFKA_SSL", "ZOOKEEPER_SSL"))]


def test_the_kafka_network_policy_admits_9093_only_while_plaintext_is_still_offered():
    def ports(mode: str) -> set[int]:
        policy = one(rendered(mode), "NetworkPolicy", "kafka")
        return {p["port"] for rule in policy["spec"]["ingress"] for p in rule.get("ports", [])}

    assert 9093 in ports("enabled")
    assert 9093 not in ports("required") and 9093 not in ports("disabled")


# --- ZooKeeper ------------------------------------------------------------------------------------------------


def test_with_tls_enabled_zookeeper_serves_2181_and_tls_on_2182_and_between_servers():
    objects = rendered("enabled")
    assert service_ports(objects, "zookeeper-service") == {"client": 2181, "client-tls": 2182}
    server = container(objects, "StatefulSet", "zookeeper", "zookeeper")
    env = env_of(server)
    assert env["ZOOKEEPER_CLIENT_PORT"] == "2181" and env["ZOOKEEPER_SECURE_CLIENT_PORT"] == "2182"
    assert env["ZOOKEEPER_SERVER_CNXN_FACTORY"] == "org.apache.zookeeper.server.NettyServerCnxnFactory"
    assert env["ZOOKEEPER_SSL_KEYSTORE_TYPE"] == "PEM" and env["ZOOKEEPER_SSL_TRUSTSTORE_LOCATION"] == "/tls/ca.crt"
    assert env["ZOOKEEPER_SSL_CLIENT_AUTH"] == "need"
    assert env["ZOOKEEPER_SSL_QUORUM"] == "true" and env["ZOOKEEPER_SSL_QUORUM_HOSTNAME_VERIFICATION"] == "true"
    assert env["ZOOKEEPER_CLIENT_PORT_UNIFICATION"] == "false"
    assert volumes(objects, "StatefulSet", "zookeeper")["tls"]["secret"]["secretName"] == "zookeeper-tls"


def test_with_tls_required_zookeeper_has_no_plaintext_client_port_and_probes_the_tls_one():
    objects = rendered("required")
    for service in ("zookeeper-service", "zookeeper-headless"):
        assert "client" not in service_ports(objects, service) and service_ports(objects, service)["client-tls"] == 2182
    server = container(objects, "StatefulSet", "zookeeper", "zookeeper")
    env = env_of(server)
    assert "ZOOKEEPER_CLIENT_PORT" not in env and env["ZOOKEEPER_ADMIN_ENABLE_SERVER"] == "false"
    assert "client" not in container_ports(server)
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert server[probe]["tcpSocket"]["port"] == "client-tls"


# --- Audit: Kafka and ZooKeeper -------------------------------------------------------------------------------


@pytest.mark.parametrize(("audit", "level"), [("basic", "INFO"), ("comprehensive", "DEBUG")])
def test_kafka_audit_turns_on_an_authorizer_that_allows_as_before_and_logs_its_decisions(audit, level):
    env = env_of(container(rendered(audit=audit), "StatefulSet", "kafka", "kafka"))
    assert env["KAFKA_AUTHORIZER_CLASS_NAME"] == "kafka.security.authorizer.AclAuthorizer"
    assert env["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "true"
    assert env["KAFKA_LOG4J_LOGGERS"] == f"kafka.authorizer.logger={level}"


def test_zookeeper_audit_log_is_on_for_basic_and_comprehensive_audit():
    for audit in ("basic", "comprehensive"):
        env = env_of(container(rendered(audit=audit), "StatefulSet", "zookeeper", "zookeeper"))
        assert env["KAFKA_OPTS"] == "-Dzookeeper.audit.enable=true"
        assert env["ZOOKEEPER_LOG4J_LOGGERS"] == "org.apache.zookeeper.audit.Slf4jAuditLogger=INFO"


def test_with_audit_disabled_no_authorizer_and_no_audit_logger_is_configured():
    objects = rendered()
    assert "KAFKA_AUTHORIZER_CLASS_NAME" not in env_of(container(objects, "StatefulSet", "kafka", "kafka"))
    assert "KAFKA_OPTS" not in env_of(container(objects, "StatefulSet", "zookeeper", "zookeeper"))


# --- MongoDB --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "tls_mode"), [("enabled", "preferTLS"), ("required", "requireTLS")])
def test_mongod_gets_its_tls_mode_and_the_certificate_secret(mode, tls_mode):
    objects = rendered(mode)
    mongod = container(objects, "StatefulSet", "cart-mongodb", "mongodb")
    assert env_of(mongod)["TLS_MODE"] == tls_mode
    vols = volumes(objects, "StatefulSet", "cart-mongodb")
    assert vols["tls"]["secret"] == {"secretName": "cart-mongodb-tls", "defaultMode": 0o440}
    assert vols["tls-store"]["emptyDir"]["medium"] == "Memory"
    assert mounts(mongod)["tls"] == "/tls" and mounts(mongod)["tls-store"] == "/tls-store"


def test_with_tls_disabled_mongod_gets_no_tls_mode_and_no_certificate():
    objects = rendered()
    mongod = container(objects, "StatefulSet", "cart-mongodb", "mongodb")
    assert "TLS_MODE" not in env_of(mongod) and "tls" not in volumes(objects, "StatefulSet", "cart-mongodb")


def test_the_replica_set_sidecar_connects_over_tls_with_the_ca_only_whenever_tls_is_on():
    for mode in ("enabled", "required"):
        objects = rendered(mode)
        sidecar = container(objects, "StatefulSet", "cart-mongodb", "replica-set")
        assert env_of(sidecar)["TLS_CA_FILE"] == "/tls/ca.crt"
        assert mounts(sidecar)["tls-ca"] == "/tls" and "tls" not in mounts(sidecar)
        ca_only = volumes(objects, "StatefulSet", "cart-mongodb")["tls-ca"]["secret"]
        assert ca_only["secretName"] == "cart-mongodb-tls" and ca_only["items"] == [{"key": "ca.crt", "path": "ca.crt"}]


def test_with_tls_required_the_probe_and_exporter_use_tls_on_loopback_and_with_enabled_plaintext():
    required, enabled = rendered("required"), rendered("enabled")
    probe = " ".join(container(required, "StatefulSet", "cart-mongodb", "mongodb")["readinessProbe"]["exec"]["command"])
    assert "tls=true&tlsCAFile=/tls/ca.crt" in probe
    exporter = container(required, "StatefulSet", "cart-mongodb", "metrics")
    assert exporter["args"][0] == "--mongodb.uri=mongodb://127.0.0.1:27017/admin?tls=true&tlsCAFile=/tls/ca.crt"
    assert mounts(exporter)["tls-ca"] == "/tls"
    probe = " ".join(container(enabled, "StatefulSet", "cart-mongodb", "mongodb")["readinessProbe"]["exec"]["command"])
    assert "tls=" not in probe
    assert container(enabled, "StatefulSet", "cart-mongodb", "metrics")["args"][0].endswith("27017/admin")


def test_the_mongodb_backup_mounts_only_the_ca_of_the_server_secret_and_names_it():
    for mode in ("enabled", "required"):
        job = one(rendered(mode), "CronJob", "cart-mongodb-backup")
        backup = next(
            c for c in [*pod_spec(job).get("initContainers", []), *pod_spec(job)["containers"]] if c["name"] == "backup"
        )
        assert env_of(backup)["TLS_CA_FILE"] == "/tls/ca.crt" and mounts(backup)["tls-ca"] == "/tls"
        secrets = [v["secret"] for v in pod_spec(job)["volumes"] if "secret" in v]
        assert secrets == [
            {"secretName": "cart-mongodb-tls", "items": [{"key": "ca.crt", "path": "ca.crt"}], "defaultMode": 0o444}
        ]


def test_comprehensive_audit_makes_mongod_log_every_command_and_basic_keeps_the_default_log():
    comprehensive = env_of(container(rendered(audit="comprehensive"), "StatefulSet", "cart-mongodb", "mongodb"))
    assert comprehensive["LOG_COMMANDS"] == "true"
    assert "LOG_COMMANDS" not in env_of(container(rendered(audit="basic"), "StatefulSet", "cart-mongodb", "mongodb"))
