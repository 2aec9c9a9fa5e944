"""Just enough HTTPS to ask the cluster's servers whether they are up and to create the bootstrap objects,
without a kubectl process per question."""

from __future__ import annotations

import http.client
import json
import ssl
from pathlib import Path
from typing import Any


class Client:
    """HTTPS to one server on 127.0.0.1, verifying it against the cluster CA and presenting a client
    certificate (or, for the components' health endpoints, neither; or plain HTTP with `tls=False`, as
    cert-manager's health endpoint serves)."""

    def __init__(
        self, port: int, pki: Path | None = None, cert: str | None = None, timeout: float = 5.0, tls: bool = True
    ) -> None:
        self.port = port
        self.timeout = timeout
        self.context: ssl.SSLContext | None = None
        if tls and pki is None:
            self.context = ssl._create_unverified_context()  # self-signed /healthz of kcm and the scheduler
        elif tls and pki is not None:
            self.context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
            if cert:
                self.context.load_cert_chain(str(pki / f"{cert}.crt"), str(pki / f"{cert}.key"))

    def request(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> tuple[int, str]:
        conn: http.client.HTTPConnection
        if self.context is None:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        else:
            conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=self.timeout, context=self.context)
        try:
            data = None if body is None else json.dumps(body).encode()
            headers = {"Content-Type": content_type, "Accept": "application/json"} if data else {}
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            return response.status, response.read().decode(errors="replace")
        finally:
            conn.close()

    def ok(self, path: str, expect: str | None = None) -> bool:
        """GET PATH answers 200 (and contains EXPECT); any connection error is a no."""
        try:
            status, text = self.request("GET", path)
        except (OSError, http.client.HTTPException, ssl.SSLError):
            return False
        return status == 200 and (expect is None or expect in text)

    def get(self, path: str) -> dict[str, Any] | None:
        try:
            status, text = self.request("GET", path)
        except (OSError, http.client.HTTPException, ssl.SSLError):
            return None
        return json.loads(text) if status == 200 else None

    def apply(self, path: str, obj: dict[str, Any], manager: str = "local-cluster") -> None:
        """Server-side apply of OBJ at PATH (its collection path + /name)."""
        status, text = self.request(
            "PATCH", f"{path}?fieldManager={manager}&force=true", obj, content_type="application/apply-patch+yaml"
        )
        if status not in (200, 201):
            raise RuntimeError(f"applying {path} failed ({status}): {text[:500]}")
