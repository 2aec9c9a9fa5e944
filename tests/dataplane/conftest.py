"""The data-plane tier: our pods' programs, run on real servers on loopback.

What runs comes from the committed stacks only: the program runs under mocks (tooling/stacks.py), and each
chart it registered is rendered by the real helm with the very values it passed (tests/policy/stack_objects.py),
so the scripts are the scripts ConfigMap's and the command, args and env are the containers'. Objects the
components create directly (core-pipeline's bootstrap Job and its SQL ConfigMap) are their mocked inputs.

Servers live in one temporary directory per session (removed at the end), each pod on its own loopback
address, every process in its own process group, all stopped at teardown even after failures
(tooling/dataplane/processes.py). Install the servers with `bash scripts/dataplane-servers.sh install`.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from backups.store import Bucket
from tests.policy.stack_objects import CHART, _chart_objects
from tooling.dataplane import paths as dataplane_paths
from tooling.dataplane import s3
from tooling.dataplane.pods import Cluster, Network, Secrets
from tooling.dataplane.processes import RunAs, Supervisor
from tooling.stackfiles import deep_merge
from tooling.stacks import StackRun, run_stack

HERE = Path(__file__).resolve().parent
# The unprivileged account pods run as here (the images' own users are uid 999 / 1000 / 1001).
POD_USER = "postgres"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.dataplane)


# Prod's shape without its TLS: the files that test backups, monitoring and rotation mechanics start servers
# without certificates (TLS itself, those programs included: test_tls_postgres_redis.py, test_tls_kafka.py).
# Point-in-time recovery is off in both, and in every file that starts prod's PostgreSQL for something else: its
# archive_command would try prod's bucket, which is not reachable from here, and an archiver waiting on it can outlive
# the image's initdb-time server (test_point_in_time.py runs it against a store of its own).
NO_POINT_IN_TIME = {"backup": {"pointInTime": {"enabled": False}}}
PLAINTEXT_VALUES = {"tls": {"mode": "disabled"}, **NO_POINT_IN_TIME}
PLAINTEXT_CONFIG = {"security": {"tls": {"mode": "disabled"}}, "dataTier": NO_POINT_IN_TIME}


@functools.cache
def committed_stack(stack: str) -> StackRun:
    return run_stack(stack)


@functools.cache
def _rendered(stack: str, chart: str, overrides: str) -> tuple[dict[str, Any], ...]:
    run = committed_stack(stack)
    charts = [r for r in run.of_type(CHART) if Path(str(r.inputs["chart"])).name == chart]
    assert len(charts) == 1, f"stack {stack} registers {len(charts)} {chart} charts"
    resource = charts[0]
    inputs = {**resource.inputs, "values": deep_merge(resource.inputs.get("values") or {}, json.loads(overrides))}
    return tuple(_chart_objects(resource.name, inputs).values())


def rendered(stack: str, chart: str, overrides: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """The chart's objects as the stack deploys it (values it registered, optionally overridden)."""
    return list(_rendered(stack, chart, json.dumps(overrides or {}, sort_keys=True)))


def chart_namespace(stack: str, chart: str) -> str:
    run = committed_stack(stack)
    return next(r.inputs["namespace"] for r in run.of_type(CHART) if Path(str(r.inputs["chart"])).name == chart)


@pytest.fixture(scope="session", autouse=True)
def _servers_installed() -> None:
    missing = dataplane_paths.missing()
    if missing:
        pytest.fail(f"data-plane servers missing ({', '.join(missing)}): run `{dataplane_paths.INSTALL_COMMAND}`")


@pytest.fixture(scope="session")
def supervisor() -> Iterator[Supervisor]:
    sup = Supervisor(RunAs.named(POD_USER))
    yield sup
    sup.stop_all()


@pytest.fixture(scope="session")
def session_root(supervisor: Supervisor) -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="nexus-dataplane-"))
    root.chmod(0o755)
    if supervisor.run_as:
        supervisor.run_as.own(root)
    yield root
    supervisor.stop_all()
    if os.environ.get("DATAPLANE_KEEP") != "1":
        shutil.rmtree(root, ignore_errors=True)


_subnets = itertools.count(1)


def new_cluster(
    session_root: Path, supervisor: Supervisor, objects: list[dict[str, Any]], namespace: str, label: str
) -> Cluster:
    """A fresh cluster: its own pod addresses (a /24 of 127.77/16) and directories under the session's."""
    subnet = next(_subnets)
    # Short: PostgreSQL's socket path must stay under 107 bytes.
    root = session_root / f"c{subnet}"
    root.mkdir()
    (root / "test.txt").write_text(label + "\n")
    if supervisor.run_as:
        supervisor.run_as.own(root)
    return Cluster(root, objects, namespace, supervisor, Secrets(), Network(root, subnet))


@contextlib.contextmanager
def servers_stopped_after(supervisor: Supervisor) -> Iterator[None]:
    """Stops every server started inside the block when it ends, however it ends."""
    started_before = set(map(id, supervisor.servers))
    try:
        yield
    finally:
        # Last started first: replicas and clients before what they depend on.
        for server in reversed([s for s in supervisor.servers if id(s) not in started_before]):
            supervisor.stop(server)


@pytest.fixture
def make_cluster(session_root: Path, supervisor: Supervisor, request: pytest.FixtureRequest) -> Iterator[Callable]:
    """`make_cluster(objects, namespace)`: a fresh cluster for this test; every server it started is stopped
    when the test ends."""

    def make(objects: list[dict[str, Any]], namespace: str) -> Cluster:
        return new_cluster(session_root, supervisor, objects, namespace, request.node.nodeid)

    with servers_stopped_after(supervisor):
        yield make


# --- The S3-compatible store the backup tests ship to ------------------------------------------------------------

ACCESS_KEY, SECRET_KEY = "backup-writer", "s3proxy-secret-key"
BUCKETS = {"bucket": "nexus-backups", "offsite": "nexus-offsite"}
PREFIX = "nexus/prod"


@pytest.fixture(scope="session")
def store(session_root, supervisor):
    """One S3Proxy for every test that ships backups to a bucket (test_backups_bucket.py, test_tenant_backups.py)."""
    root = session_root / "s3-backups"
    root.mkdir()
    supervisor.run_as and supervisor.run_as.own(root)
    address = Network(root, 249).allocate()

    def mkdir(path):
        path.mkdir(parents=True, exist_ok=True)
        supervisor.run_as and supervisor.run_as.own(path)
        return path

    server = s3.start_s3proxy(supervisor, root, address, access_key=ACCESS_KEY, secret_key=SECRET_KEY, mkdir=mkdir)
    yield server
    supervisor.stop(server.server)


@pytest.fixture
def buckets(store, request):
    """Fresh, empty buckets for each test (named after it, so no test sees another's objects)."""
    suffix = f"{abs(hash(request.node.nodeid)) % 10**8:08d}"
    names = {key: f"{name}-{suffix}" for key, name in BUCKETS.items()}
    for name in names.values():
        status, body = store.request("PUT", f"/{name}")
        assert status == 200, body
    return names


def bucket(store, name: str) -> Bucket:
    return Bucket(store.endpoint, name, PREFIX, s3.REGION, ACCESS_KEY, SECRET_KEY)
