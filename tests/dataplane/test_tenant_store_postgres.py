"""The provisioning service's operations on a real PostgreSQL server on loopback, shared by two API replicas
(two services, each with its own connections and workers), as when one machine is not enough: every
accepted operation runs exactly once, one tenant's operations one after another even across replicas, an
Idempotency-Key is honoured whichever replica sees the retry, and a replica resumes what a dead one held.
Pulumi is the recording stand-in of the unit tier (tests/unit/test_tenant_api.py)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from tenants.service import TenantService
from tenants.store import DONE, FAILED, Store
from tests.unit.test_tenant_api import RecordingEngine
from tooling.dataplane import postgres

PASSWORD = "tenants-store-pw"


@pytest.fixture
def new_store(make_cluster) -> Iterator[Callable[[], Store]]:
    cluster = make_cluster([], "tenants")
    address = cluster.network.allocate()
    postgres.bitnami_shaped_primary(
        cluster.supervisor,
        cluster.mkdir(cluster.root / "pg"),
        address,
        admin_password="admin-pw",
        username="tenants",
        password=PASSWORD,
        database="tenants",
        mkdir=cluster.mkdir,
    )
    yield lambda: Store.postgres(
        host=address, port=postgres.PORT, user="tenants", password=PASSWORD, database="tenants"
    )


def replicas(new_store, engine: RecordingEngine, workers: int = 3, lease: float = 30.0) -> list[TenantService]:
    return [
        TenantService(new_store(), engine, workers=workers, lease_seconds=lease, poll_seconds=0.05) for _ in range(2)
    ]


def wait(store: Store, ids: list[str], timeout: float = 60) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        statuses = {i: store.operation(i).status for i in ids}
        if all(s in (DONE, FAILED) for s in statuses.values()):
            return statuses
        time.sleep(0.1)
    raise AssertionError(f"operations did not finish: {statuses}")


def test_two_replicas_run_every_operation_once_and_one_tenants_in_order(new_store):
    engine = RecordingEngine(delay=0.2)
    a, b = replicas(new_store, engine)
    ids = []
    for i in range(6):
        ids.append((a if i % 2 else b).provision({"userId": f"t{i}", "ramSize": "1Gi"}).operation.id)
    ids += [a.resize("t0", {"ramSize": "2Gi"}).operation.id, b.resize("t0", {"ramSize": "4Gi"}).operation.id]
    for service in (a, b):
        service.start()
    try:
        assert set(wait(a.store, ids).values()) == {DONE}
    finally:
        for service in (a, b):
            service.stop(timeout=5)
    assert len(engine.calls) == len(ids)
    assert engine.max_running_per_tenant == 1 and engine.max_running >= 2
    assert [call[1]["ram"] for call in engine.calls if call[1]["id"] == "t0"] == ["1Gi", "2Gi", "4Gi"]


def test_a_retry_seen_by_the_other_replica_returns_the_first_operation(new_store):
    a, b = replicas(new_store, RecordingEngine())
    first = a.provision({"userId": "acme", "ramSize": "1Gi"}, idempotency_key="k-1")
    again = b.provision({"userId": "acme", "ramSize": "1Gi"}, idempotency_key="k-1")
    assert (again.operation.id, again.new) == (first.operation.id, False)
    assert len(a.store.operations()) == 1


def test_a_replica_resumes_the_operation_a_dead_replica_held(new_store):
    engine = RecordingEngine()
    dead, alive = replicas(new_store, engine, lease=0.5)
    accepted = dead.provision({"userId": "acme", "ramSize": "1Gi"})
    assert dead.store.claim("dead-replica-w0", lease_seconds=0.5) is not None
    alive.start()
    try:
        assert wait(alive.store, [accepted.operation.id]) == {accepted.operation.id: DONE}
    finally:
        alive.stop(timeout=5)
    assert alive.store.operation(accepted.operation.id).attempts == 2
    assert len(engine.calls) == 1
