"""Persistent storage that only ever grows: StorageGuard, and growing StatefulSet claims in place.

StorageGuard refuses, at preview time, any change that would shrink persistent storage.

Kubernetes refuses to shrink a PVC, and a chart change that re-creates a claim loses its data. Neither
shows up as a clear error in `pulumi preview`. The guard is a tiny Pulumi dynamic resource whose inputs
are the requested sizes of a component's claims; its `check` compares them with the sizes last deployed
(the engine hands it the previous inputs) and fails the preview, before anything is applied, naming the
claim, both sizes and what to do instead. Growing is allowed.

Growing a StatefulSet's storage the naive way changes its `volumeClaimTemplates`, which Kubernetes
forbids updating, so Pulumi would replace the StatefulSet. Instead the templates keep the size they were
created with (`keep_claim_templates`) and each existing claim is resized in place by a server-side-apply
patch (`grow_claims`), which the storage class's volume expansion carries out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, ResourceProvider, UpdateResult

from platform_config.base import quantity_to_number


def storage_change_problems(previous: Mapping[str, str], requested: Mapping[str, str]) -> list[str]:
    """One message per claim whose requested size is smaller than what is deployed."""
    problems = []
    for claim, size in sorted(requested.items()):
        deployed = previous.get(claim)
        if deployed is not None and quantity_to_number(size) < quantity_to_number(deployed):
            problems.append(
                f"storage for {claim!r} would shrink from {deployed} to {size}: a volume cannot be shrunk without "
                f"losing its data. Keep it at {deployed} or more (to move to a smaller volume, back up, create "
                "a new claim and restore)."
            )
    return problems


class _StorageGuardProvider(ResourceProvider):
    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        problems = storage_change_problems(_olds.get("claims") or {}, news.get("claims") or {})
        return CheckResult(news, [CheckFailure("claims", problem) for problem in problems])

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_="storage-guard", outs=props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return DiffResult(changes=olds.get("claims") != news.get("claims"), replaces=[], delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=news)


class StorageGuard(pulumi.dynamic.Resource):
    """Records the requested size of each claim (`{"claim id": "10Gi"}`) and refuses shrinking ones."""

    claims: pulumi.Output[dict[str, str]]

    def __init__(self, name: str, claims: Mapping[str, str], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(_StorageGuardProvider(), name, {"claims": dict(claims)}, opts)


STATEFULSET = "kubernetes:apps/v1:StatefulSet"


def keep_claim_templates(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
    """Resource transform for a chart: a StatefulSet's claim templates are immutable, so never diff them."""
    if args.type_ != STATEFULSET:
        return None
    ignore = pulumi.ResourceOptions(ignore_changes=["spec.volumeClaimTemplates"])
    return pulumi.ResourceTransformResult(props=args.props, opts=pulumi.ResourceOptions.merge(args.opts, ignore))


def grow_claims(
    resource_name: str,
    namespace: pulumi.Input[str],
    claims: Mapping[str, str],
    opts: pulumi.ResourceOptions,
) -> list[k8s.core.v1.PersistentVolumeClaimPatch]:
    """Own the requested size of each existing claim, so raising it resizes the volume in place.

    `opts` must depend on the workload that creates the claims: a patch needs its claim to exist.
    """
    return [
        k8s.core.v1.PersistentVolumeClaimPatch(
            f"{resource_name}-{claim}",
            metadata=k8s.meta.v1.ObjectMetaPatchArgs(
                name=claim,
                namespace=namespace,
                # The StatefulSet controller created the claim; take over just the size field.
                annotations={"pulumi.com/patchForce": "true"},
            ),
            spec=k8s.core.v1.PersistentVolumeClaimSpecPatchArgs(
                resources=k8s.core.v1.VolumeResourceRequirementsPatchArgs(requests={"storage": size})
            ),
            # Deleting a patch would hand back a field the claim requires, which the API server refuses:
            # when the claim or the patch goes away, Pulumi just forgets the patch.
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(retain_on_delete=True)),
        )
        for claim, size in sorted(claims.items())
    ]
