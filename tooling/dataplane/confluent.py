"""Stand-in for `/etc/confluent/docker/run` of cp-kafka / cp-zookeeper 7.9.0, which our start scripts exec.

The images' run script is `configure` (environment -> /etc/kafka/*.properties, with `dub`), `ensure`
(`cub zk-ready` for the broker) and `launch` (`kafka-server-start` / `zookeeper-server-start`). This does
the same from confluentinc/kafka-images (kafka/ and zookeeper/include/etc/confluent/docker/) for the
settings our charts use, then execs the Apache broker or ZooKeeper server from Maven Central's jars
(Kafka 3.9.0 = cp-kafka 7.9.0's Apache base; its ZooKeeper 3.8). What it cannot be:
- Confluent's additions to the broker (the `confluent.*` properties, e.g. the balancer the image turns on
  by default): the Apache broker logs them as unknown and ignores them.
- Paths: the image's fixed paths (/etc/kafka, /var/lib/zookeeper/...) are the pod's mounts, from the
  `--mounts` table the harness writes.
- Name resolution: the JVM resolves through `--hosts-file` (`-Djdk.net.hosts.file`), where the harness maps
  the in-cluster names to pod addresses; the image uses the cluster's DNS.

Standard library only: it runs as the pods' unprivileged user with the system Python.
`DATAPLANE_CONFLUENT_DRY_RUN=1` stops after `configure` (the rendered properties are the result).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import sys
import time
from pathlib import Path

DIR = Path(__file__).resolve().parent
KAFKA_LIB = DIR.parent.parent / ".tools" / "dataplane" / "kafka" / "lib"

# kafka.properties.template's exclusions, as the image has them: a missing comma there joins
# 'KAFKA_HEAP_OPTS' and 'KAFKA_LOG4J_OPTS' into one string, so KAFKA_HEAP_OPTS does become a property
# (`heap.opts`, unknown to the broker and ignored). Kept, so the broker sees the image's properties.
KAFKA_EXCLUDED = (
    "KAFKA_VERSION",
    "KAFKA_HEAP_OPTSKAFKA_LOG4J_OPTS",
    "KAFKA_OPTS",
    "KAFKA_JMX_OPTS",
    "KAFKA_JVM_PERFORMANCE_OPTS",
    "KAFKA_GC_LOG_OPTS",
    "KAFKA_LOG4J_ROOT_LOGLEVEL",
    "KAFKA_LOG4J_LOGGERS",
    "KAFKA_TOOLS_LOG4J_LOGLEVEL",
)
# zookeeper.properties.template's mapping (`other_props`), in its order: only these variables become properties.
ZOOKEEPER_PROPS = {
    "ZOOKEEPER_CLIENT_PORT": "clientPort",
    "ZOOKEEPER_TICK_TIME": "tickTime",
    "ZOOKEEPER_GLOBAL_OUTSTANDING_LIMIT": "globalOutstandingLimit",
    "ZOOKEEPER_PRE_ALLOC_SIZE": "preAllocSize",
    "ZOOKEEPER_SNAP_COUNT": "snapCount",
    "ZOOKEEPER_TRACE_FILE": "traceFile",
    "ZOOKEEPER_MAX_CLIENT_CNXNS": "maxClientCnxns",
    "ZOOKEEPER_CLIENT_PORT_ADDRESS": "clientPortAddress",
    "ZOOKEEPER_MIN_SESSION_TIMEOUT": "minSessionTimeout",
    "ZOOKEEPER_MAX_SESSION_TIMEOUT": "maxSessionTimeout",
    "ZOOKEEPER_FSYNC_WARNING_THRESHOLDMS": "fsync.warningthresholdms",
    "ZOOKEEPER_AUTOPURGE_SNAP_RETAIN_COUNT": "autopurge.snapRetainCount",
    "ZOOKEEPER_AUTOPURGE_PURGE_INTERVAL": "autopurge.purgeInterval",
    "ZOOKEEPER_SYNC_ENABLED": "syncEnabled",
    "ZOOKEEPER_ELECTION_ALG": "electionAlg",
    "ZOOKEEPER_INIT_LIMIT": "initLimit",
    "ZOOKEEPER_LEADER_SERVES": "leaderServes",
    "ZOOKEEPER_SYNC_LIMIT": "syncLimit",
    "ZOOKEEPER_CNX_TIMEOUT": "cnxTimeout",
    "ZOOKEEPER_FORCE_SYNC": "forceSync",
    "ZOOKEEPER_JUTE_MAX_BUFFER": "jute.maxbuffer",
    "ZOOKEEPER_SKIP_ACL": "skipACL",
    "ZOOKEEPER_QUORUM_LISTEN_ON_ALL_IPS": "quorumListenOnAllIPs",
    "ZOOKEEPER_CLIENT_CNXN_SOCKET": "clientCnxnSocket",
    "ZOOKEEPER_SECURE_CLIENT_PORT": "secureClientPort",
    "ZOOKEEPER_SERVER_CNXN_SOCKET": "serverCnxnSocket",
    "ZOOKEEPER_TCP_KEEP_ALIVE": "tcpKeepAlive",
    "ZOOKEEPER_X509_AUTHENTICATION_PROVIDER_SUPER_USER": "X509AuthenticationProvider.superUser",
    "ZOOKEEPER_SSL_AUTH_PROVIDER": "ssl.authProvider",
    "ZOOKEEPER_SSL_CLIENT_AUTH": "ssl.clientAuth",
    "ZOOKEEPER_SSL_KEYSTORE_LOCATION": "ssl.keyStore.location",
    "ZOOKEEPER_SSL_KEYSTORE_PASSWORD": "ssl.keyStore.password",
    "ZOOKEEPER_SSL_KEYSTORE_TYPE": "ssl.keyStore.type",
    "ZOOKEEPER_SSL_TRUSTSTORE_LOCATION": "ssl.trustStore.location",
    "ZOOKEEPER_SSL_TRUSTSTORE_PASSWORD": "ssl.trustStore.password",
    "ZOOKEEPER_SSL_TRUSTSTORE_TYPE": "ssl.trustStore.type",
    "ZOOKEEPER_SSL_ENABLED_PROTOCOLS": "ssl.enabledProtocols",
    "ZOOKEEPER_SSL_CONTEXT_SUPPLIER_CLASS": "ssl.context.supplier.class",
    "ZOOKEEPER_SSL_CIPHER_SUITES": "ssl.ciphersuites",
    "ZOOKEEPER_SSL_HOSTNAME_VERIFICATION": "ssl.hostnameVerification",
    "ZOOKEEPER_SSL_CRL": "ssl.crl",
    "ZOOKEEPER_SSL_OCPS": "ssl.ocsp",
    "ZOOKEEPER_SSL_HANDSHAKE_DETECTION_TIMEOUT_MILLIS": "ssl.handshakeDetectionTimeoutMillis",
    "ZOOKEEPER_SSL_QUORUM": "sslQuorum",
    "ZOOKEEPER_SSL_QUORUM_CLIENT_AUTH": "ssl.quorum.clientAuth",
    "ZOOKEEPER_SSL_QUORUM_KEYSTORE_LOCATION": "ssl.quorum.keyStore.location",
    "ZOOKEEPER_SSL_QUORUM_KEYSTORE_PASSWORD": "ssl.quorum.keyStore.password",
    "ZOOKEEPER_SSL_QUORUM_KEYSTORE_TYPE": "ssl.quorum.keyStore.type",
    "ZOOKEEPER_SSL_QUORUM_TRUSTSTORE_LOCATION": "ssl.quorum.trustStore.location",
    "ZOOKEEPER_SSL_QUORUM_TRUSTSTORE_PASSWORD": "ssl.quorum.trustStore.password",
    "ZOOKEEPER_SSL_QUORUM_TRUSTSTORE_TYPE": "ssl.quorum.trustStore.type",
    "ZOOKEEPER_SSL_QUORUM_ENABLED_PROTOCOLS": "ssl.quorum.enabledProtocols",
    "ZOOKEEPER_SSL_QUORUM_CIPHER_SUITES": "ssl.quorum.ciphersuites",
    "ZOOKEEPER_SSL_QUORUM_CONTEXT_SUPPLIER_CLASS": "ssl.quorum.context.supplier.class",
    "ZOOKEEPER_SSL_QUORUM_HOSTNAME_VERIFICATION": "ssl.quorum.hostnameVerification",
    "ZOOKEEPER_SSL_QUORUM_CRL": "ssl.quorum.crl",
    "ZOOKEEPER_SSL_QUORUM_OCPS": "ssl.quorum.ocsp",
    "ZOOKEEPER_SSL_QUORUM_HANDSHAKE_DETECTION_TIMEOUT_MILLIS": "ssl.quorum.handshakeDetectionTimeoutMillis",
    "ZOOKEEPER_SERVER_CNXN_FACTORY": "serverCnxnFactory",
    "ZOOKEEPER_AUTH_PROVIDER_X509": "authProvider.x509",
    "ZOOKEEPER_AUTH_PROVIDER_SASL": "authProvider.sasl",
    "ZOOKEEPER_CLIENT_PORT_UNIFICATION": "client.portUnification",
    "ZOOKEEPER_ADMIN_ENABLE_SERVER": "admin.enableServer",
    "ZOOKEEPER_ADMIN_SERVER_ADDRESS": "admin.serverAddress",
    "ZOOKEEPER_ADMIN_SERVER_PORT": "admin.serverPort",
    "ZOOKEEPER_ADMIN_IDLE_TIMEOUT": "admin.idleTimeout",
    "ZOOKEEPER_ADMIN_COMMAND_URL": "admin.commandURL",
}
# kafka-run-class's default JVM flags, plus one for this 2-core machine (C1 only: faster start, same broker).
JVM_PERFORMANCE_OPTS = (
    "-server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 "
    "-XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true -XX:TieredStopAtLevel=1"
)
# log4j.properties.template of both images: the root level and `<PREFIX>_LOG4J_LOGGERS` ("name=LEVEL,...",
# dub's parse_log4j_loggers) merged over the image's own logger levels.
LOG4J_HEAD = """log4j.rootLogger={root}, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
"""
# cp-kafka's defaults; kafka.controller and state.change.logger are TRACE in the image, INFO/WARN here (the
# tests' logs would be mostly controller traces; no test reads them).
KAFKA_LOGGERS = {
    "kafka": "INFO",
    "kafka.network.RequestChannel$": "WARN",
    "kafka.producer.async.DefaultEventHandler": "DEBUG",
    "kafka.request.logger": "WARN",
    "kafka.controller": "INFO",
    "kafka.log.LogCleaner": "INFO",
    "state.change.logger": "WARN",
    "kafka.authorizer.logger": "WARN",
}
_SINGLE_UNDERSCORE = re.compile(r"(?<!_)_(?!_)")


class ConfigureError(SystemExit):
    pass


def log4j_properties(env: dict[str, str], prefix: str, defaults: dict[str, str]) -> str:
    loggers = dict(defaults)
    for item in filter(None, (part.strip() for part in env.get(f"{prefix}_LOG4J_LOGGERS", "").split(","))):
        name, _, level = item.partition("=")
        loggers[name.strip()] = level.strip()
    head = LOG4J_HEAD.format(root=env.get(f"{prefix}_LOG4J_ROOT_LOGLEVEL") or "INFO")
    return head + "".join(f"log4j.logger.{name}={level}\n" for name, level in loggers.items())


def env_to_props(env: dict[str, str], env_prefix: str, prop_prefix: str = "", exclude=()) -> dict[str, str]:
    """dub's env_to_props: strip the prefix, lower-case, `_` -> `.`, `___` -> `-`, `__` -> `_`."""
    props = {}
    for name, value in env.items():
        if name in exclude or not name.startswith(env_prefix):
            continue
        raw = name[len(env_prefix) :].lower()
        prop = ".".join(_SINGLE_UNDERSCORE.split(raw))
        prop = "_".join("-".join(prop.split("___")).split("__"))
        props[prop_prefix + prop] = value
    return props


def ensure(env: dict[str, str], *names: str) -> None:
    for name in names:
        if not env.get(name):
            raise ConfigureError(f"{name} is required.")


def in_pod(mounts: dict[str, str], path: str) -> Path:
    """An image path under one of the pod's mounts (longest mount first)."""
    for mount in sorted(mounts, key=len, reverse=True):
        if path == mount or path.startswith(mount.rstrip("/") + "/"):
            return Path(mounts[mount] + path[len(mount) :])
    raise ConfigureError(f"{path} is not on a mounted volume (read-only root filesystem)")


def write_properties(path: Path, props: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))


def configure_kafka(env: dict[str, str], mounts: dict[str, str]) -> Path:
    ensure(env, "KAFKA_ZOOKEEPER_CONNECT", "KAFKA_ADVERTISED_LISTENERS")
    if not env.get("KAFKA_LISTENERS"):
        # cub listeners: the advertised listeners with every host replaced by 0.0.0.0
        env["KAFKA_LISTENERS"] = re.sub(r"://[^:,]*:", "://0.0.0.0:", env["KAFKA_ADVERTISED_LISTENERS"])
    env.setdefault("KAFKA_LOG_DIRS", "/var/lib/kafka/data")
    env.setdefault("KAFKA_CONFLUENT_BALANCER_ENABLE", "true")
    for deprecated in ("KAFKA_ADVERTISED_PORT", "KAFKA_ADVERTISED_HOST", "KAFKA_HOST", "KAFKA_PORT"):
        if env.get(deprecated):
            raise ConfigureError(f"{deprecated} is deprecated. Please use KAFKA_ADVERTISED_LISTENERS instead.")
    if "SSL://" in env["KAFKA_ADVERTISED_LISTENERS"]:
        # configure's SSL branch: keyed on the listener *name* SSL / SASL_SSL in the advertised listeners (ours are
        # INTERNAL and TLS, whatever their protocol, so it never applies to them). Key store and two password
        # files under /etc/kafka/secrets; the trust store only with client authentication.
        def secret_file(name: str) -> Path:
            ensure(env, name)
            path = in_pod(mounts, f"/etc/kafka/secrets/{env[name]}")
            if not path.exists():
                raise ConfigureError(f"{path} does not exist")
            return path

        env["KAFKA_SSL_KEYSTORE_LOCATION"] = f"/etc/kafka/secrets/{env.get('KAFKA_SSL_KEYSTORE_FILENAME', '')}"
        secret_file("KAFKA_SSL_KEYSTORE_FILENAME")
        env["KAFKA_SSL_KEY_PASSWORD"] = secret_file("KAFKA_SSL_KEY_CREDENTIALS").read_text()
        env["KAFKA_SSL_KEYSTORE_PASSWORD"] = secret_file("KAFKA_SSL_KEYSTORE_CREDENTIALS").read_text()
        if any(word in env.get("KAFKA_SSL_CLIENT_AUTH", "") for word in ("required", "requested")):
            env["KAFKA_SSL_TRUSTSTORE_LOCATION"] = f"/etc/kafka/secrets/{env.get('KAFKA_SSL_TRUSTSTORE_FILENAME', '')}"
            secret_file("KAFKA_SSL_TRUSTSTORE_FILENAME")
            env["KAFKA_SSL_TRUSTSTORE_PASSWORD"] = secret_file("KAFKA_SSL_TRUSTSTORE_CREDENTIALS").read_text()
    if re.search(r"SASL_.*://", env["KAFKA_ADVERTISED_LISTENERS"]):
        ensure(env, "KAFKA_OPTS")
    etc = in_pod(mounts, "/etc/kafka")
    properties = etc / "kafka.properties"
    write_properties(properties, env_to_props(env, "KAFKA_", exclude=KAFKA_EXCLUDED))
    (etc / "log4j.properties").write_text(log4j_properties(env, "KAFKA", KAFKA_LOGGERS))
    return properties


def configure_zookeeper(env: dict[str, str], mounts: dict[str, str]) -> Path:
    if not (env.get("ZOOKEEPER_CLIENT_PORT") or env.get("ZOOKEEPER_SECURE_CLIENT_PORT")):
        raise ConfigureError("ZOOKEEPER_CLIENT_PORT or ZOOKEEPER_SECURE_CLIENT_PORT is required.")
    if env.get("ZOOKEEPER_SERVERS"):
        ensure(env, "ZOOKEEPER_SERVER_ID")
        env.setdefault("ZOOKEEPER_INIT_LIMIT", "10")
        env.setdefault("ZOOKEEPER_SYNC_LIMIT", "5")
    data = in_pod(mounts, "/var/lib/zookeeper/data")
    if env.get("ZOOKEEPER_SERVER_ID"):
        (data / "myid").write_text(env["ZOOKEEPER_SERVER_ID"])
    props = {"dataDir": str(data), "dataLogDir": str(in_pod(mounts, "/var/lib/zookeeper/log"))}
    props.update({prop: env[name] for name, prop in ZOOKEEPER_PROPS.items() if env.get(name) is not None})
    for index, server in enumerate(filter(None, env.get("ZOOKEEPER_SERVERS", "").split(";")), start=1):
        props[f"server.{index}"] = server
    etc = in_pod(mounts, "/etc/kafka")
    properties = etc / "zookeeper.properties"
    write_properties(properties, props)
    (etc / "log4j.properties").write_text(log4j_properties(env, "ZOOKEEPER", {}))
    return properties


def zk_ready(connect: str, timeout: float) -> None:
    """cub zk-ready: some server of the connect string answers within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    hosts = [h.rsplit("/", 1)[0] for h in connect.split(",")]
    while time.monotonic() < deadline:
        for host in hosts:
            name, _, port = host.partition(":")
            try:
                with socket.create_connection((name, int(port or 2181)), timeout=2) as sock:
                    sock.sendall(b"srvr")
                    if sock.recv(64):
                        return
            except OSError:
                pass
        time.sleep(1)
    raise ConfigureError(f"ZooKeeper {connect} not ready after {timeout}s")


def resolver(hosts_file: str) -> None:
    """Resolve as the JVM will (the harness's hosts file), for zk_ready."""
    table = {}
    for line in Path(hosts_file).read_text().splitlines():
        address, *names = line.split()
        for name in names:
            table[name] = address
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        return real(table.get(host, host), *args, **kwargs)

    socket.getaddrinfo = getaddrinfo


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("component", choices=["kafka", "zookeeper"])
    parser.add_argument("--mounts", required=True)
    parser.add_argument("--hosts-file", required=True)
    args = parser.parse_args(argv)
    mounts = json.loads(Path(args.mounts).read_text())
    env = dict(os.environ)
    print(f"===> Configuring ({args.component}, data-plane stand-in of /etc/confluent/docker/run)...", flush=True)
    if args.component == "kafka":
        properties, main_class = configure_kafka(env, mounts), "kafka.Kafka"
    else:
        properties, main_class = configure_zookeeper(env, mounts), "org.apache.zookeeper.server.quorum.QuorumPeerMain"
    if env.get("DATAPLANE_CONFLUENT_DRY_RUN") == "1":
        print(properties.read_text(), end="")
        return
    if args.component == "kafka":
        print("===> Running preflight checks... ", flush=True)
        if env.get("KAFKA_ZOOKEEPER_SSL_CLIENT_ENABLE") == "true":
            # ensure skips `cub zk-ready` when the broker talks TLS to ZooKeeper.
            print("===> Skipping Zookeeper health check for SSL connections...", flush=True)
        else:
            resolver(args.hosts_file)
            zk_ready(env["KAFKA_ZOOKEEPER_CONNECT"], float(env.get("KAFKA_CUB_ZK_TIMEOUT", "40")))
    print("===> Launching ... ", flush=True)
    etc = properties.parent
    jvm = [
        "java",
        *env.get("KAFKA_HEAP_OPTS", "-Xmx256M").split(),
        *env.get("KAFKA_JVM_PERFORMANCE_OPTS", JVM_PERFORMANCE_OPTS).split(),
        # kafka-run-class's place for it (our start scripts put the JMX exporter agent there).
        *env.get("KAFKA_JMX_OPTS", "").split(),
        f"-Djdk.net.hosts.file={args.hosts_file}",
        f"-Dlog4j.configuration=file:{etc / 'log4j.properties'}",
        *env.get("KAFKA_OPTS", "").split(),
        "-cp",
        f"{KAFKA_LIB}/*",
        main_class,
        str(properties),
    ]
    sys.stdout.flush()
    os.execvpe("java", jvm, env)


if __name__ == "__main__":
    main()
