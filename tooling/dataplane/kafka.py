"""Kafka and ZooKeeper pods (cp-kafka / cp-zookeeper start scripts, run through tooling/dataplane/confluent.py),
a Python client that resolves the in-cluster names brokers advertise the way the pods' DNS would, and the
certificate Secrets (`<component>-tls`) their TLS listeners read, shaped as components/certificates.py asks
cert-manager for them."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator

from tooling.dataplane.certificates import CertificateAuthority
from tooling.dataplane.pods import Cluster, Container, Network
from tooling.dataplane.processes import Server, port_open, wait_for

ZOOKEEPER_PORT = 2181
ZOOKEEPER_TLS_PORT = 2182
KAFKA_PORT = 9092
# tls.mode enabled: the TLS listener beside the plaintext one (required: KAFKA_PORT itself is TLS).
KAFKA_TLS_PORT = 9093


def service_names(cluster: Cluster, component: str) -> list[str]:
    """The DNS names of a component's certificate: every Service selecting its pods in each of its forms, each
    pod's own name under the headless Service, and loopback (the certificate components/certificates.py asks for)."""
    namespace, domain = cluster.namespace, cluster.cluster_domain
    labels = cluster.find("StatefulSet", component)["spec"]["template"]["metadata"]["labels"]
    names = []
    for service in (o for o in cluster.objects if o.get("kind") == "Service"):
        selector = service["spec"].get("selector") or {}
        if selector and all(labels.get(k) == v for k, v in selector.items()):
            svc = service["metadata"]["name"]
            names += [svc, f"{svc}.{namespace}", f"{svc}.{namespace}.svc", f"{svc}.{namespace}.svc.{domain}"]
    return [*names, f"*.{component}-headless.{namespace}.svc.{domain}", "localhost"]


def issue_certificate(cluster: Cluster, ca: CertificateAuthority, component: str) -> None:
    """Put a certificate for the component's names into its Secret `<component>-tls`, as cert-manager would."""
    for key, value in ca.issue(service_names(cluster, component), ["127.0.0.1"]).items():
        cluster.secrets.set(f"{component}-tls", key, value.decode())


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
