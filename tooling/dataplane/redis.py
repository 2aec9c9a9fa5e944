"""Redis pods: start a container from its rendered command (charts/nexus-database `redis-start.sh`), wait for
its own readiness probe, talk to it with redis-cli the way the probes do (password from REDISCLI_AUTH)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tooling.dataplane.paths import REDIS_CLI
from tooling.dataplane.pods import Container
from tooling.dataplane.processes import Server, wait_for

PORT = 6379


def start(container: Container, timeout: float = 30) -> Server:
    server = container.start()
    wait_for(
        lambda: container.probe().returncode == 0, what=f"{server.name} readiness probe", timeout=timeout, server=server
    )
    return server


def cli(
    container: Container,
    *args: str,
    host: str | None = None,
    password: str | None = None,
    ca_file: Path | str | None = None,
) -> subprocess.CompletedProcess[str]:
    """redis-cli in `container` against `host` (default: the pod itself); REDISCLI_AUTH from its env unless given;
    over TLS, the server's certificate checked against `ca_file`, when given."""
    env = {} if password is None else {"REDISCLI_AUTH": password}
    tls = ["--tls", "--cacert", str(ca_file)] if ca_file else []
    argv = [str(REDIS_CLI), *tls, "-h", host or container.pod.address, "-p", str(PORT), *args]
    return container.run(argv, env=env, timeout=30)
