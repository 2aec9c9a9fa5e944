"""Persistent storage only grows: shrinking is refused before anything is applied, and growing a
StatefulSet's volumes resizes the existing claims instead of replacing the StatefulSet."""

from __future__ import annotations

import pulumi
import pytest

from components.storage import keep_claim_templates, storage_change_problems
from tooling.stacks import run_stack

pytestmark = pytest.mark.unit


def test_growing_a_claim_is_allowed():
    assert storage_change_problems({"data-0": "10Gi"}, {"data-0": "20Gi"}) == []


def test_keeping_a_claim_the_same_size_is_allowed():
    assert storage_change_problems({"data-0": "10Gi"}, {"data-0": "10240Mi"}) == []


def test_a_new_claim_is_allowed():
    assert storage_change_problems({}, {"data-0": "1Gi"}) == []


def test_shrinking_a_claim_is_refused_naming_the_claim_both_sizes_and_the_way_out():
    [problem] = storage_change_problems({"data-0": "20Gi", "data-1": "20Gi"}, {"data-0": "10Gi", "data-1": "20Gi"})
    assert "'data-0' would shrink from 20Gi to 10Gi" in problem
    assert "Keep it at 20Gi or more" in problem


def test_shrinking_across_units_is_still_caught():
    assert storage_change_problems({"data-0": "1Ti"}, {"data-0": "1000Gi"})


def _transform(type_token: str) -> pulumi.ResourceTransformResult | None:
    args = pulumi.ResourceTransformArgs(
        custom=True, type_=type_token, name="x", props={"spec": {}}, opts=pulumi.ResourceOptions()
    )
    return keep_claim_templates(args)


def test_statefulset_claim_templates_are_never_diffed_so_growth_never_replaces_the_statefulset():
    result = _transform("kubernetes:apps/v1:StatefulSet")
    assert result is not None
    assert result.opts.ignore_changes == ["spec.volumeClaimTemplates"]


def test_other_chart_objects_are_left_alone():
    assert _transform("kubernetes:apps/v1:Deployment") is None


def test_postgres_cluster_grows_each_claim_in_place_when_storage_is_raised():
    run = run_stack("staging", {"postgresClusters": {"orders": {"storageSize": "40Gi"}}})
    patch = run.named("orders-volume-data-orders-postgresql-primary-0").inputs
    assert patch["metadata"]["name"] == "data-orders-postgresql-primary-0"
    assert patch["metadata"]["annotations"]["pulumi.com/patchForce"] == "true"
    assert patch["spec"]["resources"]["requests"]["storage"] == "40Gi"
    assert keep_claim_templates in run.transforms


def test_one_more_read_replica_adds_one_claim_to_guard_and_grow(staging_stack):
    run = run_stack("staging", {"postgresClusters": {"orders": {"readReplicaCount": 2}}})
    assert "data-orders-postgresql-read-1" in run.named("orders-storage").inputs["claims"]
    assert run.named("orders-volume-data-orders-postgresql-read-1")
