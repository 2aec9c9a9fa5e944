"""The provisioning API over HTTP (`python -m tenants serve`), the counterpart of FluxionDB's Go deployer.

    POST   /tenants                 {userId, ramSize, apiKey?}  -> 202 + operation (200 when nothing to do)
    PATCH  /tenants/{id}            {ramSize}                   -> 202 + operation
    DELETE /tenants/{id}                                        -> 202 + operation (data kept)
    DELETE /tenants/{id}/data                                   -> 202 + operation (a deprovisioned tenant's data)
    GET    /tenants, /tenants/{id}[?showApiKey=true], /operations/{id}, /operations[?status=]
    GET    /openapi.json, /healthz                              (no token needed)

The standard library's ThreadingHTTPServer, on purpose: six routes of JSON need no framework, the long
work runs on the service's worker pool rather than in request threads, and the API adds no dependency to
the virtualenv the Pulumi program runs in. Every other route needs `Authorization: Bearer <token>`, the
token read from a file or the environment (never a command-line argument, which `ps` shows). Requests are
logged by method, path and status only: bodies (which may carry an API key) never are.
"""

from __future__ import annotations

import hmac
import json
import logging
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .openapi import OPENAPI
from .service import Accepted, RequestError, TenantService

log = logging.getLogger("tenants.api")
MAX_BODY = 64 * 1024


def make_server(service: TenantService, token: str, host: str = "127.0.0.1", port: int = 8080) -> ThreadingHTTPServer:
    if not token:
        raise ValueError("the API token is empty: set NEXUS_TENANTS_API_TOKEN_FILE (or NEXUS_TENANTS_API_TOKEN)")

    class Handler(BaseHTTPRequestHandler):
        server_version = "nexus-tenants"
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            log.info("%s %s", self.address_string(), format % args)

        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body, indent=None).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _authorized(self) -> bool:
            given = self.headers.get("Authorization", "")
            scheme, _, credential = given.partition(" ")
            if scheme.lower() == "bearer" and hmac.compare_digest(credential.strip().encode(), token.encode()):
                return True
            self._send(
                401,
                RequestError(401, "missing or wrong bearer token", "Authorization").body(),
                {"WWW-Authenticate": 'Bearer realm="nexus-tenants"'},
            )
            return False

        def _body(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                raise RequestError(413, f"the request body is larger than {MAX_BODY} bytes")
            raw = self.rfile.read(length) if length else b""
            if not raw:
                return {}
            try:
                return json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                raise RequestError(400, f"the request body is not JSON: {error}") from None

        def _accepted(self, accepted: Accepted) -> None:
            if accepted.operation is None:
                self._send(200, {"tenant": accepted.tenant, "operation": None})
                return
            operation = accepted.operation.public()
            self._send(
                202,
                {"tenant": accepted.tenant, "operation": operation},
                {"Location": f"/operations/{operation['id']}"},
            )

        def _route(self, method: str) -> None:
            url = urlsplit(self.path)
            parts = [p for p in url.path.split("/") if p]
            query = parse_qs(url.query)
            if method == "GET" and parts == ["healthz"]:
                self._send(200, {"status": "ok"})
                return
            if method == "GET" and parts == ["openapi.json"]:
                self._send(200, OPENAPI)
                return
            if not self._authorized():
                return
            key = self.headers.get("Idempotency-Key")
            try:
                body = self._body() if method in ("POST", "PATCH") else None
                if parts == ["tenants"] and method == "POST":
                    self._accepted(service.provision(body, key))
                elif parts == ["tenants"] and method == "GET":
                    self._send(200, {"tenants": service.tenants()})
                elif len(parts) == 2 and parts[0] == "tenants" and method == "GET":
                    show = query.get("showApiKey", ["false"])[0] == "true"
                    self._send(200, service.tenant(parts[1], show_api_key=show))
                elif len(parts) == 2 and parts[0] == "tenants" and method == "PATCH":
                    self._accepted(service.resize(parts[1], body, key))
                elif len(parts) == 2 and parts[0] == "tenants" and method == "DELETE":
                    self._accepted(service.deprovision(parts[1], key))
                elif len(parts) == 3 and parts[0] == "tenants" and parts[2] == "data" and method == "DELETE":
                    self._accepted(service.delete_data(parts[1], key))
                elif len(parts) == 2 and parts[0] == "operations" and method == "GET":
                    self._send(200, service.operation(parts[1]))
                elif parts == ["operations"] and method == "GET":
                    status = query.get("status", [None])[0]
                    self._send(200, {"operations": [o.public() for o in service.store.operations(status)]})
                else:
                    self._send(404, RequestError(404, f"no route {method} {url.path}").body())
            except RequestError as error:
                self._send(error.status, error.body())
            except Exception:
                log.exception("%s %s failed", method, url.path)
                self._send(
                    int(HTTPStatus.INTERNAL_SERVER_ERROR), {"error": {"field": None, "message": "internal error"}}
                )

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

        def do_PATCH(self) -> None:
            self._route("PATCH")

        def do_DELETE(self) -> None:
            self._route("DELETE")

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server
