"""Prod workloads survive a node drain: two replicas (declared, or the floor of the HorizontalPodAutoscaler
that owns the count) and a PodDisruptionBudget selecting them, unless documented as single-pod by design;
every namespace the stack creates has a NetworkPolicy."""

from __future__ import annotations

import pytest
import rules

from tests.policy.manifests import (
    at,
    deployment,
    hpa,
    namespace,
    network_policy,
    pdb,
    single_pod,
    statefulset,
)

pytestmark = pytest.mark.unit


def replica_problems(*objects: dict) -> list[str]:
    """The workload-replicas messages for a stack made of `objects`."""
    return [problem for _, problem in rules.workloads_below_replica_floor(dict(enumerate(objects)))]


def autoscaled(obj: dict) -> dict:
    """`obj` as the charts render it under an HPA: no spec.replicas."""
    return at(obj, "spec.replicas", None)


def test_a_deployment_with_two_replicas_passes():
    assert replica_problems(deployment(replicas=2)) == []


def test_a_violation_is_reported_against_the_offending_workload():
    objects = {"urn:ok": deployment(name="web"), "urn:bad": statefulset(replicas=1)}
    assert [key for key, _ in rules.workloads_below_replica_floor(objects)] == ["urn:bad"]


def test_a_single_replica_statefulset_is_a_violation_that_names_the_exemption():
    (problem,) = replica_problems(statefulset(replicas=1))
    assert problem.startswith("StatefulSet orders/db runs 1 replica(s); prod needs at least 2")
    assert 'nexus-platform/single-pod-by-design: "true"' in problem


def test_a_replica_count_handed_over_as_a_float_is_reported_as_a_whole_number():
    assert "runs 1 replica(s)" in replica_problems(statefulset(replicas=1.0))[0]


def test_a_deployment_scaled_to_zero_is_a_violation():
    assert "runs 0 replica(s)" in replica_problems(deployment(replicas=0))[0]


def test_a_deployment_without_replicas_under_an_hpa_with_a_floor_of_two_passes():
    assert replica_problems(autoscaled(deployment()), hpa(min_replicas=2)) == []


def test_a_statefulset_without_replicas_under_an_hpa_targeting_its_kind_passes():
    assert replica_problems(autoscaled(statefulset()), hpa("db", kind="StatefulSet", min_replicas=3)) == []


def test_an_hpa_floor_handed_over_as_a_float_counts():
    assert replica_problems(autoscaled(deployment()), hpa(min_replicas=2.0)) == []


def test_a_deployment_without_replicas_under_an_hpa_with_a_floor_of_one_is_a_violation():
    (problem,) = replica_problems(autoscaled(deployment()), hpa(min_replicas=1))
    assert problem.startswith(
        "Deployment orders/api is scaled by a HorizontalPodAutoscaler with minReplicas 1; prod needs a floor of at "
        "least 2"
    )


def test_an_hpa_without_min_replicas_has_the_kubernetes_default_floor_of_one():
    assert "minReplicas 1" in replica_problems(autoscaled(deployment()), hpa(min_replicas=None))[0]


def test_an_hpa_floor_of_one_is_a_violation_even_when_the_deployment_declares_more_replicas():
    # The HPA scales down to its floor whatever spec.replicas says.
    assert "minReplicas 1" in replica_problems(deployment(replicas=3), hpa(min_replicas=1))[0]


def test_the_lowest_floor_counts_when_two_hpas_target_one_deployment():
    assert "minReplicas 1" in replica_problems(autoscaled(deployment()), hpa(min_replicas=3), hpa(min_replicas=1))[0]


def test_a_deployment_without_replicas_or_an_hpa_is_a_violation_that_says_so():
    assert replica_problems(autoscaled(deployment())) == [
        "Deployment orders/api declares no spec.replicas (so it runs 1) and no HorizontalPodAutoscaler in its "
        "namespace targets it; prod needs spec.replicas >= 2, an HPA on it with minReplicas >= 2, or the "
        'annotations nexus-platform/single-pod-by-design: "true" and nexus-platform/single-pod-reason when it '
        "is single-pod by design"
    ]


def test_an_hpa_targeting_another_workload_does_not_count():
    assert "no HorizontalPodAutoscaler" in replica_problems(autoscaled(deployment()), hpa("web"))[0]


def test_an_hpa_targeting_another_kind_of_the_same_name_does_not_count():
    assert "no HorizontalPodAutoscaler" in replica_problems(autoscaled(deployment()), hpa(kind="StatefulSet"))[0]


def test_an_hpa_in_another_namespace_does_not_count():
    assert "no HorizontalPodAutoscaler" in replica_problems(autoscaled(deployment()), hpa(namespace="payments"))[0]


def test_a_single_pod_workload_with_a_documented_exemption_passes():
    assert replica_problems(single_pod(deployment())) == []


def test_a_single_pod_exemption_without_a_reason_is_a_violation():
    assert replica_problems(single_pod(deployment(), reason=None)) == [
        "Deployment orders/api declares nexus-platform/single-pod-by-design without a nexus-platform/single-pod-reason "
        "annotation; an exemption must say why the workload is single-pod"
    ]


def test_kinds_other_than_deployments_and_statefulsets_have_no_replica_rule():
    assert replica_problems({**deployment(replicas=1), "kind": "DaemonSet"}) == []


def test_a_deployment_selected_by_a_budget_in_its_namespace_passes():
    assert rules.workloads_without_disruption_budget({"d": deployment(), "b": pdb()}) == []


def test_a_deployment_without_a_budget_is_reported_against_that_deployment():
    assert rules.workloads_without_disruption_budget({"urn:d": deployment(), "urn:s": statefulset()}) == [
        ("urn:d", "Deployment orders/api has no PodDisruptionBudget selecting its pods"),
        ("urn:s", "StatefulSet orders/db has no PodDisruptionBudget selecting its pods"),
    ]


def test_a_budget_in_another_namespace_does_not_count():
    objects = {"d": deployment(), "b": pdb(namespace="payments")}
    assert len(rules.workloads_without_disruption_budget(objects)) == 1


def test_a_budget_whose_selector_does_not_match_the_pods_does_not_count():
    objects = {"d": deployment(), "b": pdb(selector={"matchLabels": {"app.kubernetes.io/name": "other"}})}
    assert len(rules.workloads_without_disruption_budget(objects)) == 1


def test_a_budget_selecting_by_match_expressions_counts():
    selector = {"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "In", "values": ["api", "web"]}]}
    assert rules.workloads_without_disruption_budget({"d": deployment(), "b": pdb(selector=selector)}) == []


def test_a_single_pod_workload_with_a_documented_exemption_needs_no_budget():
    assert rules.workloads_without_disruption_budget({"d": single_pod(deployment())}) == []


@pytest.mark.parametrize(
    ("selector", "labels", "matches"),
    [
        ({}, {"a": "1"}, True),
        (None, {"a": "1"}, False),
        ({"matchLabels": {"a": "1"}}, {"a": "1", "b": "2"}, True),
        ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {"a": "1"}, False),
        ({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {"a": "1"}, True),
        ({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, {"a": "1"}, False),
    ],
)
def test_label_selectors_follow_kubernetes_semantics(selector, labels, matches):
    assert rules.selector_matches(selector, labels) is matches


def test_a_namespace_holding_a_network_policy_passes():
    assert rules.namespaces_without_network_policy({"n": namespace(), "p": network_policy()}) == []


def test_a_namespace_without_a_network_policy_is_reported_against_that_namespace():
    objects = {"urn:n": namespace("orders"), "urn:p": network_policy(namespace="payments")}
    assert rules.namespaces_without_network_policy(objects) == [
        ("urn:n", "Namespace orders has no NetworkPolicy; prod namespaces must restrict traffic")
    ]
