"""Certificates of the shape cert-manager issues, for the data-plane tier's TLS servers.

components/certificates.py asks cert-manager (a CA issuer) for one Certificate per server: RSA 2048 keys in
PKCS#8 (Java's PEM key stores read nothing else), the server's Service and pod names as DNS SANs, usages server
and client auth. cert-manager writes a Secret with `tls.crt` (the leaf, then the CA), `tls.key` and `ca.crt`;
`CertificateAuthority.issue` returns exactly those three keys, so a test puts them into the harness's Secret
`<component>-tls` and the pod's volume holds what a cluster's would.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

TLS_CRT = "tls.crt"
TLS_KEY = "tls.key"
CA_CRT = "ca.crt"


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


@dataclass
class CertificateAuthority:
    """A private CA like the program's `nexus-ca` ClusterIssuer: a self-signed root that signs server certificates."""

    name: str = "nexus-ca"
    _key: rsa.RSAPrivateKey = field(default_factory=_key, repr=False)
    _certificate: x509.Certificate | None = field(default=None, repr=False)

    @property
    def certificate(self) -> x509.Certificate:
        if self._certificate is None:
            subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.name)])
            now = datetime.datetime.now(datetime.UTC)
            self._certificate = (
                x509.CertificateBuilder()
                .subject_name(subject)
                .issuer_name(subject)
                .public_key(self._key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=90))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(
                    x509.KeyUsage(
                        digital_signature=True,
                        key_cert_sign=True,
                        crl_sign=True,
                        content_commitment=False,
                        key_encipherment=False,
                        data_encipherment=False,
                        key_agreement=False,
                        encipher_only=False,
                        decipher_only=False,
                    ),
                    critical=True,
                )
                .sign(self._key, hashes.SHA256())
            )
        return self._certificate

    @property
    def pem(self) -> bytes:
        return _pem(self.certificate)

    def issue(self, dns_names: Iterable[str], ip_addresses: Iterable[str] = ()) -> dict[str, bytes]:
        """A server certificate's Secret data as cert-manager writes it: tls.crt (leaf + CA), tls.key, ca.crt."""
        names = list(dns_names)
        key = _key()
        now = datetime.datetime.now(datetime.UTC)
        sans: list[x509.GeneralName] = [x509.DNSName(name) for name in names]
        sans += [x509.IPAddress(ipaddress.ip_address(address)) for address in ip_addresses]
        leaf = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=90))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
            .sign(self._key, hashes.SHA256())
        )
        pkcs8 = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return {TLS_CRT: _pem(leaf) + self.pem, TLS_KEY: pkcs8, CA_CRT: self.pem}


__all__ = ["CA_CRT", "TLS_CRT", "TLS_KEY", "CertificateAuthority"]
