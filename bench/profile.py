"""Where a prod deploy's time and CPU go (issue 20), and what the cut of the CLI's automatic logs changed.

One run, on the `bench` local cluster (bench/deploy.py's), with the scaled-down prod stack bench.deploy deploys:
a fresh `pulumi up`, a no-op `up` and a warm `pulumi preview`, each with the CPU of every part of the process tree
(bench/run.py `timed`: the engine, our Python program, the language host, each provider plugin), then `destroy`.
Twice: with the CLI's automatic operation logs on (`NEXUS_PULUMI_LOGS=1`, the CLI's default) and off (this
project's default, scripts/pulumi-env.sh), interleaved per repeat so load changes hit both. The engine's own CPU
profile (`pulumi up --profiling`) of one fresh up is summarised too: the functions with the most cumulative CPU.
Writes docs/benchmarks-profile.md.

    source scripts/pulumi-env.sh && .venv/bin/python -m bench.profile --repeats 2
"""

from __future__ import annotations

import argparse
import datetime
import re
import statistics
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.deploy import Cluster, bench_cluster, scaled_down_prod
from bench.run import Run, checked, load, log, machine, pulumi_cmd, timed
from tooling.engine import ProgramCopy
from tooling.paths import REPO_ROOT

DOCS = REPO_ROOT / "docs"
STEPS = ("fresh up", "no-op up", "warm preview")
# label -> the environment of that variant's `pulumi` runs. The last one is not a cut but a measurement: how much of
# what is left is the engine writing the whole state after each step (PULUMI_SKIP_CHECKPOINTS, unsafe, below).
LOGS_ON, LOGS_OFF, NO_CHECKPOINTS = (
    "automatic logs on (the CLI's default)",
    "automatic logs off (this project's default)",
    "logs off, checkpoints skipped (not safe: for the profile only)",
)
VARIANTS = {
    LOGS_ON: {"NEXUS_PULUMI_LOGS": "1"},
    LOGS_OFF: {"NEXUS_PULUMI_LOGS": "0"},
    NO_CHECKPOINTS: {"NEXUS_PULUMI_LOGS": "0", "PULUMI_SKIP_CHECKPOINTS": "true"},
}
# The engine functions worth naming in the report, by the pprof name they have (cumulative CPU of each).
ENGINE_FUNCTIONS = {
    "saving the state after each step (SnapshotManager.saveSnapshot)": r"SnapshotManager\)\.saveSnapshot$",
    "of which: writing it to the file backend (diySnapshotPersister.Save)": r"diySnapshotPersister\)\.Save$",
    "of which: serializing the deployment (SnapshotManager.Deployment)": r"SnapshotManager\)\.Deployment$",
    "the automatic operation log (logging.VerboseLogger.Infof)": r"logging\.VerboseLogger\.Infof$",
    "marshalling properties for providers (plugin.MarshalProperties)": r"plugin\.MarshalProperties$",
}


@dataclass
class Measured:
    runs: dict[tuple[str, str], list[Run]] = field(default_factory=dict)
    engine_profile: dict[str, float] = field(default_factory=dict)
    engine_total_s: float = 0.0
    resources: int = 0

    def add(self, variant: str, step: str, run: Run) -> None:
        self.runs.setdefault((variant, step), []).append(run)

    def median(self, variant: str, step: str) -> float:
        return statistics.median(r.seconds for r in self.runs[(variant, step)])

    def cpu(self, variant: str, step: str) -> dict[str, float]:
        runs = self.runs[(variant, step)]
        parts = sorted({part for r in runs for part in r.cpu_by_part})
        return {part: statistics.median(r.cpu_by_part.get(part, 0.0) for r in runs) for part in parts}


def pprof_cumulative(profile: Path) -> tuple[float, dict[str, float]]:
    """(total sampled CPU, cumulative seconds per ENGINE_FUNCTIONS entry) from `go tool pprof -top -cum`."""
    top = subprocess.run(
        ["go", "tool", "pprof", "-top", "-cum", "-nodecount=400", str(profile)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    total = float(re.search(r"Total samples = ([\d.]+)s", top).group(1))  # type: ignore[union-attr]
    found = {}
    for line in top.splitlines():
        fields = line.split()
        if len(fields) < 6 or not fields[3].endswith("s"):
            continue
        for label, pattern in ENGINE_FUNCTIONS.items():
            if label not in found and re.search(pattern, fields[-1]):
                found[label] = _seconds(fields[3])
    return total, found


def _seconds(text: str) -> float:
    """pprof's `1.25s` or `310ms`."""
    return float(text[:-2]) / 1000 if text.endswith("ms") else float(text[:-1])


def deploy_once(program: ProgramCopy, cluster: Cluster, variant: str, index: int, result: Measured) -> None:
    # The switch is the state of the toolchain home's `logs` path, which pulumi-env.sh set when the ProgramCopy
    # was made with this variant's NEXUS_PULUMI_LOGS (tooling/engine.py pulumi_environment); nothing re-sources
    # it until the next variant's copy.
    env = program.env
    name = f"profile-{index}-{list(VARIANTS).index(variant)}"
    before = set(cluster.namespaces())
    stack = program.stack(name, "prod", overrides=scaled_down_prod("prod"), render=False)
    try:
        for step in STEPS:
            args = ("preview",) if step == "warm preview" else ("up", "--yes", "--skip-preview")
            if step == "fresh up" and not result.engine_profile and variant == LOGS_OFF:
                args = (*args, f"--profiling={program.root / 'engine'}")
            run = checked(timed(pulumi_cmd(*args, "--stack", name), program.root, env), f"{variant}: {step}")
            result.add(variant, step, run)
            log(f"  {variant} / {step}: {run.seconds:.2f}s wall, {sum(run.cpu_by_part.values()):.2f}s CPU")
        profiles = sorted(program.root.glob("engine.*.cpu"))
        if profiles and not result.engine_profile:
            result.engine_total_s, result.engine_profile = pprof_cumulative(profiles[0])
    finally:
        stack.destroy()
        stack.remove()
        cluster.delete_namespaces(sorted(set(cluster.namespaces()) - before))


def report(result: Measured, repeats: int, started: datetime.datetime, loads: tuple[str, str]) -> str:
    info = machine()
    lines = [
        "# Where a prod deploy's time and CPU go",
        "",
        "Generated by `bench/profile.py` (issue 20; bench/README.md); do not edit by hand. The scaled-down prod",
        "stack bench.deploy deploys, on the `bench` local cluster; median of "
        f"{repeats} interleaved repeats per variant.",
        "",
        f"- Run: {started:%Y-%m-%d %H:%M} UTC. Load average before: {loads[0]}; after: {loads[1]}.",
        f"- Machine: {info['Machine']}; pulumi CLI {info['pulumi CLI']}, pulumi-resource-kubernetes "
        f"{info['pulumi-resource-kubernetes']}.",
        "",
        "## Before and after: the CLI's automatic operation logs (and, for scale, no checkpoints at all)",
        "",
        "pulumi 3.2xx writes a full, encrypted log of every operation to `$PULUMI_HOME/logs` (for `pulumi logs "
        "share`),",
        "formatting every property map it sends to a provider. This project's Pulumi home turns it off "
        "(`NEXUS_PULUMI_LOGS=1` keeps it).",
        "",
        "| Step | "
        + " | ".join(f"{v}: wall" for v in VARIANTS)
        + " | "
        + " | ".join(f"{v}: CPU" for v in VARIANTS)
        + " |",
        "|---|" + "---|" * (2 * len(VARIANTS)),
    ]
    for step in STEPS:
        walls = [f"{result.median(v, step):.2f} s" for v in VARIANTS]
        cpus = [f"{sum(result.cpu(v, step).values()):.2f} s" for v in VARIANTS]
        lines.append(f"| {step} | " + " | ".join(walls + cpus) + " |")
    lines += ["", "## CPU by part of the process tree (median seconds)", ""]
    for variant in VARIANTS:
        parts = sorted({p for step in STEPS for p in result.cpu(variant, step)})
        lines += [f"### {variant}", "", "| Part | " + " | ".join(STEPS) + " |", "|---|" + "---|" * len(STEPS)]
        for part in parts:
            lines.append(
                f"| {part} | " + " | ".join(f"{result.cpu(variant, s).get(part, 0.0):.2f}" for s in STEPS) + " |"
            )
        lines.append("")
    if result.engine_profile:
        lines += [
            "## Inside the engine: one fresh up (automatic logs off), `pulumi up --profiling`",
            "",
            f"The engine's sampled CPU: {result.engine_total_s:.2f} s. Cumulative CPU of the functions that matter:",
            "",
            "| Function | CPU | Share |",
            "|---|---|---|",
        ]
        for label, seconds in result.engine_profile.items():
            lines.append(f"| {label} | {seconds:.2f} s | {100 * seconds / result.engine_total_s:.0f} % |")
        lines += [
            "",
            "The file backend writes the whole state after every step of an update; the state of this stack is a",
            "few megabytes (each Kubernetes object's inputs, its live object with managedFields, and a copy of the",
            "inputs; the provider's and the program's stack traces), so a fresh install serializes and writes it",
            "hundreds of times. That is the engine's, not the program's: `PULUMI_SKIP_CHECKPOINTS` would remove it",
            "at the price of a state that forgets what an interrupted update created, which this project does not",
            "accept (a re-run would generate new passwords for databases that already hold the old ones).",
            "",
        ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=DOCS)
    args = parser.parse_args(argv)
    started, load_before = datetime.datetime.now(datetime.UTC), load()
    result = Measured()
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp, bench_cluster() as kubeconfig:
        cluster = Cluster(kubeconfig)
        for index in range(args.repeats):
            for variant in VARIANTS:
                root = Path(tmp) / f"program-{index}-{list(VARIANTS).index(variant)}"
                root.mkdir()
                extra = {"KUBECONFIG": str(kubeconfig), **VARIANTS[variant]}
                deploy_once(ProgramCopy(root, extra_env=extra), cluster, variant, index, result)
    (args.out / "benchmarks-profile.md").write_text(report(result, args.repeats, started, (load_before, load())))
    log(f"wrote {args.out / 'benchmarks-profile.md'}")


if __name__ == "__main__":
    main()
