"""Who every pod runs as, in every committed stack: a ServiceAccount the stack itself creates in the pod's
namespace (a pod naming one that does not exist is never created: the API server refuses it), never with a
token, and never shared between two different workloads."""

from __future__ import annotations

from collections import defaultdict

import pytest
import rules

from tests.policy.stack_objects import stack_objects
from tooling.stacks import STACKS

pytestmark = pytest.mark.render


def _workloads(stack: str) -> dict[str, dict]:
    return {key: obj for key, obj in stack_objects(stack).items() if rules.pod_spec(obj) is not None}


def _accounts(stack: str) -> dict[tuple[str, str], dict]:
    return {
        ((obj.get("metadata") or {}).get("namespace") or "default", obj["metadata"]["name"]): obj
        for obj in stack_objects(stack).values()
        if obj.get("kind") == "ServiceAccount"
    }


def _runs_as(obj: dict) -> tuple[str, str]:
    namespace = (obj.get("metadata") or {}).get("namespace") or "default"
    return namespace, rules.pod_spec(obj).get("serviceAccountName") or "default"


@pytest.mark.parametrize("stack", STACKS)
def test_every_pod_runs_as_a_service_account_the_stack_creates_in_its_namespace(stack):
    accounts = _accounts(stack)
    missing = sorted(
        f"{rules.describe(obj)} -> {'/'.join(_runs_as(obj))}"
        for obj in _workloads(stack).values()
        if _runs_as(obj) not in accounts
    )
    assert missing == []


@pytest.mark.parametrize("stack", STACKS)
def test_no_service_account_of_the_stack_mounts_its_token_by_default(stack):
    automounted = [
        name for name, account in _accounts(stack).items() if account.get("automountServiceAccountToken") is not False
    ]
    assert automounted == []


@pytest.mark.parametrize("stack", STACKS)
def test_no_two_workloads_share_a_service_account(stack):
    users = defaultdict(set)
    for obj in _workloads(stack).values():
        # A workload: its kind and name; the Bitnami primary and read replicas are one release's, so one account.
        labels = ((obj.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels") or {}
        instance = labels.get("app.kubernetes.io/instance", "")
        users[_runs_as(obj)].add(instance if instance.endswith("-postgresql") else obj["metadata"]["name"])
    shared = {"/".join(account): sorted(names) for account, names in users.items() if len(names) > 1}
    assert shared == {}
