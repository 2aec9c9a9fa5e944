"""Drift: what the cluster holds that the stack's state does not, found without changing either.

`python -m tooling.drift STACK` (what `make drift STACK=...` and `.github/workflows/drift.yml` run) runs
`pulumi refresh --preview-only --expect-no-changes --json` on the stack: the engine reads every object from
the cluster and compares it with the state, and `--preview-only` throws the result away, so neither the
state nor the cluster changes. The steps it proposes are the drift: an `update` names the fields
(`detailedDiff`) whose live value differs from the recorded one, a `delete` an object that is gone from
the cluster. This module turns them into a report (object, field, before -> after), drops the drift that
is expected (`EXPECTED_DRIFT`: fields that controllers own, defined here once and listed in
docs/reading-previews.md), and exits 1 when anything else is left.

With server-side apply the provider refreshes only the fields Pulumi applied, so fields other managers
own (an HPA's `spec.replicas` when the chart leaves it out, a key `kubectl edit` added) never show up in
the first place; `EXPECTED_DRIFT` covers what does reach the diff anyway (status, API-server bookkeeping,
fields the server defaulted, replicas a chart sets under an HPA, certificates cert-manager issues).

Exit codes: 0 no drift (expected drift only), 1 drift, 2 the check itself failed. Values of Secrets are
never printed (the report is posted as an artifact and an issue comment).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The key Pulumi puts in a serialized secret value (also in JSON previews).
SECRET_SIGNATURE = "4dabf18193072939515e22adb298388d"
SECRET_TYPES = ("kubernetes:core/v1:Secret",)
WORKLOAD_TYPES = ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet")
HPA_PREFIX = "kubernetes:autoscaling/"
CERT_MANAGER_ANNOTATION = "cert-manager.io/certificate-name"
# Steps of a refresh preview that mean "the cluster differs": anything but the refresh of an unchanged object.
UNCHANGED_OPS = ("refresh", "same", "read")
VALUE_WIDTH = 100


# -- paths ----------------------------------------------------------------------------------------------
_TOKEN = re.compile(r'\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]|\.?([^.\[\]]+)')


def parse_path(path: str) -> list[str | int]:
    """A Pulumi property path (`spec.template.spec.containers[0].image`, `data["a.sh"]`) as its parts."""
    parts: list[str | int] = []
    for index, quoted, name in _TOKEN.findall(path):
        if index:
            parts.append(int(index))
        elif quoted or name == "":
            parts.append(json.loads(f'"{quoted}"'))
        else:
            parts.append(name)
    return parts


_MISSING = object()


def lookup(value: Any, parts: Sequence[str | int]) -> Any:
    for part in parts:
        in_list = isinstance(part, int) and isinstance(value, list) and part < len(value)
        in_map = isinstance(part, str) and isinstance(value, dict) and part in value
        if not (in_list or in_map):
            return _MISSING
        value = value[part]
    return value


# -- steps ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    """One step of `pulumi refresh --preview-only --json`."""

    raw: Mapping[str, Any]

    @property
    def op(self) -> str:
        return self.raw["op"]

    @property
    def urn(self) -> str:
        return self.raw["urn"]

    @property
    def type(self) -> str:
        return (self.old or self.new or {}).get("type") or self.urn.split("::")[2].rsplit("$", 1)[-1]

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]

    @property
    def old(self) -> Mapping[str, Any] | None:
        return self.raw.get("oldState")

    @property
    def new(self) -> Mapping[str, Any] | None:
        return self.raw.get("newState")

    @property
    def kind(self) -> str:
        return self.type.rsplit(":", 1)[-1]

    def metadata(self) -> Mapping[str, Any]:
        for state in (self.new, self.old):
            meta = ((state or {}).get("outputs") or {}).get("metadata")
            if isinstance(meta, dict):
                return meta
        return {}

    @property
    def object(self) -> str:
        """`namespace/name` of the Kubernetes object (just `name` when cluster-scoped)."""
        meta = self.metadata()
        name = meta.get("name") or self.name
        return f"{meta['namespace']}/{name}" if meta.get("namespace") else name

    @property
    def changed(self) -> bool:
        return self.op not in UNCHANGED_OPS

    def paths(self) -> list[tuple[str, str]]:
        """(path, kind) of every field the step changes: kind is add, delete, update or their -replace."""
        diff = self.raw.get("detailedDiff") or {}
        return [(path, entry.get("kind", "update")) for path, entry in diff.items()]

    def value(self, state: Mapping[str, Any] | None, path: str) -> Any:
        if not state:
            return _MISSING
        parts = parse_path(path)
        for part in ("inputs", "outputs"):
            found = lookup(state.get(part) or {}, parts)
            if found is not _MISSING:
                return found
        return _MISSING


# -- expected drift -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Context:
    """What a rule may look at besides the step: the stack's other objects."""

    hpa_targets: frozenset[tuple[str, str, str]]  # (namespace, kind, name) of every HPA's scaleTargetRef


@dataclass(frozen=True)
class ExpectedDrift:
    """A field that changes in the cluster by design, who changes it and why it is not drift."""

    field: str  # the path, or its prefix up to a `.`/`[`
    owner: str
    why: str
    types: tuple[str, ...] = ()  # resource types it applies to; empty: every type
    when: Callable[[Step, str, Context], bool] | None = field(default=None, compare=False)

    def matches(self, step: Step, path: str, diff_kind: str, context: Context) -> bool:
        if self.types and step.type not in self.types:
            return False
        if not (path == self.field or path.startswith((f"{self.field}.", f"{self.field}["))):
            return False
        return self.when is None or self.when(step, diff_kind, context)


def _under_hpa(step: Step, _kind: str, context: Context) -> bool:
    meta = step.metadata()
    return (meta.get("namespace", ""), step.kind, meta.get("name", "")) in context.hpa_targets


def _issued_by_cert_manager(step: Step, _kind: str, _context: Context) -> bool:
    return CERT_MANAGER_ANNOTATION in (step.metadata().get("annotations") or {})


def _defaulted(_step: Step, kind: str, _context: Context) -> bool:
    """The field was absent from the state and the API server filled in its default."""
    return kind.startswith("add")


_BOOKKEEPING = ("resourceVersion", "generation", "uid", "creationTimestamp", "managedFields", "selfLink")
_DEFAULTED = (
    "spec.progressDeadlineSeconds",
    "spec.revisionHistoryLimit",
    "spec.strategy",
    "spec.updateStrategy",
    "spec.podManagementPolicy",
    "spec.persistentVolumeClaimRetentionPolicy",
    "spec.template.spec.dnsPolicy",
    "spec.template.spec.restartPolicy",
    "spec.template.spec.schedulerName",
    "spec.template.spec.terminationGracePeriodSeconds",
    "spec.sessionAffinity",
    "spec.internalTrafficPolicy",
    "spec.ipFamilies",
    "spec.ipFamilyPolicy",
    "spec.clusterIP",
    "spec.clusterIPs",
)

# The one definition of expected drift (docs/reading-previews.md, "Drift" lists the same).
EXPECTED_DRIFT: tuple[ExpectedDrift, ...] = (
    ExpectedDrift("status", "the object's controllers", "status is observed state, written by controllers"),
    *(
        ExpectedDrift(f"metadata.{name}", "the API server", "bookkeeping the API server keeps on every object")
        for name in _BOOKKEEPING
    ),
    ExpectedDrift(
        'metadata.annotations["deployment.kubernetes.io/revision"]',
        "the Deployment controller",
        "counts the Deployment's rollouts",
    ),
    ExpectedDrift(
        "spec.replicas",
        "the HorizontalPodAutoscaler",
        "an HPA of the stack targets this workload and scales it between its minReplicas and maxReplicas",
        WORKLOAD_TYPES,
        _under_hpa,
    ),
    *(
        ExpectedDrift(
            path, "the API server", "a default the server filled in where the chart set nothing", when=_defaulted
        )
        for path in _DEFAULTED
    ),
    *(
        ExpectedDrift(
            path,
            "cert-manager",
            "cert-manager issues and renews this certificate's Secret",
            SECRET_TYPES,
            _issued_by_cert_manager,
        )
        for path in ("data", "metadata.annotations", "metadata.labels")
    ),
)


def context_of(steps: Iterable[Step]) -> Context:
    targets = set()
    for step in steps:
        if not step.type.startswith(HPA_PREFIX) or not step.type.endswith(":HorizontalPodAutoscaler"):
            continue
        outputs = (step.new or step.old or {}).get("outputs") or {}
        ref = (outputs.get("spec") or {}).get("scaleTargetRef") or {}
        namespace = (outputs.get("metadata") or {}).get("namespace", "")
        if ref.get("name"):
            targets.add((namespace, ref.get("kind", ""), ref["name"]))
    return Context(frozenset(targets))


def expected(step: Step, path: str, diff_kind: str, context: Context) -> ExpectedDrift | None:
    return next((rule for rule in EXPECTED_DRIFT if rule.matches(step, path, diff_kind, context)), None)


# -- the report -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FieldDrift:
    path: str
    kind: str
    before: str  # what the state records
    after: str  # what the cluster holds
    expected_by: ExpectedDrift | None = None


@dataclass(frozen=True)
class ObjectDrift:
    op: str  # update: fields differ; delete: the object is gone from the cluster
    urn: str
    type: str
    kind: str
    object: str
    resource: str
    fields: tuple[FieldDrift, ...]

    @property
    def unexpected(self) -> tuple[FieldDrift, ...]:
        return tuple(f for f in self.fields if f.expected_by is None)

    @property
    def is_drift(self) -> bool:
        return self.op != "update" or not self.fields or bool(self.unexpected)


@dataclass(frozen=True)
class Report:
    stack: str
    objects: tuple[ObjectDrift, ...]
    unchanged: int

    @property
    def drifted(self) -> tuple[ObjectDrift, ...]:
        return tuple(o for o in self.objects if o.is_drift)

    @property
    def ignored(self) -> tuple[ObjectDrift, ...]:
        return tuple(o for o in self.objects if not o.is_drift)


def show(value: Any, secret: bool = False) -> str:
    if value is _MISSING:
        return "(absent)"
    if secret or (isinstance(value, dict) and SECRET_SIGNATURE in value) or value == "[secret]":
        return "[secret]"
    text = json.dumps(value, sort_keys=True, ensure_ascii=False) if not isinstance(value, str) else value
    if isinstance(value, str):
        first, *rest = text.splitlines() or [""]
        text = json.dumps(first + (" …" if rest else ""), ensure_ascii=False)
    return text if len(text) <= VALUE_WIDTH else text[: VALUE_WIDTH - 1] + "…"


def _secret_path(step: Step, path: str) -> bool:
    return step.type in SECRET_TYPES and path.startswith(("data", "stringData"))


def build_report(stack: str, preview: Mapping[str, Any]) -> Report:
    """The drift in a `pulumi refresh --preview-only --json` result."""
    steps = [Step(raw) for raw in preview.get("steps") or []]
    context = context_of(steps)
    objects = []
    for step in steps:
        if not step.changed:
            continue
        fields = tuple(
            FieldDrift(
                path,
                kind,
                show(step.value(step.old, path), _secret_path(step, path)),
                show(step.value(step.new, path), _secret_path(step, path)) if step.new else "(object deleted)",
                expected(step, path, kind, context),
            )
            for path, kind in sorted(step.paths())
        )
        objects.append(ObjectDrift(step.op, step.urn, step.type, step.kind, step.object, step.name, fields))
    return Report(stack, tuple(objects), sum(1 for s in steps if not s.changed))


def _object_lines(obj: ObjectDrift, fields: Iterable[FieldDrift]) -> list[str]:
    symbol = {"update": "~", "delete": "-"}.get(obj.op, obj.op)
    lines = [f"{symbol} {obj.kind} {obj.object}  ({obj.resource})"]
    if obj.op == "delete":
        lines.append("    deleted from the cluster; the state still records it")
    elif not obj.fields:
        lines.append(f"    {obj.op}: the engine names no field")
    for f in fields:
        note = f"  [expected: {f.expected_by.owner}]" if f.expected_by else ""
        lines.append(f"    {f.path}: {f.before} (state) -> {f.after} (cluster){note}")
    return lines


def format_report(report: Report, show_expected: bool = False) -> str:
    drifted, ignored = report.drifted, report.ignored
    head = (
        f"Drift in stack {report.stack}: {len(drifted)} object(s) differ from the state"
        if drifted
        else f"No drift in stack {report.stack}: the cluster matches the state"
    )
    lines = [f"{head} ({report.unchanged} unchanged, {len(ignored)} with expected drift only)."]
    for obj in drifted:
        lines += ["", *_object_lines(obj, obj.fields if show_expected else obj.unexpected)]
    if show_expected and ignored:
        lines += ["", "Expected drift (ignored, see docs/reading-previews.md):"]
        for obj in ignored:
            lines += _object_lines(obj, obj.fields)
    if drifted:
        lines += [
            "",
            "Nothing was changed (pulumi refresh --preview-only). To undo the drift or to keep it, see",
            'docs/reading-previews.md, "Drift".',
        ]
    return "\n".join(lines) + "\n"


def report_json(report: Report) -> dict[str, Any]:
    def obj(o: ObjectDrift) -> dict[str, Any]:
        return {
            "op": o.op,
            "urn": o.urn,
            "kind": o.kind,
            "object": o.object,
            "fields": [
                {
                    "path": f.path,
                    "before": f.before,
                    "after": f.after,
                    "expectedBy": f.expected_by.owner if f.expected_by else None,
                }
                for f in o.fields
            ],
        }

    return {
        "stack": report.stack,
        "drift": bool(report.drifted),
        "drifted": [obj(o) for o in report.drifted],
        "expected": [obj(o) for o in report.ignored],
        "unchanged": report.unchanged,
    }


# -- running it -----------------------------------------------------------------------------------------
class DriftCheckFailed(RuntimeError):
    pass


def refresh_preview(stack: str, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """`pulumi refresh --preview-only --expect-no-changes --json`: the engine exits non-zero on any change
    (expected or not) and still prints the steps, which are what this module reads."""
    command = ["pulumi", "refresh", "--preview-only", "--expect-no-changes", "--json"]
    command += ["--stack", stack, "--non-interactive"]
    proc = subprocess.run(
        command, cwd=cwd, env=dict(env or os.environ), capture_output=True, text=True, check=False, timeout=1800
    )
    try:
        result = json.loads(proc.stdout)
    except json.JSONDecodeError:
        result = None
    if not isinstance(result, dict) or "steps" not in result:
        raise DriftCheckFailed(f"`{' '.join(command)}` failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tooling.drift", description=__doc__.split("\n\n")[0])
    parser.add_argument("stack")
    parser.add_argument("--cwd", type=Path, help="the Pulumi project (default: the current folder)")
    parser.add_argument("--from-json", type=Path, help="read a recorded `pulumi refresh --preview-only --json`")
    parser.add_argument("--save-json", type=Path, help="also write the raw refresh preview here")
    parser.add_argument("--report-json", type=Path, help="write the report as JSON here")
    parser.add_argument("--report-text", type=Path, help="write the printed report here too")
    parser.add_argument("--show-expected", action="store_true", help="also list the expected drift that is ignored")
    args = parser.parse_args(argv)
    try:
        preview = json.loads(args.from_json.read_text()) if args.from_json else refresh_preview(args.stack, args.cwd)
    except (DriftCheckFailed, OSError, json.JSONDecodeError) as error:
        print(f"drift check of {args.stack} failed: {error}", file=sys.stderr)
        return 2
    if args.save_json:
        args.save_json.write_text(json.dumps(preview, indent=1))
    report = build_report(args.stack, preview)
    text = format_report(report, show_expected=args.show_expected)
    print(text, end="")
    if args.report_text:
        args.report_text.write_text(text)
    if args.report_json:
        args.report_json.write_text(json.dumps(report_json(report), indent=1) + "\n")
    return 1 if report.drifted else 0


if __name__ == "__main__":
    sys.exit(main())
