"""A bad config value stops `pulumi preview` in the real engine with the program's own message.

Invariant protected: before anything is planned, the CLI user sees which key is wrong, the bad value and
what is allowed (platform_config.base.config_error), and no Python traceback. Each case previews a fresh
stack copied from a committed stack file in the session's throwaway program copy.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def preview_with(engine_program):
    def run(name: str, overrides: dict):
        result = engine_program.stack(name, "dev", overrides).preview()
        assert result.returncode != 0, result.output[-3000:]
        assert "Traceback" not in result.output, result.output[-3000:]
        return result.output

    return run


def test_a_storage_size_in_gigabytes_is_refused_naming_the_key_and_the_allowed_units(preview_with):
    output = preview_with("dev-bad-storage", {"postgresClusters": {"orders": {"storageSize": "20GB"}}})
    assert "error: invalid stack configuration:" in output
    assert (
        "nexus-platform:postgresClusters.orders.storageSize = '20GB': '20GB' is not a storage size: use a whole "
        "number of Mi, Gi or Ti such as 20Gi (not '20GB', '20G' or '20gi')" in output
    )


def test_a_negative_read_replica_count_is_refused_naming_the_key_and_the_bound(preview_with):
    output = preview_with("dev-bad-replicas", {"postgresClusters": {"orders": {"readReplicaCount": -1}}})
    assert "error: invalid stack configuration:" in output
    assert (
        "nexus-platform:postgresClusters.orders.readReplicaCount = -1: Input should be greater than or equal to 0"
        in output
    )


def test_ten_million_read_replicas_are_refused_at_once_naming_the_key_the_value_and_the_limit(preview_with):
    # Unbounded, this preview planned ten million PVC patches and never ended.
    output = preview_with("dev-huge-replicas", {"postgresClusters": {"orders": {"readReplicaCount": 10_000_000}}})
    assert (
        "nexus-platform:postgresClusters.orders.readReplicaCount = 10000000: Input should be less than or equal to 15"
        in output
    )
