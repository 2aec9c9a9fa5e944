"""The S3-compatible object store of the data-plane tier, for the backup issue: S3Proxy 2.6 (Maven Central)
over jclouds' `filesystem` store, with AWS signature v4 authentication, and a minimal SigV4 client (standard
library only) to talk to it as any S3 client would.

Why S3Proxy: it is a real S3 API server that installs here from a package registry as jars (the same Maven
step as Kafka, ~43 MB, no build); MinIO and SeaweedFS are Go servers to build from source on 2 cores
(SeaweedFS is served only at a pseudo-version, and is huge), and moto's server is a mock of AWS rather than
a storage server.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import socket
import subprocess
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tooling.dataplane.paths import S3PROXY_LIB, java
from tooling.dataplane.processes import Server, Supervisor, port_open, wait_for

REGION = "us-east-1"
# The TLS listener's name: pgBackRest's S3 client speaks HTTPS only and checks the certificate's DNS name, so the
# store needs a name that resolves to loopback through /etc/hosts (a C program's resolver, no hosts file of ours)
# and that the harness never rewrites (it maps `localhost` and cluster names to pod addresses): the machine's own.
TLS_HOST = socket.gethostname()


@dataclass(frozen=True)
class ObjectStore:
    server: Server
    endpoint: str
    access_key: str
    secret_key: str
    # With `tls=True`: the HTTPS endpoint (https://<TLS_HOST>:<port>) and the certificate clients verify it with.
    tls_endpoint: str = ""
    ca_file: Path | None = None

    def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        """A SigV4-signed request; returns (status, body) without raising on HTTP errors."""
        url = self.endpoint + urllib.parse.quote(path)
        parts = urllib.parse.urlsplit(url)
        now = datetime.datetime.now(datetime.UTC)
        amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
        payload = hashlib.sha256(body).hexdigest()
        headers = {"host": parts.netloc, "x-amz-content-sha256": payload, "x-amz-date": amz_date}
        signed = ";".join(sorted(headers))
        canonical = "\n".join(
            [method, parts.path or "/", "", *(f"{k}:{headers[k]}" for k in sorted(headers)), "", signed, payload]
        )
        scope = f"{day}/{REGION}/s3/aws4_request"
        to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
        key = ("AWS4" + self.secret_key).encode()
        for part in (day, REGION, "s3", "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={self.access_key}/{scope}, SignedHeaders={signed}, Signature={signature}"
        )
        req = urllib.request.Request(
            url,
            data=body if method in ("PUT", "POST") else None,
            method=method,
            headers={k: v for k, v in headers.items() if k != "host"},
        )
        try:
            with urllib.request.urlopen(req, timeout=15) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()


def _free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def tls_keystore(root: Path, host: str) -> tuple[str, Path]:
    """A self-signed certificate for `host` in a PKCS12 keystore (what S3Proxy's Jetty reads, made with Java's
    keytool), and its PEM export for the clients; returns the keystore's properties lines and the PEM."""
    keystore, pem, password = root / "s3proxy.p12", root / "s3proxy-ca.pem", "s3proxy-keystore"
    common = ["-keystore", str(keystore), "-storetype", "PKCS12", "-storepass", password]
    subprocess.run(
        ["keytool", "-genkeypair", "-alias", "s3proxy", "-keyalg", "RSA", "-keysize", "2048", "-validity", "30",
         "-dname", f"CN={host}", "-ext", f"SAN=dns:{host},dns:localhost", "-keypass", password, *common],
        check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run(
        ["keytool", "-exportcert", "-rfc", "-alias", "s3proxy", "-file", str(pem), *common],
        check=True,
        capture_output=True,
    )
    pem.chmod(0o644)
    return f"s3proxy.keystore-path={keystore}\ns3proxy.keystore-password={password}\n", pem


def start_s3proxy(
    supervisor: Supervisor,
    root: Path,
    address: str,
    *,
    access_key: str,
    secret_key: str,
    mkdir,
    port: int = 9000,
    tls: bool = False,
) -> ObjectStore:
    """S3Proxy on http://<address>:<port>; with `tls`, also on https://TLS_HOST:<a free loopback port>."""
    data = mkdir(root / "objects")
    properties = root / "s3proxy.properties"
    secure, ca_file, tls_endpoint = "", None, ""
    if tls:
        resolved = socket.gethostbyname(TLS_HOST)
        if resolved != "127.0.0.1":
            raise RuntimeError(f"{TLS_HOST} resolves to {resolved}, not 127.0.0.1: the TLS store needs a loopback name")
        tls_port = _free_loopback_port()
        keystore, ca_file = tls_keystore(root, TLS_HOST)
        if supervisor.run_as:
            supervisor.run_as.own(root / "s3proxy.p12")
        secure = f"s3proxy.secure-endpoint=https://127.0.0.1:{tls_port}\n{keystore}"
        tls_endpoint = f"https://{TLS_HOST}:{tls_port}"
    properties.write_text(
        secure + f"s3proxy.endpoint=http://{address}:{port}\n"
        "s3proxy.authorization=aws-v2-or-v4\n"
        f"s3proxy.identity={access_key}\ns3proxy.credential={secret_key}\n"
        "jclouds.provider=filesystem\n"
        f"jclouds.filesystem.basedir={data}\n"
        "jclouds.identity=unused\njclouds.credential=unused\n"
    )
    server = supervisor.start(
        "s3proxy",
        [
            java(),
            "-Xmx256m",
            "-XX:TieredStopAtLevel=1",
            "-cp",
            f"{S3PROXY_LIB}/*",
            "org.gaul.s3proxy.Main",
            "--properties",
            str(properties),
        ],
        env={"PATH": "/usr/bin:/bin", "HOME": str(root)},
        cwd=root,
        log=root / "s3proxy.log",
    )
    wait_for(lambda: port_open(address, port), what="s3proxy", timeout=60, server=server)
    if tls:
        tls_port = int(tls_endpoint.rsplit(":", 1)[1])
        wait_for(lambda: port_open("127.0.0.1", tls_port), what="s3proxy's TLS listener", timeout=60, server=server)
    return ObjectStore(server, f"http://{address}:{port}", access_key, secret_key, tls_endpoint, ca_file)
