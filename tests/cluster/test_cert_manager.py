"""cert-manager on the local cluster issues real certificates into Secrets, as the data tier's TLS relies on: a
SelfSigned ClusterIssuer signs a CA Certificate, a CA Issuer built from that CA's Secret signs a server
Certificate for a data-tier Service name, and the server's Secret holds a key, a certificate for that name and
the CA that verifies it (docs/certificates.md). The program's own shape works too: a CA ClusterIssuer whose key
pair is in cert-manager's cluster resource namespace, signing a PKCS#8 RSA server key (components/certificates.py).

The controller is the host process tooling.local_cluster starts beside the tier's own cluster; the tests run in
file order on one namespace, the chain created once.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from tests.cluster.conftest import Kubectl, eventually
from tooling.local_cluster import instance
from tooling.local_cluster.api import Client
from tooling.local_cluster.objects import CERT_MANAGER_NAMESPACE

pytestmark = pytest.mark.cluster

NS = "tls-proof"
ROOT_ISSUER = "tls-proof-selfsigned"  # ClusterIssuer
CA = "tls-proof-ca"  # the CA Certificate, its Secret and the Issuer built from it
SERVER = "product-postgres-tls"  # the server Certificate and its Secret
DNS_NAMES = ["product-postgres.data.svc.cluster.local", "product-postgres-service.data.svc.cluster.local"]
CLUSTER_CA = "tls-proof-cluster-ca"  # a CA Certificate in cert-manager's namespace and the ClusterIssuer from it
PKCS8_SERVER = "tls-proof-pkcs8"  # a server Certificate from that ClusterIssuer, with the program's key settings
CM = "cert-manager.io/v1"


def issuer_ref(kind: str, name: str) -> dict[str, str]:
    return {"group": "cert-manager.io", "kind": kind, "name": name}


def chain() -> list[dict[str, Any]]:
    ecdsa = {"algorithm": "ECDSA", "size": 256}
    return [
        {"apiVersion": CM, "kind": "ClusterIssuer", "metadata": {"name": ROOT_ISSUER}, "spec": {"selfSigned": {}}},
        {
            "apiVersion": CM,
            "kind": "Certificate",
            "metadata": {"name": CA},
            "spec": {
                "isCA": True,
                "commonName": "nexus tls-proof CA",
                "secretName": CA,
                "duration": "87600h",
                "privateKey": ecdsa,
                "issuerRef": issuer_ref("ClusterIssuer", ROOT_ISSUER),
            },
        },
        {"apiVersion": CM, "kind": "Issuer", "metadata": {"name": CA}, "spec": {"ca": {"secretName": CA}}},
        {
            "apiVersion": CM,
            "kind": "Certificate",
            "metadata": {"name": SERVER},
            "spec": {
                "secretName": SERVER,
                "dnsNames": DNS_NAMES,
                "duration": "2160h",
                "renewBefore": "360h",
                "usages": ["server auth", "digital signature", "key encipherment"],
                "privateKey": ecdsa,
                "issuerRef": issuer_ref("Issuer", CA),
            },
        },
    ]


def cluster_ca_chain() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The CA Certificate (in cert-manager's cluster resource namespace), and the ClusterIssuer backed by its Secret
    with a server Certificate from it (in NS)."""
    ca = {
        "apiVersion": CM,
        "kind": "Certificate",
        "metadata": {"name": CLUSTER_CA, "namespace": CERT_MANAGER_NAMESPACE},
        "spec": {
            "isCA": True,
            "commonName": "nexus tls-proof cluster CA",
            "secretName": CLUSTER_CA,
            "privateKey": {"algorithm": "ECDSA", "size": 256},
            "issuerRef": issuer_ref("ClusterIssuer", ROOT_ISSUER),
        },
    }
    issuer = {
        "apiVersion": CM,
        "kind": "ClusterIssuer",
        "metadata": {"name": CLUSTER_CA},
        "spec": {"ca": {"secretName": CLUSTER_CA}},
    }
    server = {
        "apiVersion": CM,
        "kind": "Certificate",
        "metadata": {"name": PKCS8_SERVER},
        "spec": {
            "secretName": PKCS8_SERVER,
            "dnsNames": ["redis-service.data.svc.cluster.local"],
            "privateKey": {"algorithm": "RSA", "size": 2048, "encoding": "PKCS8", "rotationPolicy": "Always"},
            "issuerRef": issuer_ref("ClusterIssuer", CLUSTER_CA),
        },
    }
    return ca, [issuer, server]


def ready(kubectl: Kubectl, kind: str, name: str, namespace: str | None = NS) -> bool:
    where = ["-n", namespace] if namespace else []
    proc = kubectl.run("get", kind, name, *where, "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}")
    return proc.stdout.strip() == "True"


def secret_data(kubectl: Kubectl, name: str, namespace: str = NS) -> dict[str, bytes]:
    if not kubectl.exists("secret", namespace, name):
        return {}
    data = kubectl.get("secret", namespace, name).get("data") or {}
    return {key: base64.b64decode(value) for key, value in data.items()}


@pytest.fixture(scope="module")
def issued(kubectl: Kubectl) -> Iterator[Kubectl]:
    """The chain applied once (Secrets are awaited by the tests, each for what it checks)."""
    kubectl.run("create", "namespace", NS)
    try:
        kubectl.apply(NS, *chain())
        cluster_ca, in_namespace = cluster_ca_chain()
        kubectl.apply(CERT_MANAGER_NAMESPACE, cluster_ca)
        kubectl.apply(NS, *in_namespace)
        yield kubectl
    finally:
        kubectl.run(
            "delete", "clusterissuer", ROOT_ISSUER, CLUSTER_CA, "--ignore-not-found", "--wait=false", check=False
        )
        for kind in ("certificate", "secret"):
            kubectl.run("delete", kind, CLUSTER_CA, "-n", CERT_MANAGER_NAMESPACE, "--ignore-not-found", check=False)
        kubectl.run("delete", "namespace", NS, "--wait=false", check=False)


@pytest.fixture(scope="module")
def server_secret(issued: Kubectl) -> dict[str, bytes]:
    data = eventually(lambda: secret_data(issued, SERVER).get("tls.crt") and secret_data(issued, SERVER), 90)
    assert data, f"Secret {NS}/{SERVER} was not issued (logs: .local-cluster-test/logs/cert-manager-controller.log)"
    return data


def test_a_self_signed_cluster_issuer_becomes_ready(issued: Kubectl) -> None:
    assert eventually(lambda: ready(issued, "clusterissuer", ROOT_ISSUER, None), 60)


def test_the_ca_certificate_is_issued_into_a_secret_as_a_ca(issued: Kubectl) -> None:
    assert eventually(lambda: ready(issued, "certificate", CA), 90)
    ca = x509.load_pem_x509_certificate(secret_data(issued, CA)["tls.crt"])
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ca.subject == ca.issuer  # signed by the SelfSigned issuer: its own root


def test_a_ca_issuer_built_from_that_secret_becomes_ready(issued: Kubectl) -> None:
    assert eventually(lambda: ready(issued, "issuer", CA), 90)


def test_the_server_certificate_becomes_ready(issued: Kubectl, server_secret: dict[str, bytes]) -> None:
    assert eventually(lambda: ready(issued, "certificate", SERVER), 30)


def test_the_server_secret_holds_a_key_a_certificate_and_the_ca(server_secret: dict[str, bytes]) -> None:
    assert {"tls.crt", "tls.key", "ca.crt"} <= set(server_secret)
    assert b"PRIVATE KEY" in server_secret["tls.key"]


def test_the_server_certificate_names_the_data_tier_services(server_secret: dict[str, bytes]) -> None:
    cert = x509.load_pem_x509_certificate(server_secret["tls.crt"])
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(names.get_values_for_type(x509.DNSName)) == set(DNS_NAMES)


def test_the_server_certificate_verifies_against_the_ca_in_its_secret(server_secret: dict[str, bytes]) -> None:
    cert = x509.load_pem_x509_certificate(server_secret["tls.crt"])
    ca = x509.load_pem_x509_certificate(server_secret["ca.crt"])
    cert.verify_directly_issued_by(ca)  # raises unless ca.crt's key signed it
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert x509.oid.ExtendedKeyUsageOID.SERVER_AUTH in usages


def test_the_server_key_is_the_one_its_certificate_certifies(server_secret: dict[str, bytes]) -> None:
    key = load_pem_private_key(server_secret["tls.key"], password=None)
    cert = x509.load_pem_x509_certificate(server_secret["tls.crt"])
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.public_key() == cert.public_key()


def test_the_controllers_metrics_on_loopback_report_the_server_certificate_ready(
    server_secret: dict[str, bytes],
) -> None:
    metrics = Client(instance("test").ports.cert_manager_metrics, tls=False)

    def reported() -> bool:
        status, text = metrics.request("GET", "/metrics")
        labels = ('condition="True"', f'name="{SERVER}"', f'namespace="{NS}"')
        rows = [row for row in text.splitlines() if row.startswith("certmanager_certificate_ready_status{")]
        return status == 200 and any(all(label in row for label in labels) and row.endswith(" 1") for row in rows)

    assert eventually(reported, 30)


def test_a_ca_cluster_issuer_signs_with_the_key_pair_in_cert_managers_namespace(issued: Kubectl) -> None:
    assert eventually(lambda: ready(issued, "clusterissuer", CLUSTER_CA, None), 90)
    data = eventually(
        lambda: secret_data(issued, PKCS8_SERVER).get("tls.crt") and secret_data(issued, PKCS8_SERVER), 90
    )
    assert data, f"Secret {NS}/{PKCS8_SERVER} was not issued"
    ca = x509.load_pem_x509_certificate(secret_data(issued, CLUSTER_CA, CERT_MANAGER_NAMESPACE)["tls.crt"])
    x509.load_pem_x509_certificate(data["tls.crt"]).verify_directly_issued_by(ca)
    assert data["ca.crt"] == ca.public_bytes(serialization.Encoding.PEM)


def test_a_pkcs8_key_is_written_as_pkcs8_for_the_java_servers(issued: Kubectl) -> None:
    data = eventually(
        lambda: secret_data(issued, PKCS8_SERVER).get("tls.key") and secret_data(issued, PKCS8_SERVER), 90
    )
    assert data["tls.key"].startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8, not "BEGIN RSA PRIVATE KEY"
    assert isinstance(load_pem_private_key(data["tls.key"], password=None), rsa.RSAPrivateKey)
