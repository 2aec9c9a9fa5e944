"""Side by side with the tools a platform team would pick instead (issue 20): plain Helm and Helmfile on the
same charts with the same values our components pass for the prod stack.

What this measures today is each tool's render path, which needs no cluster: `helm template` of every release
in sequence, and `helmfile template` of a generated helmfile.yaml holding the same releases (with `needs:` from
our components' dependencies). Each figure is the median of `--repeats` runs with its range, wall time, CPU time
(the children's user + sys) and the peak summed RSS of the process tree (bench/run.py's `timed`).

    source scripts/pulumi-env.sh && .venv/bin/python -m bench.comparison --repeats 3

helmfile is built on demand (`bash scripts/toolchain.sh helmfile`, never by `make toolchain`). `helmfile diff`
needs the helm-diff plugin, which no registry here serves: it is not measured.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.run import (
    ChartRender,
    Run,
    log,
    platform_config,
    prod_chart_renders,
    timed,
)
from tooling.helm import build_dependencies, helm_binary
from tooling.paths import REPO_ROOT, TOOLS_BIN

HELMFILE = TOOLS_BIN / "helmfile"

# Which releases wait for which, as our components order them: the order platform's command service waits for
# the orders database and the data tier, its query service for the data tier (components/order_platform.py's
# `upstream`); core-pipeline talks to the data tier's Kafka and Redis and to the orders database.
NEEDS = {
    "order-command-service": ["postgres/orders-postgresql", "data/nexus-database"],
    "order-query-service": ["data/nexus-database"],
    "core-pipeline": ["postgres/orders-postgresql", "data/nexus-database"],
}


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Sample:
    seconds: float
    cpu_s: float
    peak_rss_mib: float


@dataclass
class Measured:
    label: str
    samples: list[Sample] = field(default_factory=list)

    def median(self, attribute: str) -> float:
        return statistics.median(getattr(s, attribute) for s in self.samples)

    def spread(self, attribute: str) -> str:
        values = [getattr(s, attribute) for s in self.samples]
        return f"{min(values):.2f}-{max(values):.2f}"


def sample(steps: Sequence[Callable[[], Run]]) -> Sample:
    """Run the steps in sequence (one tool's whole operation); wall and CPU summed, peak RSS the largest."""
    cpu_before = children_cpu_s()
    runs = [step() for step in steps]
    for run in runs:
        if run.returncode != 0:
            raise RuntimeError(f"failed ({run.returncode}):\n{run.output[-3000:]}")
    return Sample(
        sum(r.seconds for r in runs), children_cpu_s() - cpu_before, max(r.peak_rss_bytes for r in runs) / 2**20
    )


def write_values(renders: Sequence[ChartRender], directory: Path) -> dict[str, Path]:
    files = {}
    for render in renders:
        path = directory / f"{render.namespace}-{render.release}.values.yaml"
        path.write_text(yaml.safe_dump(render.values))
        files[render.label] = path
    return files


def helmfile_document(renders: Sequence[ChartRender], values: dict[str, Path]) -> dict[str, Any]:
    """The same releases, charts, namespaces and values files as a helmfile.yaml."""
    releases = []
    for render in renders:
        release: dict[str, Any] = {
            "name": render.release,
            "namespace": render.namespace,
            "chart": str(render.chart),
            "values": [str(values[render.label])],
            "createNamespace": True,
        }
        if render.release in NEEDS:
            release["needs"] = NEEDS[render.release]
        releases.append(release)
    return {"releases": releases}


def tool_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{TOOLS_BIN}{os.pathsep}{env.get('PATH', '')}"  # helmfile calls our pinned helm
    return env


def ensure_helmfile() -> None:
    if not HELMFILE.exists():
        log("building helmfile (bash scripts/toolchain.sh helmfile)")
        subprocess.run(["bash", "scripts/toolchain.sh", "helmfile"], cwd=REPO_ROOT, check=True)


def measure_templates(repeats: int) -> tuple[Measured, Measured, int]:
    build_dependencies()
    renders = prod_chart_renders(platform_config())
    env = tool_env()
    helm = str(helm_binary())
    with tempfile.TemporaryDirectory(prefix="bench-comparison-") as tmp:
        scratch = Path(tmp)
        values = write_values(renders, scratch)
        helmfile_yaml = scratch / "helmfile.yaml"
        helmfile_yaml.write_text(yaml.safe_dump(helmfile_document(renders, values), sort_keys=False))
        helm_steps = [
            (
                lambda render=render: timed(
                    [
                        helm,
                        "template",
                        render.release,
                        str(render.chart),
                        "--namespace",
                        render.namespace,
                        "--values",
                        str(values[render.label]),
                    ],
                    scratch,
                    env,
                )
            )
            for render in renders
        ]
        helmfile_step = [lambda: timed([str(HELMFILE), "--file", str(helmfile_yaml), "template"], scratch, env)]
        sample(helm_steps)  # page the charts and binaries in once
        sample(helmfile_step)
        helm_template, helmfile_template = Measured("helm template (each release)"), Measured("helmfile template")
        for _ in range(repeats):  # interleaved, so load changes hit both
            helm_template.samples.append(sample(helm_steps))
            helmfile_template.samples.append(sample(helmfile_step))
    return helm_template, helmfile_template, len(renders)


def table(rows: Sequence[Measured]) -> list[str]:
    lines = ["| Tool and step | Wall time | CPU time (user+sys) | Peak memory |", "|---|---|---|---|"]
    for row in rows:
        lines.append(
            f"| {row.label} | {row.median('seconds'):.2f} s [{row.spread('seconds')}] "
            f"| {row.median('cpu_s'):.2f} s [{row.spread('cpu_s')}] | {row.median('peak_rss_mib'):.0f} MiB |"
        )
    return lines


def run(repeats: int) -> None:
    ensure_helmfile()
    helm_template, helmfile_template, releases = measure_templates(repeats)
    rows = [helm_template, helmfile_template]
    log(f"{releases} releases, median of {repeats}:")
    for line in table(rows):
        log(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    run(args.repeats)


if __name__ == "__main__":
    main()
