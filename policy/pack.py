"""The CrossGuard side of the pack: each rule in `rules.py` wrapped as a resource or stack policy.

Resource policies see one object at a time (its inputs); stack policies see every resource of the stack
at once, for rules that span objects (a PodDisruptionBudget selecting a workload, a NetworkPolicy in a
namespace, a HorizontalPodAutoscaler setting a workload's replica floor). Objects reach the pack as the
Kubernetes provider's camelCase properties, with the kind taken from the type token
(`kubernetes:apps/v1:Deployment`) when the properties lack one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import rules
from pulumi_policy import (
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

KUBERNETES = "kubernetes:"
ResourceRule = Callable[[rules.Manifest], list[str]]
StackRule = Callable[[Mapping[str, rules.Manifest]], list[tuple[str, str]]]


def kind_of(resource_type: str) -> str | None:
    """`kubernetes:apps/v1:Deployment` -> `Deployment`; None for anything but a Kubernetes object."""
    if not resource_type.startswith(KUBERNETES):
        return None
    return resource_type.rsplit(":", 1)[-1]


def manifest(resource_type: str, props: Mapping[str, Any]) -> rules.Manifest:
    if "kind" in props:
        return props
    return {**props, "kind": kind_of(resource_type)}


def resource_policy(name: str, description: str, rule: ResourceRule, kinds: set[str]) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if kind_of(args.resource_type) not in kinds:
            return
        for message in rule(manifest(args.resource_type, args.props)):
            report_violation(message, None)

    return ResourceValidationPolicy(name=name, description=description, validate=validate)


def stack_policy(name: str, description: str, rule: StackRule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        objects = {
            resource.urn: manifest(resource.resource_type, resource.props)
            for resource in args.resources
            if kind_of(resource.resource_type)
        }
        for urn, message in rule(objects):
            report_violation(message, urn)

    return StackValidationPolicy(name=name, description=description, validate=validate)


def environment_policy() -> StackValidationPolicy:
    """Refuses to check a stack named dev/staging/prod with another environment's configuration."""

    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        configured = (args.get_config() or {}).get("environment", "prod")
        stack = next((rules.stack_from_urn(resource.urn) for resource in args.resources), None)
        for message in rules.environment_matches_stack(configured, stack):
            report_violation(message, None)

    return StackValidationPolicy(
        name=rules.ENVIRONMENT_POLICY,
        description="The policy configuration matches the stack's environment.",
        validate=validate,
        config_schema=PolicyConfigSchema(
            properties={
                "environment": {
                    "type": "string",
                    "enum": list(rules.ENVIRONMENTS),
                    "default": "prod",
                    "description": "The environment this configuration is for (config/<environment>.json).",
                }
            }
        ),
    )


def policies() -> list[ResourceValidationPolicy | StackValidationPolicy]:
    workloads = rules.WORKLOAD_KINDS
    return [
        resource_policy(
            "container-resources",
            "Every container and init container sets CPU and memory requests and limits.",
            rules.container_resources,
            workloads,
        ),
        resource_policy(
            "container-non-root", "Every container runs as a non-root user.", rules.run_as_non_root, workloads
        ),
        resource_policy(
            "container-not-privileged",
            "No container is privileged or may escalate privileges.",
            rules.not_privileged,
            workloads,
        ),
        resource_policy(
            "container-drop-all-capabilities",
            "Every container drops ALL Linux capabilities.",
            rules.drops_all_capabilities,
            workloads,
        ),
        resource_policy(
            "pod-host-isolation",
            "No pod uses the host's network, PID or IPC namespace or a hostPath volume.",
            rules.host_isolation,
            workloads,
        ),
        resource_policy(
            "images-pinned",
            "Every image is pinned to a tag or digest other than 'latest'.",
            rules.images_pinned,
            workloads,
        ),
        resource_policy(
            "pod-own-service-account",
            "Every pod runs as a ServiceAccount of its own, not the namespace's default.",
            rules.own_service_account,
            workloads,
        ),
        resource_policy(
            "pod-no-service-account-token",
            "No pod mounts a Kubernetes API token (automountServiceAccountToken: false).",
            rules.no_service_account_token,
            workloads,
        ),
        stack_policy(
            "data-store-tls-required",
            "Every data store refuses plaintext clients and serves a certificate cert-manager issues.",
            rules.data_stores_without_required_tls,
        ),
        resource_policy("ingress-tls", "Every Ingress serves TLS for all its hosts.", rules.ingress_tls, {"Ingress"}),
        stack_policy(
            "workload-replicas",
            "Every Deployment/StatefulSet runs at least two replicas (its own or its HPA's minReplicas) unless "
            "single-pod by design.",
            rules.workloads_below_replica_floor,
        ),
        stack_policy(
            "workload-disruption-budget",
            "Every Deployment/StatefulSet has a PodDisruptionBudget unless single-pod by design.",
            rules.workloads_without_disruption_budget,
        ),
        stack_policy(
            "namespace-network-policy",
            "Every namespace the stack creates has a NetworkPolicy.",
            rules.namespaces_without_network_policy,
        ),
        stack_policy(
            "data-store-scraped",
            "Every data store (StatefulSet) has a ServiceMonitor or PodMonitor scraping its pods.",
            rules.data_stores_without_scrape_object,
        ),
        resource_policy(
            "configmap-no-credentials",
            "No ConfigMap carries a credential.",
            rules.configmap_credentials,
            {"ConfigMap"},
        ),
        resource_policy(
            "env-no-literal-credentials",
            "No container sets a credential-like variable to a literal value (credentials come from Secrets).",
            rules.env_credentials,
            workloads,
        ),
        resource_policy(
            "service-load-balancer-allowed",
            "A Service of type LoadBalancer exists only where the stack config allows it.",
            rules.load_balancer_allowed,
            {"Service"},
        ),
        environment_policy(),
    ]
