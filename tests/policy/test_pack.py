"""The pack wires every rule into CrossGuard correctly, and each environment's committed pack
configuration says what the issue asks: advisory in dev, mandatory in staging and prod, environment-scoped
rules only where they apply, and a guard against checking a stack with another environment's file."""

from __future__ import annotations

import json

import pack
import pytest
import rules
from pulumi_policy import (
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
)

from tests.policy.conftest import POLICY_DIR
from tests.policy.manifests import at, deployment, hpa, namespace

pytestmark = pytest.mark.unit

DEPLOYMENT_TYPE = "kubernetes:apps/v1:Deployment"


def policy_named(name: str):
    return next(policy for policy in pack.policies() if policy.name == name)


def options() -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], None, [], None)


def resource_args(resource_type: str, props: dict) -> ResourceValidationArgs:
    return ResourceValidationArgs(
        resource_type, props, "urn:pulumi:prod::nexus-platform::x::api", "api", options(), None
    )


def stack_args(objects: dict[str, tuple[str, dict]], config: dict | None = None) -> StackValidationArgs:
    resources = [
        PolicyResource(resource_type, props, urn, urn.rsplit("::", 1)[-1], options(), None, None, [], {})
        for urn, (resource_type, props) in objects.items()
    ]
    return StackValidationArgs(resources, config)


def violations(policy, args) -> list[tuple[str, str | None]]:
    reported: list[tuple[str, str | None]] = []
    policy.validate(args, lambda message, urn=None: reported.append((message, urn)))
    return reported


def test_policy_names_are_unique():
    names = [policy.name for policy in pack.policies()]
    assert len(names) == len(set(names))


def test_every_environment_scoped_rule_is_a_policy_of_the_pack():
    names = {policy.name for policy in pack.policies()}
    assert set(rules.ENVIRONMENT_SCOPES) <= names


@pytest.mark.parametrize("environment", rules.ENVIRONMENTS)
def test_the_committed_pack_configuration_matches_the_environment_scopes(environment):
    committed = json.loads((POLICY_DIR / "config" / f"{environment}.json").read_text())
    assert committed == rules.pack_config(environment)


def test_dev_reports_violations_as_advisory():
    assert rules.pack_config("dev")["all"] == "advisory"


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_staging_and_prod_block_on_violations(environment):
    assert rules.pack_config(environment)["all"] == "mandatory"


def test_prod_disables_no_rule():
    assert "disabled" not in rules.pack_config("prod").values()


def test_staging_leaves_the_prod_availability_and_required_tls_rules_out():
    disabled = {name for name, level in rules.pack_config("staging").items() if level == "disabled"}
    assert disabled == {
        "workload-replicas",
        "workload-disruption-budget",
        "namespace-network-policy",
        "data-store-scraped",
        # staging offers TLS and still accepts plaintext: the step clients take before prod's "required".
        "data-store-tls-required",
    }


@pytest.mark.parametrize("rule", ["pod-own-service-account", "pod-no-service-account-token"])
def test_the_service_account_rules_hold_in_staging_and_prod_only(rule):
    assert [env for env in rules.ENVIRONMENTS if rules.pack_config(env).get(rule) != "disabled"] == ["staging", "prod"]


def test_the_environment_guard_blocks_even_in_dev():
    assert rules.pack_config("dev")[rules.ENVIRONMENT_POLICY]["enforcementLevel"] == "mandatory"


def test_a_resource_policy_reports_the_rules_message():
    bad = at(deployment(), "spec.template.spec.containers.0.securityContext.privileged", True)
    reported = violations(policy_named("container-not-privileged"), resource_args(DEPLOYMENT_TYPE, bad))
    assert reported == [
        ("Deployment orders/api: container 'api' is privileged; remove securityContext.privileged", None)
    ]


def test_a_resource_policy_takes_the_kind_from_the_type_token_when_properties_lack_it():
    bad = at(deployment(), "spec.template.spec.containers.0.securityContext.privileged", True)
    del bad["kind"]
    assert len(violations(policy_named("container-not-privileged"), resource_args(DEPLOYMENT_TYPE, bad))) == 1


def test_a_resource_policy_ignores_resources_that_are_not_kubernetes_objects():
    bad = at(deployment(), "spec.template.spec.containers.0.securityContext.privileged", True)
    assert violations(policy_named("container-not-privileged"), resource_args("nexus:apps:CorePipeline", bad)) == []


def test_a_stack_policy_reports_against_the_offending_resource():
    urn = "urn:pulumi:prod::nexus-platform::kubernetes:core/v1:Namespace::orders"
    reported = violations(
        policy_named("namespace-network-policy"), stack_args({urn: ("kubernetes:core/v1:Namespace", namespace())})
    )
    assert reported == [("Namespace orders has no NetworkPolicy; prod namespaces must restrict traffic", urn)]


def test_the_replica_policy_reads_the_hpa_floor_of_a_deployment_that_leaves_replicas_out():
    deployment_urn = "urn:pulumi:prod::nexus-platform::kubernetes:apps/v1:Deployment::api"
    hpa_urn = "urn:pulumi:prod::nexus-platform::kubernetes:autoscaling/v2:HorizontalPodAutoscaler::api"
    autoscaled = at(deployment(), "spec.replicas", None)
    del autoscaled["kind"]
    floor_of_one = at(hpa(min_replicas=1), "kind", None)
    reported = violations(
        policy_named("workload-replicas"),
        stack_args(
            {
                deployment_urn: (DEPLOYMENT_TYPE, autoscaled),
                hpa_urn: ("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", floor_of_one),
            }
        ),
    )
    assert [(message.split(";")[0], urn) for message, urn in reported] == [
        ("Deployment orders/api is scaled by a HorizontalPodAutoscaler with minReplicas 1", deployment_urn)
    ]


def only_the_stack_resource(stack: str) -> dict[str, tuple[str, dict]]:
    urn = f"urn:pulumi:{stack}::nexus-platform::pulumi:pulumi:Stack::nexus-platform-{stack}"
    return {urn: ("pulumi:pulumi:Stack", {})}


def guard_violations(stack: str, config: dict | None) -> list[tuple[str, str | None]]:
    return violations(policy_named(rules.ENVIRONMENT_POLICY), stack_args(only_the_stack_resource(stack), config))


def test_the_environment_guard_refuses_a_prod_stack_checked_with_the_dev_configuration():
    assert guard_violations("prod", {"environment": "dev"}) == [
        (
            "stack 'prod' is being checked with the 'dev' policy configuration; pass --policy-pack-config "
            "policy/config/prod.json",
            None,
        )
    ]


def test_the_environment_guard_accepts_the_matching_configuration():
    assert guard_violations("staging", {"environment": "staging"}) == []


def test_the_environment_guard_leaves_stacks_not_named_after_an_environment_alone():
    assert guard_violations("scratch-a1", {"environment": "dev"}) == []


def test_without_a_configuration_the_guard_assumes_prod():
    assert len(guard_violations("dev", None)) == 1


def test_every_policy_describes_itself_for_the_preview_output():
    assert [policy.name for policy in pack.policies() if not policy.description] == []


def test_rules_that_span_objects_are_stack_policies_and_the_rest_resource_policies():
    resource_policies = {policy.name for policy in pack.policies() if isinstance(policy, ResourceValidationPolicy)}
    stack_policies = {
        "workload-replicas",
        "workload-disruption-budget",
        "namespace-network-policy",
        rules.ENVIRONMENT_POLICY,
    }
    assert stack_policies.isdisjoint(resource_policies)
