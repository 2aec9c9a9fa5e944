"""Which cluster a stack deploys to (`nexus-platform:kubernetes`)."""

from __future__ import annotations

from .base import StrictModel


class KubernetesTarget(StrictModel):
    """The stack's one Kubernetes provider. Nothing set means the ambient kubeconfig ($KUBECONFIG or
    ~/.kube/config) and its current context; set `context` in shared stacks so a stack can never deploy to
    whatever cluster happens to be current."""

    kubeconfig: str | None = None
    context: str | None = None
    # Write manifests to this directory instead of applying them (the engine test tier uses it).
    renderYamlToDirectory: str | None = None
