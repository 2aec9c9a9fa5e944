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
# zookeeper.properties.template's mapping, for the settings that exist in ZooKeeper 3.8 (subset we may set).
ZOOKEEPER_PROPS = {
    "ZOOKEEPER_CLIENT_PORT": "clientPort",
    "ZOOKEEPER_TICK_TIME": "tickTime",
    "ZOOKEEPER_INIT_LIMIT": "initLimit",
    "ZOOKEEPER_SYNC_LIMIT": "syncLimit",
    "ZOOKEEPER_MAX_CLIENT_CNXNS": "maxClientCnxns",
    "ZOOKEEPER_CLIENT_PORT_ADDRESS": "clientPortAddress",
    "ZOOKEEPER_AUTOPURGE_SNAP_RETAIN_COUNT": "autopurge.snapRetainCount",
    "ZOOKEEPER_AUTOPURGE_PURGE_INTERVAL": "autopurge.purgeInterval",
    "ZOOKEEPER_QUORUM_LISTEN_ON_ALL_IPS": "quorumListenOnAllIPs",
    "ZOOKEEPER_ADMIN_ENABLE_SERVER": "admin.enableServer",
}
# kafka-run-class's default JVM flags, plus one for this 2-core machine (C1 only: faster start, same broker).
JVM_PERFORMANCE_OPTS = (
    "-server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 "
    "-XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true -XX:TieredStopAtLevel=1"
)
LOG4J = """log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.controller=INFO
log4j.logger.state.change.logger=WARN
"""
_SINGLE_UNDERSCORE = re.compile(r"(?<!_)_(?!_)")


class ConfigureError(SystemExit):
    pass


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
        raise ConfigureError("SSL listeners need the image's keystores: not reproduced by this stand-in")
    if re.search(r"SASL_.*://", env["KAFKA_ADVERTISED_LISTENERS"]):
        ensure(env, "KAFKA_OPTS")
    etc = in_pod(mounts, "/etc/kafka")
    properties = etc / "kafka.properties"
    write_properties(properties, env_to_props(env, "KAFKA_", exclude=KAFKA_EXCLUDED))
    (etc / "log4j.properties").write_text(LOG4J)
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
    (etc / "log4j.properties").write_text(LOG4J)
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
