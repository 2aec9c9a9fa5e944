"""Fixtures shared by every tier: one mocked run of the program per committed stack, and the test tiers' own
local cluster."""

from __future__ import annotations

import functools
from collections.abc import Iterator

import pytest

from tooling.local_cluster import ClusterError, LocalCluster, instance
from tooling.local_cluster.binaries import BuildError, missing
from tooling.stacks import STACKS, StackRun, run_stack


@functools.cache
def _committed_stack(stack: str) -> StackRun:
    return run_stack(stack)


@pytest.fixture(params=STACKS)
def any_stack(request: pytest.FixtureRequest) -> StackRun:
    """The program run under mocks with each committed stack file, in turn."""
    return _committed_stack(request.param)


@pytest.fixture
def dev_stack() -> StackRun:
    return _committed_stack("dev")


@pytest.fixture
def staging_stack() -> StackRun:
    return _committed_stack("staging")


@pytest.fixture
def prod_stack() -> StackRun:
    return _committed_stack("prod")


@pytest.fixture(scope="session")
def test_cluster_kubeconfig() -> Iterator[str]:
    """The test tiers' own cluster (the `test` instance, never `make up`'s), started with its data wiped and
    stopped at the end of the session: the cluster tier deploys to it, the engine tier's render-mode stacks ask
    it which custom resource kinds are namespaced."""
    cluster = LocalCluster(instance("test"))
    if absent := missing(cluster.instance):
        pytest.fail(f"the local cluster's binaries are missing ({', '.join(absent)}): run `make toolchain`")
    try:
        with cluster.lock():
            path = cluster.start(fresh=True)
    except (ClusterError, BuildError) as error:
        pytest.fail(f"the test tiers' own local cluster did not start: {error}")
    try:
        yield str(path)
    finally:
        with cluster.lock():
            cluster.stop()
