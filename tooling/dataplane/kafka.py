"""Kafka and ZooKeeper pods (cp-kafka / cp-zookeeper start scripts, run through tooling/dataplane/confluent.py),
and a Python client that resolves the in-cluster names brokers advertise the way the pods' DNS would."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator

from tooling.dataplane.pods import Container, Network
from tooling.dataplane.processes import Server, port_open, wait_for

ZOOKEEPER_PORT = 2181
KAFKA_PORT = 9092


def start(container: Container, port: int, timeout: float = 90) -> Server:
    """Start the container's command; ready when its tcpSocket probe's port answers on the pod."""
    if port_open("127.0.0.1", port):
        # The start scripts listen on 0.0.0.0 (every interface of the pod): here, of the machine.
        raise RuntimeError(f"port {port} is taken on this machine, and the start script binds 0.0.0.0:{port}")
    server = container.start()
    wait_for(
        lambda: port_open(container.pod.address, port), what=f"{server.name} on :{port}", timeout=timeout, server=server
    )
    return server


@contextlib.contextmanager
def cluster_dns(network: Network) -> Iterator[None]:
    """In this process, resolve the names in `network` (advertised listeners) to their pod addresses."""
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        return real(network.names.get(host, host), *args, **kwargs)

    socket.getaddrinfo = getaddrinfo
    try:
        yield
    finally:
        socket.getaddrinfo = real
