"""The cluster's certificates and kubeconfigs (the `cryptography` package; no openssl).

One EC P-256 CA signs a serving certificate for the API server and one for etcd, and a client certificate
for each client (the admin, kwok and cert-manager's controller in `system:masters`, the controller manager,
the scheduler, the API server's etcd client). The service-account token key pair is RSA 2048, which every
consumer accepts. Everything is made once per state folder (`pki/.complete` marks a finished set); a client
added to CERTS later gets its certificate from the same CA the next time the cluster starts.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

SERVICE_IP = "10.96.0.1"
VALID_DAYS = 3650


@dataclass(frozen=True)
class Cert:
    name: str  # files pki/NAME.crt and pki/NAME.key
    common_name: str
    organization: str | None = None
    server: bool = False
    dns: tuple[str, ...] = ()
    ips: tuple[str, ...] = ()


CERTS = (
    Cert(
        "apiserver",
        "kube-apiserver",
        server=True,
        dns=(
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        ),
        ips=("127.0.0.1", SERVICE_IP),
    ),
    Cert("etcd", "etcd", server=True, dns=("localhost",), ips=("127.0.0.1",)),
    Cert("apiserver-etcd-client", "kube-apiserver-etcd-client"),
    Cert("admin", "nexus-local-admin", organization="system:masters"),
    Cert("kube-controller-manager", "system:kube-controller-manager"),
    Cert("kube-scheduler", "system:kube-scheduler"),
    Cert("kwok", "kwok-controller", organization="system:masters"),
    # cert-manager's controller reads and writes Secrets, its own kinds, Events and Leases in every namespace
    # (upstream's chart grants it that through ClusterRoles; here, as kwok, it is a cluster admin on loopback).
    Cert("cert-manager", "cert-manager-controller", organization="system:masters"),
)
# kubeconfig file (in the state folder) -> (certificate, user name)
KUBECONFIGS = {
    "kubeconfig": ("admin", "nexus-local-admin"),
    "kube-controller-manager.kubeconfig": ("kube-controller-manager", "system:kube-controller-manager"),
    "kube-scheduler.kubeconfig": ("kube-scheduler", "system:kube-scheduler"),
    "kwok.kubeconfig": ("kwok", "kwok-controller"),
    "cert-manager.kubeconfig": ("cert-manager", "cert-manager-controller"),
}


def _write(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    path.chmod(mode)


def ensure_pki(pki: Path) -> bool:
    """Make the certificates and keys unless a finished set exists (then only the certificates it lacks, from
    its CA); True when it made any."""
    complete = (pki / ".complete").is_file()
    if complete and all((pki / f"{cert.name}.crt").is_file() for cert in CERTS):
        return False
    # cryptography is imported here only: `build`, `stop` and `status` work without it.
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
    until = now + datetime.timedelta(days=VALID_DAYS)

    def key_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
        return key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )

    def key_usage(*allowed: str) -> x509.KeyUsage:
        flags = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment")
        flags += ("key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")
        return x509.KeyUsage(**{flag: flag in allowed for flag in flags})

    def name(common_name: str, organization: str | None = None) -> x509.Name:
        parts = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization)] if organization else []
        return x509.Name([*parts, x509.NameAttribute(NameOID.COMMON_NAME, common_name)])

    def certificate(
        subject: x509.Name, key: ec.EllipticCurvePrivateKey, usage: x509.KeyUsage
    ) -> x509.CertificateBuilder:
        """What every certificate here has: the CA as issuer, ten years, a critical key usage."""
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(until)
            .add_extension(usage, critical=True)
        )

    def save(file: str, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> None:
        _write(pki / f"{file}.key", key_pem(key), 0o600)
        _write(pki / f"{file}.crt", cert.public_bytes(serialization.Encoding.PEM), 0o644)

    ca_name = name("nexus-local-ca")
    if complete:
        ca_key = serialization.load_pem_private_key((pki / "ca.key").read_bytes(), password=None)
        if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{pki / 'ca.key'} is not the EC key this module makes")
        ca = x509.load_pem_x509_certificate((pki / "ca.crt").read_bytes())
        ca_name = ca.subject
    else:
        shutil.rmtree(pki, ignore_errors=True)
        pki.mkdir(parents=True, mode=0o700)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = (
            certificate(ca_name, ca_key, key_usage("key_cert_sign", "crl_sign"))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        save("ca", ca_key, ca)
    ca_ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value

    for cert in CERTS:
        if complete and (pki / f"{cert.name}.crt").is_file():
            continue
        key = ec.generate_private_key(ec.SECP256R1())
        usages = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH] if cert.server else []
        builder = (
            certificate(
                name(cert.common_name, cert.organization), key, key_usage("digital_signature", "key_encipherment")
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=False)
            .add_extension(x509.ExtendedKeyUsage(usages or [ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        )
        if cert.dns or cert.ips:
            alt = [x509.IPAddress(ipaddress.ip_address(ip)) for ip in cert.ips] + [x509.DNSName(d) for d in cert.dns]
            builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
        save(cert.name, key, builder.sign(ca_key, hashes.SHA256()))

    if complete:
        return True
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _write(pki / "sa.key", key_pem(sa_key), 0o600)
    sa_pub = sa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _write(pki / "sa.pub", sa_pub, 0o644)
    (pki / ".complete").touch()
    return True


def kubeconfig(server: str, pki: Path, cert: str, user: str) -> dict:
    def b64(path: Path) -> str:
        return base64.b64encode(path.read_bytes()).decode()

    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "nexus-local", "cluster": {"server": server, "certificate-authority-data": b64(pki / "ca.crt")}}
        ],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate-data": b64(pki / f"{cert}.crt"),
                    "client-key-data": b64(pki / f"{cert}.key"),
                },
            }
        ],
        "contexts": [{"name": "nexus-local", "context": {"cluster": "nexus-local", "user": user}}],
        "current-context": "nexus-local",
    }


def write_kubeconfigs(state_dir: Path, server: str) -> None:
    """The admin kubeconfig (`kubeconfig`) and one per component, with the certificates embedded."""
    import yaml  # (here only: `build` runs without the virtualenv)

    for filename, (cert, user) in KUBECONFIGS.items():
        text = yaml.safe_dump(kubeconfig(server, state_dir / "pki", cert, user), sort_keys=False)
        _write(state_dir / filename, text.encode(), 0o600)
