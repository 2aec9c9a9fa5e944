"""Real Helm rendering of our charts, and real Kubernetes schema validation of what they render.

Every chart test goes through `render()`: it runs the pinned `helm` binary (built by `make toolchain`)
with `helm template`, parses the multi-document output and validates every object against the
Kubernetes OpenAPI schemas shipped in the `kubernetes-validate` package (strict: unknown fields fail).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

from components.helm import package_local_dependencies
from tooling.paths import CHARTS_DIR, TOOLS_BIN

# The charts the platform writes, and the library chart each of them builds on (a `file://` dependency whose
# packaged archive under the chart's charts/ is build output, ignored by Git).
LIBRARY_CHART = "nexus-lib"
OUR_CHARTS = (
    "nexus-database",
    "core-pipeline",
    "fluxiondb",
    "api-gateway",
    "order-command-service",
    "order-query-service",
)
# The API version our manifests must be valid for; the local control plane runs the same minor.
KUBERNETES_SCHEMA_VERSION = "1.34.0"
# Kinds whose schema is not in core Kubernetes (CRDs): validated only for shape, never by API schema.
CUSTOM_RESOURCE_GROUPS = ("monitoring.coreos.com/", "argoproj.io/", "cert-manager.io/")


class HelmError(RuntimeError):
    """helm exited non-zero; the message carries its stderr."""


@functools.cache
def helm_binary() -> str:
    for candidate in (TOOLS_BIN / "helm", shutil.which("helm")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise HelmError("helm not found: run `make toolchain` (it builds the pinned helm into .tools/bin)")


def run_helm(*args: str) -> str:
    proc = subprocess.run([helm_binary(), *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise HelmError(f"helm {' '.join(args)} failed:\n{proc.stderr}")
    return proc.stdout


def chart_path(chart: str | Path) -> Path:
    path = Path(chart)
    return path if path.is_absolute() else CHARTS_DIR / path


def _values_args(values: Mapping[str, Any] | None, values_files: Iterable[str | Path], tmp: Path) -> list[str]:
    args: list[str] = []
    for values_file in values_files:
        args += ["--values", str(values_file)]
    if values is not None:
        inline = tmp / "values.yaml"
        inline.write_text(yaml.safe_dump(dict(values)))
        args += ["--values", str(inline)]
    return args


def lint(chart: str | Path, values: Mapping[str, Any] | None = None, values_files: Iterable[str | Path] = ()) -> str:
    """`helm lint --strict`; raises HelmError with helm's findings when the chart is not clean."""
    with tempfile.TemporaryDirectory() as tmp:
        return run_helm("lint", "--strict", str(chart_path(chart)), *_values_args(values, values_files, Path(tmp)))


def render(
    chart: str | Path,
    values: Mapping[str, Any] | None = None,
    values_files: Iterable[str | Path] = (),
    release: str = "test",
    namespace: str = "default",
    validate: bool = True,
    extra_args: Iterable[str] = (),
) -> list[dict[str, Any]]:
    """Render a chart with `helm template` and return its objects (schema-validated unless told not to)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = run_helm(
            "template",
            release,
            str(chart_path(chart)),
            "--namespace",
            namespace,
            *_values_args(values, values_files, Path(tmp)),
            *extra_args,
        )
    manifests = [doc for doc in yaml.safe_load_all(out) if doc]
    if validate:
        validate_manifests(manifests)
    return manifests


def validate_manifests(manifests: Iterable[Mapping[str, Any]]) -> None:
    """Validate every object against the Kubernetes API schema; custom resources must still be well formed."""
    problems = []
    for manifest in manifests:
        api_version = manifest.get("apiVersion", "")
        where = f"{manifest.get('kind')}/{manifest.get('metadata', {}).get('name')}"
        if not manifest.get("kind") or not manifest.get("metadata", {}).get("name"):
            problems.append(f"{where}: missing kind or metadata.name")
            continue
        if api_version.startswith(CUSTOM_RESOURCE_GROUPS):
            continue
        try:
            kubernetes_validate.validate(dict(manifest), KUBERNETES_SCHEMA_VERSION, strict=True)
        except (kubernetes_validate.ValidationError, kubernetes_validate.SchemaNotFoundError) as err:
            problems.append(f"{where}: {getattr(err, 'message', err)}")
    if problems:
        raise AssertionError("manifests fail Kubernetes schema validation:\n" + "\n".join(problems))


def find(manifests: Iterable[Mapping[str, Any]], kind: str, name: str | None = None) -> list[Mapping[str, Any]]:
    """All rendered objects of a kind (and name, when given)."""
    return [
        m for m in manifests if m.get("kind") == kind and (name is None or m.get("metadata", {}).get("name") == name)
    ]


def one(manifests: Iterable[Mapping[str, Any]], kind: str, name: str | None = None) -> Mapping[str, Any]:
    """Exactly one rendered object of a kind (and name); fails with what was rendered instead."""
    found = find(manifests, kind, name)
    if len(found) != 1:
        rendered = sorted(f"{m.get('kind')}/{m.get('metadata', {}).get('name')}" for m in manifests)
        raise AssertionError(f"expected one {kind} {name or ''}, found {len(found)}; rendered: {rendered}")
    return found[0]


def containers(workload: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Containers of a Deployment/StatefulSet/Job/CronJob pod template (init containers included)."""
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    pod = spec["template"]["spec"]
    return [*pod.get("initContainers", []), *pod["containers"]]


def build_dependencies(charts_dir: Path = CHARTS_DIR) -> None:
    """Package the library dependency into each of our charts under `charts_dir`, as the program does before it
    deploys them (`components.helm.package_local_dependencies`; a plain Helm user runs `helm dependency build`)."""
    for chart in OUR_CHARTS:
        package_local_dependencies(charts_dir / chart)


@functools.cache
def build_work_tree_dependencies() -> None:
    """`build_dependencies` of the work tree's charts, once per process (tests, the policy and data-plane tiers)."""
    build_dependencies()


def hardening_gaps(container: Mapping[str, Any]) -> list[str]:
    """How a container falls short of the platform's baseline (non-root, read-only root filesystem, no
    privilege escalation, unprivileged, every capability dropped, CPU and memory requested and limited)."""
    context = container.get("securityContext") or {}
    expected = {
        "runAsNonRoot": True,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
    }
    gaps = [f"securityContext.{k} is {context.get(k)!r}, not {v!r}" for k, v in expected.items() if context.get(k) != v]
    resources = container.get("resources") or {}
    for kind in ("requests", "limits"):
        if set(resources.get(kind) or {}) != {"cpu", "memory"}:
            gaps.append(f"resources.{kind} are {sorted(resources.get(kind) or {})}, not cpu and memory")
    return [f"container {container.get('name')}: {gap}" for gap in gaps]
