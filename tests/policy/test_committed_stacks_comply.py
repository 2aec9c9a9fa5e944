"""Every committed stack deploys only objects the policy pack accepts for its environment, so `pulumi
preview --policy-pack policy` passes on dev, staging and prod. One case per (stack, policy) pair, so a
failure names the chart that broke which rule."""

from __future__ import annotations

import pack
import pytest
import rules
from pulumi_policy import ResourceValidationPolicy

from tests.policy.stack_objects import stack_objects
from tooling.stacks import STACKS

pytestmark = pytest.mark.render

RESOURCE_RULES = {
    "container-resources": rules.container_resources,
    "container-non-root": rules.run_as_non_root,
    "container-not-privileged": rules.not_privileged,
    "container-drop-all-capabilities": rules.drops_all_capabilities,
    "pod-host-isolation": rules.host_isolation,
    "images-pinned": rules.images_pinned,
    "ingress-tls": rules.ingress_tls,
    "configmap-no-credentials": rules.configmap_credentials,
    "env-no-literal-credentials": rules.env_credentials,
    "service-load-balancer-allowed": rules.load_balancer_allowed,
    "pod-own-service-account": rules.own_service_account,
    "pod-no-service-account-token": rules.no_service_account_token,
}
STACK_RULES = {
    "workload-replicas": rules.workloads_below_replica_floor,
    "workload-disruption-budget": rules.workloads_without_disruption_budget,
    "namespace-network-policy": rules.namespaces_without_network_policy,
    "data-store-scraped": rules.data_stores_without_scrape_object,
    "data-store-tls-required": rules.data_stores_without_required_tls,
}


def in_force(stack: str) -> list[str]:
    config = rules.pack_config(stack)
    return [name for name in (*RESOURCE_RULES, *STACK_RULES) if config.get(name) != "disabled"]


CASES = [pytest.param(stack, name, id=f"{stack}-{name}") for stack in STACKS for name in in_force(stack)]


def test_the_table_covers_every_rule_of_the_pack():
    names = {policy.name for policy in pack.policies() if policy.name != rules.ENVIRONMENT_POLICY}
    assert names == set(RESOURCE_RULES) | set(STACK_RULES)


def test_the_table_sorts_resource_and_stack_rules_as_the_pack_does():
    resource_policies = {policy.name for policy in pack.policies() if isinstance(policy, ResourceValidationPolicy)}
    assert resource_policies == set(RESOURCE_RULES)


@pytest.mark.parametrize(("stack", "policy"), CASES)
def test_the_committed_stack_passes_the_policy(stack, policy):
    objects = stack_objects(stack)
    if policy in RESOURCE_RULES:
        problems = [problem for obj in objects.values() for problem in RESOURCE_RULES[policy](obj)]
    else:
        problems = [f"{key}: {problem}" for key, problem in STACK_RULES[policy](objects)]
    assert problems == []
