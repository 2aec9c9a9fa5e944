"""Deploying Helm charts: our own charts from `charts/`, upstream charts from a registry or a mirror.

All charts go through Pulumi Kubernetes' `helm.v4.Chart`: the provider renders the chart and every
object becomes a Pulumi resource of its own, so `pulumi preview` shows a diff per Deployment, Secret or
StatefulSet (what a reviewer needs), and the render-to-directory mode can write them out.
"""

from __future__ import annotations

import fnmatch
import gzip
import io
import os
import tarfile
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

CHARTS_DIR = Path(__file__).resolve().parent.parent / "charts"


def local_chart(name: str) -> str:
    """One of our charts, with its library dependency packaged into its charts/ folder (see
    `package_local_dependencies`)."""
    path = CHARTS_DIR / name
    if not (path / "Chart.yaml").is_file():
        raise FileNotFoundError(f"chart {name!r} not found at {path}")
    package_local_dependencies(path)
    return str(path)


def deploy_chart(
    resource_name: str,
    *,
    chart: str,
    release_name: str,
    namespace: pulumi.Input[str],
    values: Mapping[str, Any],
    opts: pulumi.ResourceOptions,
    version: str | None = None,
    depends_on: Sequence[pulumi.Resource] = (),
) -> k8s.helm.v4.Chart:
    """Render and deploy one chart release. `release_name` is fixed (never derived from a random
    suffix) so the objects' names, and therefore the preview, stay stable."""
    return k8s.helm.v4.Chart(
        resource_name,
        chart=chart,
        version=version,
        name=release_name,
        namespace=namespace,
        values=dict(values),
        # Helm hooks are rendered as ordinary objects by v4 Chart; the charts keep test hooks off.
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=list(depends_on))),
    )


def chart_dependencies(chart_dir: Path) -> list[dict[str, Any]]:
    """The dependencies a chart's Chart.yaml declares."""
    chart_file = chart_dir / "Chart.yaml"
    return (yaml.safe_load(chart_file.read_text()) or {}).get("dependencies") or [] if chart_file.is_file() else []


def package_local_dependencies(chart_dir: Path) -> list[Path]:
    """Package each `file://` dependency of a chart (our library chart) into the chart's charts/ folder, as
    `helm dependency build` would, and return the archives.

    Done here, once, before any release is registered, rather than by the provider's `dependencyUpdate`: that
    runs `helm dependency update` inside the chart's folder for every release, so two releases of one chart
    (two FluxionDB tenants) rebuilt the same archive at the same time and one of them found it missing. The
    archive is deterministic (sorted entries, no timestamps) and replaced atomically only when its content
    changes, so concurrent programs and repeated previews agree. The archives are build output (git-ignored).
    """
    archives = []
    for dependency in chart_dependencies(chart_dir):
        repository = str(dependency.get("repository", ""))
        if not repository.startswith("file://"):
            raise ValueError(f"{chart_dir / 'Chart.yaml'}: dependency {dependency.get('name')!r} is not file://")
        source = (chart_dir / repository.removeprefix("file://")).resolve()
        meta = yaml.safe_load((source / "Chart.yaml").read_text())
        archive = chart_dir / "charts" / f"{meta['name']}-{meta['version']}.tgz"
        content = _chart_archive(source, meta["name"])
        if not archive.is_file() or archive.read_bytes() != content:
            archive.parent.mkdir(exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=archive.parent, prefix=f".{archive.name}.", delete=False) as tmp:
                tmp.write(content)
            os.replace(tmp.name, archive)
        archives.append(archive)
    return archives


def _chart_archive(source: Path, name: str) -> bytes:
    """A chart folder as Helm packages it: `<name>/...` in a gzipped tar, minus what its .helmignore lists."""
    ignore_file = source / ".helmignore"
    patterns = [
        line.strip()
        for line in (ignore_file.read_text().splitlines() if ignore_file.is_file() else [])
        if line.strip() and not line.startswith("#")
    ]

    def ignored(relative: Path) -> bool:
        return any(
            fnmatch.fnmatch(part, pattern.rstrip("/")) or fnmatch.fnmatch(str(relative), pattern.rstrip("/"))
            for pattern in patterns
            for part in relative.parts
        )

    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as zipped, tarfile.open(fileobj=zipped, mode="w") as tar:
        for path in sorted(source.rglob("*")):
            relative = path.relative_to(source)
            if not path.is_file() or ignored(relative):
                continue
            info = tarfile.TarInfo(f"{name}/{relative}")
            info.size, info.mode, info.mtime = path.stat().st_size, 0o644, 0
            tar.addfile(info, io.BytesIO(path.read_bytes()))
    return buffer.getvalue()
