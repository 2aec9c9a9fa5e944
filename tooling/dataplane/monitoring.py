"""Prometheus and the exporter sidecars (charts/nexus-database `metrics` containers) for the data-plane tier.

The exporters are Debian's (prometheus-postgres-exporter 0.11, prometheus-redis-exporter 1.45; the chart's
images are postgres-exporter v0.17.1 and redis_exporter v1.67.0), run with the sidecar's env as rendered.
A sidecar listens on every interface of its pod; here the harness adds `--web.listen-address=<pod
address>:<port>` (the pod's interface), the one argument that is not the container's.
Prometheus is Debian's 2.42, scraping them every second from a config the harness writes.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path

from tooling.dataplane.paths import POSTGRES_EXPORTER, PROMETHEUS, REDIS_EXPORTER
from tooling.dataplane.pods import Container
from tooling.dataplane.processes import Server, Supervisor, port_open, wait_for

EXPORTERS = {"postgres-exporter": POSTGRES_EXPORTER, "redis_exporter": REDIS_EXPORTER}


def start_exporter(container: Container) -> tuple[Server, str]:
    """The `metrics` sidecar of a pod; returns the server and its scrape address."""
    image = container.spec["image"]
    binary = next(path for name, path in EXPORTERS.items() if name in image)
    port = container.spec["ports"][0]["containerPort"]
    listen = f"{container.pod.address}:{port}"
    flag = "--web.listen-address" if binary == POSTGRES_EXPORTER else "-web.listen-address"
    server = container.start([str(binary), *container.spec.get("args", []), f"{flag}={listen}"])
    wait_for(
        lambda: port_open(container.pod.address, port), what=f"{server.name} on {listen}", timeout=30, server=server
    )
    return server, listen


def metrics(address: str) -> str:
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as response:
        return response.read().decode()


def start_prometheus(
    supervisor: Supervisor,
    root: Path,
    address: str,
    targets: Iterable[str],
    mkdir,
    labels: Mapping[str, Mapping[str, str]] | None = None,
) -> Server:
    """Prometheus scraping `targets` every second; `labels` (target -> labels) adds the target labels the
    Prometheus Operator would give a ServiceMonitor's target (`namespace`, `pod`), so our rules' selectors match."""
    config = root / "prometheus.yml"
    jobs = [
        {
            "job_name": t.replace(":", "-"),
            "static_configs": [{"targets": [t], "labels": dict((labels or {}).get(t, {}))}],
        }
        for t in targets
    ]
    config.write_text(
        json.dumps({"global": {"scrape_interval": "1s", "evaluation_interval": "1s"}, "scrape_configs": jobs})
    )
    data = mkdir(root / "tsdb")
    server = supervisor.start(
        "prometheus",
        [
            str(PROMETHEUS),
            f"--config.file={config}",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address={address}:9090",
        ],
        env={"PATH": "/usr/bin:/bin", "HOME": str(root)},
        cwd=root,
        log=root / "prometheus.log",
    )
    wait_for(lambda: port_open(address, 9090), what="prometheus", timeout=60, server=server)
    return server


def query(address: str, promql: str) -> list[dict]:
    url = f"http://{address}:9090/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())["data"]["result"]


class QueryError(Exception):
    """Prometheus refused an expression (parse or evaluation error), with its message."""


def evaluate(address: str, promql: str) -> list[dict]:
    """The result of an instant query, or QueryError with Prometheus' own error message."""
    url = f"http://{address}:9090/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as error:
        body = json.loads(error.read() or b"{}")
    if body.get("status") != "success":
        raise QueryError(f"{promql}: {body.get('errorType')}: {body.get('error')}")
    return body["data"]["result"]


def metric_names(address: str) -> set[str]:
    """Every metric name Prometheus holds."""
    with urllib.request.urlopen(f"http://{address}:9090/api/v1/label/__name__/values", timeout=10) as response:
        return set(json.loads(response.read())["data"])
