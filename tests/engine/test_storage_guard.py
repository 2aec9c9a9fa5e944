"""StorageGuard refuses a shrink in the real engine: after `pulumi up`, a preview that would make a volume
smaller fails with the guard's message, naming the claim and both sizes, before anything is applied.

Invariant protected: "Nothing lost" — the engine hands the guard the deployed sizes, which mocks cannot
show. Each case changes the session's deployed dev stack's config only for its preview and restores it.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.engine

ADVICE = "a volume cannot be shrunk without losing its data."


def failed_preview(stack, overrides: dict) -> str:
    with stack.overridden(overrides):
        result = stack.preview()
    assert result.returncode != 0, result.output[-3000:]
    return result.output


def test_shrinking_the_orders_cluster_storage_fails_the_preview_with_the_guards_message(deployed):
    output = failed_preview(deployed("dev").stack, {"postgresClusters": {"orders": {"storageSize": "1Gi"}}})
    assert "resource 'orders-storage'" in output
    assert f"storage for 'data-orders-postgresql-primary-0' would shrink from 2Gi to 1Gi: {ADVICE}" in output
