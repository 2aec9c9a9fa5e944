"""TLS certificates from cert-manager: the stack's private CA, and one server Certificate per server.

Key material never passes through this program: a `Certificate` asks cert-manager for a key pair, and
cert-manager writes the key, the certificate (leaf, then chain) and the CA (`ca.crt`) into the Secret the
Certificate names, where the server's pods mount it. So nothing secret is in the Pulumi state, the chart
values or git, and renewal (cert-manager's, `renewBefore` ahead of expiry) changes no program input.

`security.tls.issuer` names the issuer; with `createPrivateCa` (the default) the program creates it:

    ClusterIssuer nexus-selfsigned ──signs──► Certificate nexus-ca (isCA, Secret nexus-ca in
    cert-manager's cluster resource namespace) ──backs──► ClusterIssuer nexus-ca ──signs──► server certificates

Clients trust the CA through `ca.crt`, which cert-manager puts into every Secret it issues from that
issuer; a consumer in another namespace asks the issuer for a Certificate of its own (`client_certificate`)
and reads `ca.crt` from it, so no CA file is copied between namespaces by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from platform_config.security import TlsConfig

from .kubernetes import CLUSTER_DOMAIN, TLS_CA_FILE, standard_labels
from .outputs import Exported, Exporting

API_VERSION = "cert-manager.io/v1"
CA_KEY = "ca.crt"
CERTIFICATE_KEY = "tls.crt"
PRIVATE_KEY_KEY = "tls.key"
COMPONENT = "certificates"
# Java's PEM key stores (Kafka, ZooKeeper) read PKCS#8 keys only; every server here reads them.
PRIVATE_KEY = {"algorithm": "RSA", "size": 2048, "encoding": "PKCS8", "rotationPolicy": "Always"}
# `pulumi up` waits until cert-manager has issued the certificate, so the pods that mount its Secret start with it.
WAIT_FOR_ISSUED = {"pulumi.com/waitFor": "condition=Ready"}


def tls_secret_name(component: str) -> str:
    """The Secret holding one server's certificate (charts/nexus-database `nexus-database.tls.secretName`)."""
    return f"{component}-tls"


def service_dns_names(services: Iterable[str], namespace: str, *, headless: Iterable[str] = ()) -> list[str]:
    """Every name a client may use for `services` (short, namespaced, `.svc`, fully qualified), each pod's own
    name under the `headless` Services, and loopback (a pod's sidecars and probes)."""
    names: list[str] = []
    for service in services:
        names += [
            service,
            f"{service}.{namespace}",
            f"{service}.{namespace}.svc",
            f"{service}.{namespace}.svc.{CLUSTER_DOMAIN}",
        ]
    names += [f"*.{service}.{namespace}.svc.{CLUSTER_DOMAIN}" for service in headless]
    return [*dict.fromkeys(names), "localhost"]


def postgres_tls_env(enabled: bool) -> dict[str, str]:
    """libpq's environment for a client Job with TLS on: verify the server's certificate and host name against the
    CA mounted at TLS_CA_FILE (components/kubernetes.py `client_job_spec`)."""
    return {"PGSSLMODE": "verify-full", "PGSSLROOTCERT": TLS_CA_FILE} if enabled else {}


def _issuer_ref(tls: TlsConfig) -> dict[str, str]:
    return {"group": "cert-manager.io", "kind": tls.issuer.kind, "name": tls.issuer.name}


def _certificate(
    resource_name: str,
    *,
    name: str,
    namespace: pulumi.Input[str],
    spec: Mapping[str, Any],
    labels: Mapping[str, str],
    opts: pulumi.ResourceOptions,
) -> k8s.apiextensions.CustomResource:
    return k8s.apiextensions.CustomResource(
        resource_name,
        api_version=API_VERSION,
        kind="Certificate",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=name, namespace=namespace, labels=dict(labels), annotations=WAIT_FOR_ISSUED
        ),
        spec=dict(spec),
        opts=opts,
    )


def _issued(
    resource_name: str,
    *,
    name: str,
    namespace: pulumi.Input[str],
    tls: TlsConfig,
    labels: Mapping[str, str],
    opts: pulumi.ResourceOptions,
    common_name: str,
    usages: Sequence[str],
    names: Mapping[str, Any],
) -> k8s.apiextensions.CustomResource:
    """A Certificate from the stack's issuer into the Secret of the same name, with the key every server here reads."""
    return _certificate(
        resource_name,
        name=name,
        namespace=namespace,
        spec={
            "secretName": name,
            "secretTemplate": {"labels": dict(labels)},
            "commonName": common_name,
            **names,
            "duration": tls.duration,
            "renewBefore": tls.renewBefore,
            "privateKey": PRIVATE_KEY,
            "usages": list(usages),
            "issuerRef": _issuer_ref(tls),
        },
        labels=labels,
        opts=opts,
    )


def server_certificate(
    resource_name: str,
    *,
    component: str,
    namespace: pulumi.Input[str],
    dns_names: Sequence[str],
    tls: TlsConfig,
    labels: Mapping[str, str],
    opts: pulumi.ResourceOptions,
) -> k8s.apiextensions.CustomResource:
    """One server's Certificate, its Secret `<component>-tls`. Usages server and client auth: members of a
    replicated server (ZooKeeper's quorum, Kafka's brokers) present the same certificate to each other."""
    return _issued(
        resource_name,
        name=tls_secret_name(component),
        namespace=namespace,
        tls=tls,
        labels=labels,
        opts=opts,
        common_name=dns_names[0],
        usages=["server auth", "client auth", "digital signature", "key encipherment"],
        names={"dnsNames": list(dns_names), "ipAddresses": ["127.0.0.1"]},
    )


def client_certificate(
    resource_name: str,
    *,
    name: str,
    namespace: pulumi.Input[str],
    tls: TlsConfig,
    labels: Mapping[str, str],
    opts: pulumi.ResourceOptions,
) -> k8s.apiextensions.CustomResource:
    """A consumer's Certificate in its own namespace: the CA (`ca.crt`) its clients verify servers against, and
    a client certificate (`tls.crt`/`tls.key`) for servers that ask for one. Secret `<name>-tls`."""
    return _issued(
        resource_name,
        name=tls_secret_name(name),
        namespace=namespace,
        tls=tls,
        labels=labels,
        opts=opts,
        common_name=name,
        usages=["client auth", "digital signature", "key encipherment"],
        names={},
    )


@dataclass(frozen=True)
class TlsTrust(Exporting):
    """What a client needs to trust the stack's servers (stack output `tls`)."""

    # disabled | enabled (servers offer TLS) | required (servers refuse plaintext)
    mode: Exported[str]
    issuer_kind: Exported[str]
    issuer_name: Exported[str]
    # The Secret key holding the CA bundle in every Secret the issuer writes (a consumer's own Certificate).
    ca_key: Exported[str]


def tls_trust(tls: TlsConfig) -> TlsTrust:
    return TlsTrust(mode=tls.mode.value, issuer_kind=tls.issuer.kind, issuer_name=tls.issuer.name, ca_key=CA_KEY)


class PrivateCertificateAuthority(pulumi.ComponentResource):
    """The stack's private CA as cert-manager issuers (`security.tls.createPrivateCa`): a self-signed root whose
    key cert-manager generates and keeps in its cluster resource namespace, and the CA ClusterIssuer that signs
    every server certificate. The root's Secret is retained on destroy (cert-manager owns it): certificates
    issued from it stay valid while a stack is re-created."""

    issuer: k8s.apiextensions.CustomResource

    def __init__(self, name: str, tls: TlsConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("nexus:security:PrivateCertificateAuthority", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        labels = standard_labels(COMPONENT)
        root_issuer_name = f"{tls.issuer.name}-selfsigned"
        self_signed = k8s.apiextensions.CustomResource(
            f"{name}-selfsigned",
            api_version=API_VERSION,
            kind="ClusterIssuer",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=root_issuer_name, labels=labels),
            spec={"selfSigned": {}},
            opts=child,
        )
        root = _certificate(
            f"{name}-root",
            name=tls.issuer.name,
            namespace=tls.clusterResourceNamespace,
            spec={
                "isCA": True,
                "commonName": tls.issuer.name,
                "secretName": tls.issuer.name,
                "duration": "87600h",
                "renewBefore": "720h",
                "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Never"},
                "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": root_issuer_name},
            },
            labels=labels,
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[self_signed])),
        )
        self.issuer = k8s.apiextensions.CustomResource(
            f"{name}-issuer",
            api_version=API_VERSION,
            kind="ClusterIssuer",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=tls.issuer.name, labels=labels),
            spec={"ca": {"secretName": tls.issuer.name}},
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[root])),
        )
        self.register_outputs({"issuer": tls.issuer.name})


__all__ = [
    "CA_KEY",
    "PrivateCertificateAuthority",
    "TlsTrust",
    "client_certificate",
    "postgres_tls_env",
    "server_certificate",
    "service_dns_names",
    "tls_secret_name",
    "tls_trust",
]
