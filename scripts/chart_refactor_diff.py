"""What a deployed stack would notice of a chart refactor: render our charts at an old commit and now, with the
exact values each committed stack passes, and diff the objects.

    .venv/bin/python scripts/chart_refactor_diff.py [--base 99dbcb3] [--stack dev ...]

The program runs under Pulumi mocks (tooling/stacks.py: run_stack); every v4 Chart it registers for one of our
charts is rendered by the real helm twice, with the same values, release name and namespace: from the charts at
`--base` (extracted with `git archive` into a temporary directory, so the work tree's git state is untouched) and
from the work tree. Values keys the base charts do not know (`secretChecksums`) are dropped from both renders, so
the comparison shows the refactor alone; `--with-new-values` keeps them in the new render (what a deploy of the
new components would also change).

With `--values-files`, each chart is also rendered with each of its own values-<env>.yaml and ci/*-values.yaml
(plus the credentials a plain-Helm operator passes), as a plain `helm install` would.

Refused (exit 1): an object added or removed, or any change to a Deployment/StatefulSet `spec.selector`, a
Service's selector, a StatefulSet's `serviceName` or `volumeClaimTemplates`, or a PersistentVolumeClaim.
Reported: every other change, grouped by field, labels and annotations apart from the rest.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tarfile
import tempfile
from collections import defaultdict
from collections.abc import Iterator, Mapping
from io import BytesIO
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tooling.helm import OUR_CHARTS, build_dependencies, render  # noqa: E402
from tooling.paths import BITNAMI_STANDIN, CHARTS_DIR  # noqa: E402
from tooling.stacks import STACKS, run_stack  # noqa: E402

NEW_VALUES = ("secretChecksums",)
# What a plain-Helm operator passes at install time (the values files carry no credentials).
OPERATOR_VALUES: dict[str, dict[str, Any]] = {
    "fluxiondb": {"secret": {"secretKey": "operator-api-key"}},
    "core-pipeline": {"secret": {"data": {"POSTGRES_PASSWORD": "operator-password"}}},
    "api-gateway": {"secrets": {"keycloakClientSecret": "operator-secret"}},
    "order-command-service": {"secrets": {"keycloakClientSecret": "operator-secret", "postgresPassword": "operator"}},
    "order-query-service": {
        "secrets": {"keycloakClientSecret": "operator-secret", "elasticsearchPassword": "operator"}
    },
}
CHART = "kubernetes:helm.sh/v4:Chart"


def extract_charts(commit: str, into: Path) -> Path:
    """`charts/` as of `commit`, written under `into` (git archive: no checkout, no worktree)."""
    archive = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "archive", "--format=tar", commit, "charts"], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "charts"


def chart_releases(stack: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(chart name, Chart inputs) for every release of our charts the stack registers."""
    run = run_stack(stack, {"postgresChart": {"path": str(BITNAMI_STANDIN)}})
    for resource in run.resources:
        if resource.type == CHART and Path(resource.inputs["chart"]).name in OUR_CHARTS:
            yield Path(resource.inputs["chart"]).name, resource.inputs


def values_file_releases(chart: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(label, Chart-like inputs) for a plain-Helm install of `chart` with each of its values files."""
    files = sorted((CHARTS_DIR / chart).glob("values-*.yaml")) + sorted((CHARTS_DIR / chart / "ci").glob("*.yaml"))
    for path in files:
        yield (
            path.relative_to(CHARTS_DIR / chart).as_posix(),
            {
                "name": chart,
                "namespace": "default",
                "values": OPERATOR_VALUES.get(chart, {}),
                "valuesFile": path.relative_to(CHARTS_DIR).as_posix(),
            },
        )


def objects(chart_dir: Path, inputs: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    namespace = inputs.get("namespace") or "default"
    values_files = [chart_dir.parent / inputs["valuesFile"]] if "valuesFile" in inputs else []
    rendered = render(
        chart_dir, values, values_files=values_files, release=inputs["name"], namespace=namespace, validate=False
    )
    found = {}
    for obj in rendered:
        metadata = obj.setdefault("metadata", {})
        found[f"{obj['kind']}/{metadata.get('namespace', namespace)}/{metadata['name']}"] = obj
    return found


def differences(old: Any, new: Any, path: str = "") -> Iterator[tuple[str, Any, Any]]:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            yield from differences(old.get(key, "<absent>"), new.get(key, "<absent>"), f"{path}.{key}")
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for index, (o, n) in enumerate(zip(old, new, strict=True)):
            yield from differences(o, n, f"{path}[{index}]")
    elif old != new:
        yield path, old, new


def frozen_parts(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The parts a deployed stack must never see change."""
    spec = obj.get("spec") or {}
    kind = obj["kind"]
    if kind == "PersistentVolumeClaim":
        return {"object": obj}
    parts: dict[str, Any] = {}
    if kind in ("Deployment", "StatefulSet"):
        parts["spec.selector"] = spec.get("selector")
    if kind == "StatefulSet":
        parts["spec.serviceName"] = spec.get("serviceName")
        parts["spec.volumeClaimTemplates"] = spec.get("volumeClaimTemplates")
    if kind == "Service":
        parts["spec.selector"] = spec.get("selector")
    return parts


def classify(path: str) -> str:
    if ".labels." in path or path.endswith(".labels"):
        return "label"
    if ".annotations." in path or path.endswith(".annotations"):
        return "annotation"
    return "other"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="99dbcb3")
    parser.add_argument("--stack", action="append", choices=STACKS)
    parser.add_argument("--values-files", action="store_true", help="also compare plain-Helm installs")
    parser.add_argument("--with-new-values", action="store_true", help="keep secretChecksums in the new render")
    args = parser.parse_args()
    refused: list[str] = []
    changes: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    counted = 0
    with tempfile.TemporaryDirectory() as tmp:
        old_charts = extract_charts(args.base, Path(tmp))
        for where in (old_charts, CHARTS_DIR):
            build_dependencies(where)
        releases = [(stack, chart, inputs) for stack in args.stack or STACKS for chart, inputs in chart_releases(stack)]
        if args.values_files:
            releases += [
                (label, chart, inputs) for chart in OUR_CHARTS for label, inputs in values_file_releases(chart)
            ]
        for stack, chart, inputs in releases:
            values = dict(inputs.get("values") or {})
            old_values = {k: v for k, v in values.items() if k not in NEW_VALUES}
            before = objects(old_charts / chart, inputs, old_values)
            after = objects(CHARTS_DIR / chart, inputs, values if args.with_new_values else old_values)
            counted += len(after)
            for ident in sorted(set(before) ^ set(after)):
                refused.append(f"{stack} {chart}: {ident} {'added' if ident in after else 'removed'}")
            for ident in sorted(set(before) & set(after)):
                old_frozen, new_frozen = frozen_parts(before[ident]), frozen_parts(after[ident])
                for part in old_frozen:
                    if old_frozen[part] != new_frozen.get(part):
                        refused.append(f"{stack} {chart}: {ident} {part} changed")
                for path, o, n in differences(before[ident], after[ident]):
                    kind = ident.split("/", 1)[0]
                    changes[(classify(path), f"{chart} {kind}{path}", f"{o!r} -> {n!r}")].add(stack)
    print(
        f"compared {counted} objects of {len(OUR_CHARTS)} charts, stacks: {', '.join(args.stack or STACKS)}"
        + (" and every values file" if args.values_files else "")
    )
    for category in ("other", "annotation", "label"):
        rows = sorted((where, change, stacks) for (cat, where, change), stacks in changes.items() if cat == category)
        print(f"\n{category} changes: {len(rows)}")
        for where, change, stacks in rows:
            print(f"  {where}: {change}  [{', '.join(sorted(stacks))}]")
    print(f"\nrefused: {len(refused)}")
    for line in refused:
        print(f"  {line}")
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
