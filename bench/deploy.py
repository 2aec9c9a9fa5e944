"""Deploy steps side by side (issue 20): plain Helm, Helmfile and our Pulumi program on the same charts, the same
values and one local cluster, with the Pulumi engine's own floor at the same resource count.

Each tool does the same three deploy steps, each repeat from a clean cluster: a fresh install of the prod stack's
releases, a no-op re-apply, then one value changed (the orders cluster's `readReplicaCount` + 1); then everything
is removed (not timed). Previews where the tool has one: `helm upgrade --install --dry-run=server` of every
release, `pulumi preview` cold (before the first `up`) and warm (after it). The engine floor is a generated
program registering as many `random.RandomString`s as our prod `up` counts resources, timed the same way.

The cluster is the `bench` instance of tooling.local_cluster (`.local-cluster-bench/`, ports two
LOCAL_TEST_PORT_OFFSETs above make up's), started fresh and stopped at the end, also on error: neither make up's
cluster nor the test tiers' is touched. Writes docs/benchmarks-comparison.md and .png (after every repeat, so an
interrupted run still leaves its figures).

    source scripts/pulumi-env.sh && .venv/bin/python -m bench.deploy --repeats 3
"""

from __future__ import annotations

import argparse
import datetime
import signal
import subprocess
import tempfile
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.comparison import (
    HELMFILE,
    NEEDS,
    Measured,
    Sample,
    children_cpu_s,
    ensure_helmfile,
    helmfile_document,
    tool_env,
    write_values,
)
from bench.run import (
    ChartRender,
    Run,
    baseline_program,
    load,
    log,
    machine,
    prod_chart_renders,
    pulumi_cmd,
    resource_count,
    timed,
)
from platform_config import load_platform_config
from tooling.engine import ProgramCopy, ScratchStack
from tooling.helm import build_dependencies, helm_binary
from tooling.local_cluster import LocalCluster, instance
from tooling.paths import BITNAMI_STANDIN, REPO_ROOT, TOOLS_BIN
from tooling.stackfiles import deep_merge
from tooling.stackfiles import stack_config as committed_stack_config
from tooling.stacks import stack_config as stack_config_with_secrets

DOCS = REPO_ROOT / "docs"
KUBECTL = TOOLS_BIN / "kubectl"
BENCH_INSTANCE = "bench"
CHANGED_CLUSTER = "orders"  # its readReplicaCount is the one value the third step changes
STEP_TIMEOUT_S = 1200
WAIT_TIMEOUT = "15m"

# The steps, in the order the report and the plot show them.
PREVIEW_COLD, PREVIEW_WARM = "preview, cold (nothing deployed)", "preview, warm (no-op)"
FRESH, NOOP, CHANGE = "deploy: fresh install", "deploy: no-op re-apply", "deploy: readReplicaCount + 1"
STEPS = (PREVIEW_COLD, PREVIEW_WARM, FRESH, NOOP, CHANGE)

HELM, HELMFILE_WAIT, HELMFILE_NOWAIT = "helm", "helmfile sync --wait", "helmfile sync (no wait)"
PULUMI, FLOOR = "pulumi (our program)", "engine floor (RandomStrings)"
TOOLS = (HELM, HELMFILE_WAIT, HELMFILE_NOWAIT, PULUMI, FLOOR)

# What a tool cannot do here, instead of a number.
NOT_APPLICABLE = {
    (HELMFILE_WAIT, PREVIEW_COLD): "`helmfile diff` needs the helm-diff plugin, which no registry here serves",
    (HELMFILE_WAIT, PREVIEW_WARM): "`helmfile diff` needs the helm-diff plugin, which no registry here serves",
    (HELMFILE_NOWAIT, PREVIEW_COLD): "as above (helm-diff)",
    (HELMFILE_NOWAIT, PREVIEW_WARM): "as above (helm-diff)",
    (FLOOR, CHANGE): "no chart value to change: the floor has no program of ours",
}

# The goals of issue 20.
MAX_FRESH_VS_HELMFILE = 1.5
MAX_ABOVE_FLOOR = 1.2


# ------------------------------------------------------------------------------------------------ inputs


# Why the example tenants' FluxionDB releases are left out (bench/run.py's floor prices them from the examples).
NO_TENANTS = (
    "The committed platform stack deploys no FluxionDB tenant (tenants have stacks of their own), so neither does "
    "this comparison: and the fluxiondb chart mounts a claim its component creates outside the chart "
    "(`persistence.existingClaim`), so a plain `helm install --wait` of it waits for a pod that cannot schedule."
)


def scaled_down_prod(stack: str) -> dict[str, Any]:
    """The committed stack's config scaled down exactly as the cluster tier's prod-shaped stack is (two kwok
    nodes hold it); the Bitnami chart is its stand-in."""
    from tests.cluster.test_prod_shaped import scaled_down  # the cluster tier's own scale-down, kept in step

    config = committed_stack_config(stack)
    return deep_merge(scaled_down(config), {"postgresChart": {"path": str(BITNAMI_STANDIN)}})


def with_read_replica_bump(overrides: Mapping[str, Any], stack: str) -> dict[str, Any]:
    current = deep_merge(committed_stack_config(stack), overrides)["postgresClusters"][CHANGED_CLUSTER]
    bump = {"postgresClusters": {CHANGED_CLUSTER: {"readReplicaCount": current.get("readReplicaCount", 0) + 1}}}
    return deep_merge(overrides, bump)


def chart_renders(stack: str, overrides: Mapping[str, Any]) -> list[ChartRender]:
    """The releases our program deploys for these overrides, with the values its components pass."""
    return prod_chart_renders(load_platform_config(deep_merge(stack_config_with_secrets(stack), overrides)))


def needs(release: str) -> list[str]:
    """What RELEASE waits for (comparison.NEEDS, our components' dependencies)."""
    return NEEDS.get(release, [])


def install_order(renders: Sequence[ChartRender]) -> list[ChartRender]:
    """The renders with every release after the ones it NEEDS (otherwise in the given order)."""
    by_key = {f"{r.namespace}/{r.release}": r for r in renders}
    ordered: list[ChartRender] = []

    def visit(render: ChartRender, path: tuple[str, ...]) -> None:
        key = f"{render.namespace}/{render.release}"
        if render in ordered:
            return
        if key in path:
            raise ValueError(f"a cycle in NEEDS: {' -> '.join((*path, key))}")
        for needed in needs(render.release):
            if needed in by_key:
                visit(by_key[needed], (*path, key))
        ordered.append(render)

    for render in renders:
        visit(render, ())
    return ordered


def sync_document(renders: Sequence[ChartRender], values: dict[str, Path], wait: bool) -> dict[str, Any]:
    """comparison.py's helmfile.yaml with the wait spelled out: with it, helm waits for every release's
    workloads to be ready (and jobs to finish) as `pulumi up` does; without, it returns once applied."""
    document = helmfile_document(renders, values)
    for release in document["releases"]:
        if needs(release["name"]):
            release["needs"] = needs(release["name"])
    defaults = {"wait": wait, "waitForJobs": wait, "createNamespace": True}
    if wait:
        defaults["timeout"] = 900
    return {"helmDefaults": defaults, **document}


def floor_program_source(resources: int) -> str:
    """A program whose `up` summary counts RESOURCES: the Stack plus RESOURCES - 1 trivial RandomStrings."""
    return (
        "import pulumi_random as random\n"
        "\n"
        f"for index in range({max(resources - 1, 0)}):\n"
        '    random.RandomString(f"trivial-{index}", length=8, special=False)\n'
    )


# ----------------------------------------------------------------------------------------------- measuring


class StepFailed(RuntimeError):
    pass


def measured(steps: Sequence[Callable[[], Run]]) -> tuple[Sample, list[Run]]:
    """Run the steps in sequence (one tool's whole step); wall and CPU summed, peak RSS the largest."""
    cpu_before = children_cpu_s()
    runs = []
    for step in steps:
        run = step()
        runs.append(run)
        if run.returncode != 0:
            raise StepFailed(f"exit {run.returncode}: {run.output.strip()[-1500:]}")
    sample = Sample(
        sum(r.seconds for r in runs), children_cpu_s() - cpu_before, max(r.peak_rss_bytes for r in runs) / 2**20
    )
    return sample, runs


@dataclass
class Results:
    started: datetime.datetime
    stack: str
    load_before: str
    rows: dict[tuple[str, str], Measured] = field(default_factory=dict)  # (tool, step)
    failures: dict[tuple[str, str], str] = field(default_factory=dict)
    resources: dict[str, int] = field(default_factory=dict)  # who -> the resource count of its up summary
    releases: int = 0
    repeats_done: int = 0
    notes: list[str] = field(default_factory=list)
    load_after: str = ""

    def add(self, tool: str, step: str, sample: Sample) -> None:
        self.rows.setdefault((tool, step), Measured(f"{tool}: {step}")).samples.append(sample)

    def median(self, tool: str, step: str) -> float | None:
        row = self.rows.get((tool, step))
        return row.median("seconds") if row and row.samples else None


class Cluster:
    """kubectl on the bench cluster, for the teardown between repeats."""

    def __init__(self, kubeconfig: Path) -> None:
        self.kubeconfig = kubeconfig

    def kubectl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(KUBECTL), "--kubeconfig", str(self.kubeconfig), *args],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

    def replicas(self, namespace: str, statefulset: str) -> int | None:
        got = self.kubectl("get", "statefulset", statefulset, "-n", namespace, "-o", "jsonpath={.spec.replicas}")
        return int(got.stdout) if got.returncode == 0 and got.stdout.strip() else None

    def namespaces(self) -> list[str]:
        got = self.kubectl("get", "namespaces", "-o", "jsonpath={.items[*].metadata.name}")
        return got.stdout.split() if got.returncode == 0 else []

    def delete_namespaces(self, namespaces: Sequence[str]) -> None:
        present = [ns for ns in namespaces if self.kubectl("get", "namespace", ns).returncode == 0]
        if present:
            deleted = self.kubectl("delete", "namespace", *present, "--wait=true", "--timeout=300s")
            if deleted.returncode != 0:
                raise RuntimeError(f"deleting namespaces {present} failed: {deleted.stderr}")


class Bench:
    def __init__(self, stack: str, kubeconfig: Path, scratch: Path, results: Results) -> None:
        self.stack = stack
        self.kubeconfig = kubeconfig
        self.scratch = scratch
        self.results = results
        self.cluster = Cluster(kubeconfig)
        self.overrides = scaled_down_prod(stack)
        self.changed_overrides = with_read_replica_bump(self.overrides, stack)
        self.renders = install_order(chart_renders(stack, self.overrides))
        changed = {r.label: r for r in chart_renders(stack, self.changed_overrides)}
        self.changed_renders = [changed[r.label] for r in self.renders]
        self.namespaces = sorted({r.namespace for r in self.renders})
        results.releases = len(self.renders)
        self.env = {**tool_env(), "KUBECONFIG": str(kubeconfig)}
        self.values = write_values(self.renders, self._dir("values"))
        self.changed_values = write_values(self.changed_renders, self._dir("values-changed"))
        self.program = ProgramCopy(self._dir("program"), extra_env={"KUBECONFIG": str(kubeconfig)})

    def _dir(self, name: str) -> Path:
        path = self.scratch / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def check_change(self, tool: str) -> None:
        """After the change step (not timed): did the read pool really grow? A tool that reported success without
        applying it would otherwise look fast."""
        wanted = self.changed_overrides["postgresClusters"][CHANGED_CLUSTER]["readReplicaCount"]
        found = self.cluster.replicas("postgres", f"{CHANGED_CLUSTER}-postgresql-read")
        if found != wanted:
            note = f"{tool}: after the change step the read pool has {found} replicas, not {wanted}"
            log(f"  {note}")
            if note not in self.results.notes:
                self.results.notes.append(note)

    def record(self, tool: str, step: str, steps: Sequence[Callable[[], Run]]) -> list[Run]:
        try:
            sample, runs = measured(steps)
        except StepFailed as failed:
            self.results.failures.setdefault((tool, step), str(failed))
            raise
        self.results.add(tool, step, sample)
        log(f"  {tool} / {step}: {sample.seconds:.2f}s wall, {sample.cpu_s:.2f}s CPU, {sample.peak_rss_mib:.0f} MiB")
        return runs

    # -- helm
    def helm_upgrade(self, render: ChartRender, values: dict[str, Path], *mode: str) -> Callable[[], Run]:
        command = [
            str(helm_binary()),
            *("upgrade", "--install", render.release, str(render.chart)),
            *("--namespace", render.namespace, "--create-namespace", "--values", str(values[render.label])),
            *("--kubeconfig", str(self.kubeconfig)),
            *mode,
        ]
        return lambda: timed(command, self.scratch, self.env, timeout=STEP_TIMEOUT_S)

    def helm_objects(self) -> int:
        """How many Kubernetes objects the installed releases hold (not timed)."""
        count = 0
        for render in self.renders:
            manifest = subprocess.run(
                [str(helm_binary()), "get", "manifest", render.release, "-n", render.namespace],
                env=self.env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            count += sum(1 for document in yaml.safe_load_all(manifest) if document)
        return count

    def helm(self) -> None:
        wait = ("--wait", "--wait-for-jobs", "--timeout", WAIT_TIMEOUT)
        dry_run = ("--dry-run=server",)
        try:
            self.record(HELM, PREVIEW_COLD, [self.helm_upgrade(r, self.values, *dry_run) for r in self.renders])
            self.record(HELM, FRESH, [self.helm_upgrade(r, self.values, *wait) for r in self.renders])
            self.results.resources[f"{HELM}, objects in the releases' manifests"] = self.helm_objects()
            self.record(HELM, PREVIEW_WARM, [self.helm_upgrade(r, self.values, *dry_run) for r in self.renders])
            self.record(HELM, NOOP, [self.helm_upgrade(r, self.values, *wait) for r in self.renders])
            changed = [self.helm_upgrade(r, self.changed_values, *wait) for r in self.changed_renders]
            self.record(HELM, CHANGE, changed)
            self.check_change(HELM)
        finally:
            for render in reversed(self.renders):
                subprocess.run(
                    [str(helm_binary()), "uninstall", render.release, "-n", render.namespace, "--wait"],
                    env=self.env,
                    capture_output=True,
                    check=False,
                )
            self.cluster.delete_namespaces(self.namespaces)

    # -- helmfile
    def helmfile(self, wait: bool) -> None:
        tool = HELMFILE_WAIT if wait else HELMFILE_NOWAIT
        files = {}
        for name, values in (("fresh", self.values), ("changed", self.changed_values)):
            files[name] = self.scratch / f"helmfile-{name}-{'wait' if wait else 'nowait'}.yaml"
            files[name].write_text(yaml.safe_dump(sync_document(self.renders, values, wait), sort_keys=False))

        def sync(name: str) -> Callable[[], Run]:
            command = [str(HELMFILE), "--file", str(files[name]), "sync", *(("--wait",) if wait else ())]
            return lambda: timed(command, self.scratch, self.env, timeout=STEP_TIMEOUT_S)

        try:
            self.record(tool, FRESH, [sync("fresh")])
            self.record(tool, NOOP, [sync("fresh")])
            self.record(tool, CHANGE, [sync("changed")])
            self.check_change(tool)
        finally:
            subprocess.run(
                [str(HELMFILE), "--file", str(files["fresh"]), "destroy"],
                cwd=self.scratch,
                env=self.env,
                capture_output=True,
                check=False,
            )
            self.cluster.delete_namespaces(self.namespaces)

    # -- pulumi
    def pulumi(self, stack: ScratchStack, *args: str) -> Callable[[], Run]:
        command = pulumi_cmd(*args, "--stack", stack.name)
        return lambda: timed(command, self.program.root, self.program.env, timeout=STEP_TIMEOUT_S)

    def ours(self, repeat: int) -> None:
        stack = self.program.stack(f"bench-{self.stack}-{repeat}", self.stack, overrides=self.overrides, render=False)
        up = ("up", "--yes", "--skip-preview")
        try:
            self.record(PULUMI, PREVIEW_COLD, [self.pulumi(stack, "preview")])
            self.record(PULUMI, FRESH, [self.pulumi(stack, *up)])
            self.record(PULUMI, PREVIEW_WARM, [self.pulumi(stack, "preview")])
            noop = self.record(PULUMI, NOOP, [self.pulumi(stack, *up)])
            self.results.resources[f"{PULUMI}, its `up` summary"] = resource_count(noop[-1].output)
            stack.update_config(self.changed_overrides)
            self.record(PULUMI, CHANGE, [self.pulumi(stack, *up)])
            self.check_change(PULUMI)
        finally:
            destroyed = stack.destroy()
            if destroyed.returncode != 0:
                log(f"  pulumi destroy failed ({destroyed.returncode}): {destroyed.output.strip()[-800:]}")
            stack.remove()
            self.cluster.delete_namespaces(self.namespaces)

    def floor(self, repeat: int, resources: int) -> None:
        root, env = baseline_program(self.scratch / f"floor-{repeat}", floor_program_source(resources))

        def pulumi(*args: str) -> Callable[[], Run]:
            return lambda: timed(pulumi_cmd(*args, "--stack", "floor"), root, env, timeout=STEP_TIMEOUT_S)

        up = ("up", "--yes", "--skip-preview")
        subprocess.run(pulumi_cmd("stack", "init", "floor"), cwd=root, env=env, capture_output=True, check=True)
        try:
            self.record(FLOOR, PREVIEW_COLD, [pulumi("preview")])
            self.record(FLOOR, FRESH, [pulumi(*up)])
            self.record(FLOOR, PREVIEW_WARM, [pulumi("preview")])
            noop = self.record(FLOOR, NOOP, [pulumi(*up)])
            self.results.resources[f"{FLOOR}, its `up` summary"] = resource_count(noop[-1].output)
        finally:
            destroy = pulumi_cmd("destroy", "--yes", "--skip-preview", "--stack", "floor")
            subprocess.run(destroy, cwd=root, env=env, capture_output=True, check=False)

    def repeat(self, index: int, tools: Sequence[str]) -> None:
        for tool in tools:
            log(f"repeat {index + 1}: {tool}")
            try:
                if tool == HELM:
                    self.helm()
                elif tool in (HELMFILE_WAIT, HELMFILE_NOWAIT):
                    self.helmfile(wait=tool == HELMFILE_WAIT)
                elif tool == PULUMI:
                    self.ours(index)
                elif tool == FLOOR:
                    resources = self.results.resources.get(f"{PULUMI}, its `up` summary")
                    if resources is None:
                        self.results.failures[(FLOOR, FRESH)] = "no resource count: our prod up did not run"
                        continue
                    self.floor(index, resources)
            except (StepFailed, RuntimeError, subprocess.SubprocessError) as error:
                log(f"  {tool} failed: {str(error)[-1500:]}")
                if not any(key[0] == tool for key in self.results.failures):  # a teardown's, not a step's
                    self.results.failures[(tool, "teardown")] = str(error)[-1500:]


@contextmanager
def bench_cluster() -> Iterator[Path]:
    """The `bench` instance, fresh, stopped on the way out whatever happened."""
    cluster = LocalCluster(instance(BENCH_INSTANCE), log=lambda message: log(f"bench cluster: {message}"))
    with cluster.lock():
        kubeconfig = cluster.start(fresh=True)
    try:
        yield kubeconfig
    finally:
        with cluster.lock():
            cluster.stop()


# ------------------------------------------------------------------------------------------------- report


@dataclass
class Goal:
    text: str
    ours: float | None
    reference: float | None
    limit: float
    how: str

    @property
    def ratio(self) -> float | None:
        if self.ours is None or not self.reference:
            return None
        return self.ours / self.reference

    @property
    def verdict(self) -> str:
        if self.ratio is None:
            return "not measured"
        return "met" if self.ratio <= self.limit else "**missed**"


def goals(figures: Mapping[tuple[str, str], float | None]) -> list[Goal]:
    """Issue 20's three goals from median wall times keyed by (tool, step)."""
    return [
        Goal(
            "warm no-op prod preview ≤ Helmfile's no-op path (`helmfile sync --wait` of the unchanged releases: "
            "without helm-diff Helmfile has no cheaper no-op)",
            figures.get((PULUMI, PREVIEW_WARM)),
            figures.get((HELMFILE_WAIT, NOOP)),
            1.0,
            f"{PULUMI} {PREVIEW_WARM} / {HELMFILE_WAIT} {NOOP}",
        ),
        Goal(
            f"fresh deploy ≤ {MAX_FRESH_VS_HELMFILE:g} x `helmfile sync --wait`",
            figures.get((PULUMI, FRESH)),
            figures.get((HELMFILE_WAIT, FRESH)),
            MAX_FRESH_VS_HELMFILE,
            f"{PULUMI} {FRESH} / {HELMFILE_WAIT} {FRESH}",
        ),
        Goal(
            f"our program's share ≤ {MAX_ABOVE_FLOOR - 1:.0%} above the engine floor at the same resource count "
            "(warm preview, where neither waits on a cluster)",
            figures.get((PULUMI, PREVIEW_WARM)),
            figures.get((FLOOR, PREVIEW_WARM)),
            MAX_ABOVE_FLOOR,
            f"{PULUMI} {PREVIEW_WARM} / {FLOOR} {PREVIEW_WARM}",
        ),
    ]


def medians(results: Results) -> dict[tuple[str, str], float | None]:
    return {key: results.median(*key) for key in results.rows}


def report(results: Results, plot_name: str) -> str:
    lines = [
        "# Deploy steps side by side: Helm, Helmfile and our Pulumi program",
        "",
        "The same charts, values and local cluster for every tool (issue 20). Generated by `bench/deploy.py`",
        "(bench/README.md explains each figure); do not edit by hand.",
        "",
        f"- Run: {results.started:%Y-%m-%d %H:%M} UTC, {results.repeats_done} repeat(s); each figure is the median,"
        " the range in brackets. Peak memory is the largest summed RSS of the tool's process tree.",
        f"- Load average (1/5/15 min) before: {results.load_before}; after: {results.load_after}. Two shared cores:",
        "  compare figures of one run, not across runs.",
        f"- Stack: `{results.stack}`, scaled down as the cluster tier's prod-shaped stack"
        f" is; {results.releases} Helm releases; the Bitnami chart is its stand-in.",
        "- Cluster: the `bench` local cluster (real kube-apiserver and etcd, kwok nodes and pods), fresh at the start.",
    ]
    lines += [f"- Resources, {who}: {count}" for who, count in results.resources.items()]
    lines += [f"- {key}: {value}" for key, value in machine().items()]
    lines += [f"- {note}" for note in results.notes]
    lines += ["", "## Goals", "", "| Goal | Ratio (how) | Result |", "|---|---|---|"]
    for goal in goals(medians(results)):
        ratio = "—" if goal.ratio is None else f"{goal.ratio:.2f} ({goal.ours:.2f} s / {goal.reference:.2f} s)"
        lines.append(f"| {goal.text} | {ratio}: {goal.how}, limit {goal.limit:g} | {goal.verdict} |")
    for step in STEPS:
        lines += ["", f"## {step}", "", "| Tool | Wall time | CPU time (user+sys) | Peak memory |", "|---|---|---|---|"]
        for tool in TOOLS:
            row = results.rows.get((tool, step))
            if row and row.samples:
                lines.append(
                    f"| {tool} | {row.median('seconds'):.2f} s [{row.spread('seconds')}] "
                    f"| {row.median('cpu_s'):.2f} s [{row.spread('cpu_s')}] | {row.median('peak_rss_mib'):.0f} MiB |"
                )
            elif reason := NOT_APPLICABLE.get((tool, step)) or results.failures.get((tool, step)):
                lines.append(f"| {tool} | not measured: {reason} | | |")
    if results.failures:
        lines += ["", "## Failures", ""]
        for (tool, step), reason in results.failures.items():
            lines += [f"- {tool}, {step}:", "", "  ```", *(f"  {line}" for line in reason.splitlines()[-12:]), "  ```"]
    lines += ["", f"![wall time per step and tool]({plot_name})", ""]
    return "\n".join(lines)


def plot(results: Results, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(13, 5))
    width = 0.8 / len(TOOLS)
    for index, tool in enumerate(TOOLS):
        xs, heights, low, high = [], [], [], []
        for position, step in enumerate(STEPS):
            row = results.rows.get((tool, step))
            if not row or not row.samples:
                continue
            times = [s.seconds for s in row.samples]
            median = row.median("seconds")
            xs.append(position + (index - (len(TOOLS) - 1) / 2) * width)
            heights.append(median)
            low.append(median - min(times))
            high.append(max(times) - median)
        axes.bar(xs, heights, width, yerr=[low, high], capsize=2, label=tool)
        for position, step in enumerate(STEPS):
            if (tool, step) in NOT_APPLICABLE:
                x = position + (index - (len(TOOLS) - 1) / 2) * width
                axes.text(x, 0.2, "n/a", ha="center", va="bottom", fontsize=6, rotation=90, color="grey")
    axes.set_xticks(range(len(STEPS)), [step.replace(", ", ",\n").replace(": ", ":\n") for step in STEPS], fontsize=8)
    axes.set(ylabel="wall time, seconds (median, range as error bars)")
    axes.set_title(
        f"Deploy steps, {results.stack} stack, {results.releases} releases, {results.started:%Y-%m-%d} "
        f"(median of {results.repeats_done}; load {results.load_before})",
        fontsize=9,
    )
    axes.legend(fontsize=8)
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def write(results: Results, out: Path) -> None:
    results.load_after = load()
    out.mkdir(parents=True, exist_ok=True)
    (out / "benchmarks-comparison.md").write_text(report(results, "benchmarks-comparison.png"))
    plot(results, out / "benchmarks-comparison.png")
    log(f"wrote {out / 'benchmarks-comparison.md'} and .png")


# --------------------------------------------------------------------------------------------------- main


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="clean-cluster repeats per tool (median reported)")
    parser.add_argument("--stack", default="prod", choices=("staging", "prod"), help="whose releases to deploy")
    parser.add_argument("--tools", nargs="+", default=list(TOOLS), choices=TOOLS, help="which tools to run")
    parser.add_argument("--out", type=Path, default=DOCS, help="where benchmarks-comparison.md and .png go")
    return parser.parse_args()


def stop_on_sigterm() -> None:
    """SIGTERM (and SIGINT, which a shell's background job ignores) unwind through the `finally`s, so the bench
    cluster stops and the figures so far are written."""

    def unwind(signum: int, _frame: object) -> None:
        raise SystemExit(f"stopped by signal {signum}")

    signal.signal(signal.SIGTERM, unwind)
    signal.signal(signal.SIGINT, unwind)


def main() -> None:
    args = arguments()
    stop_on_sigterm()
    tools = [tool for tool in TOOLS if tool in args.tools]  # the floor needs our up's count: it runs after it
    if HELMFILE_WAIT in tools or HELMFILE_NOWAIT in tools:
        ensure_helmfile()
    build_dependencies()  # the charts' file:// library dependency: build output, not measured
    results = Results(datetime.datetime.now(datetime.UTC), args.stack, load())
    log(f"load {results.load_before}; starting the bench cluster")
    with tempfile.TemporaryDirectory(prefix="bench-deploy-") as tmp, bench_cluster() as kubeconfig:
        bench = Bench(args.stack, kubeconfig, Path(tmp), results)
        results.notes.append(NO_TENANTS)
        log(f"{results.releases} releases: {', '.join(r.label for r in bench.renders)}")
        for index in range(args.repeats):
            try:
                bench.repeat(index, tools)
            except BaseException:
                results.failures[("run", f"repeat {index + 1}")] = traceback.format_exc()
                raise
            finally:
                results.repeats_done = index + 1
                write(results, args.out)


if __name__ == "__main__":
    main()
