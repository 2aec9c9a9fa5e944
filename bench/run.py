"""Benchmarks of the program as users feel it: `pulumi preview` against the raw Helm rendering floor (issue 10).

One run measures, on this machine, and writes docs/benchmarks.md and docs/benchmarks.png:
- the floor: `helm template` of every chart the prod stack deploys, with the exact values our components pass;
- the engine's fixed start-up cost: `pulumi preview` of an empty Python program on the same toolchain;
- `pulumi preview` of dev, staging and prod, cold (never up'd) and warm (after an `up`), median of N runs;
- prod with 10, 50 and 200 FluxionDB tenants: preview time, peak RSS of the pulumi process tree, resource
  count, the marginal cost per tenant (least-squares slope) and a linearity check;
- wall time of the unit and render test tiers (and of `make test` with --with-make-test).

Stacks are previewed (and, for the warm previews, deployed) against the `bench` local cluster (a real kube-apiserver,
kwok nodes; bench/deploy.py starts it) from a throwaway copy of the program with its own backend
(tooling/engine.py), so nothing here touches an operator's stacks or `make up`'s cluster. See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import itertools
import os
import platform
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import yaml

from components import core_pipeline, fluxion_tenant, nexus_database, order_platform, postgres_cluster
from components.kubernetes import service_host
from platform_config import PlatformConfig, load_platform_config
from tooling.engine import ProgramCopy, pulumi_environment
from tooling.helm import CHARTS_DIR, build_dependencies, helm_binary, run_helm
from tooling.paths import BITNAMI_STANDIN, REPO_ROOT
from tooling.stacks import stack_config, with_example_tenants

DOCS = REPO_ROOT / "docs"
STACKS = ("dev", "staging", "prod")
TENANT_COUNTS = (10, 50, 200)
# The targets of issue 10.
FLOOR_FACTOR = 3.0
MAX_MARGINAL_PER_TENANT_S = 0.5
MAX_UNIT_TIER_S = 60.0
# Representative in-cluster addresses for the values that carry other components' endpoints: the chart
# renders the same objects whatever the address, so the floor does not depend on them.
KAFKA = f"{service_host('kafka-service', 'data')}:9092"
POSTGRES_WRITER = service_host("orders-postgresql-primary", "postgres")
REDIS = service_host("redis-service", "data")
RSS_SAMPLE_INTERVAL_S = 0.05


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# ---------------------------------------------------------------------------------------------- measuring


@dataclass
class Run:
    seconds: float
    peak_rss_bytes: int
    returncode: int
    output: str
    # CPU seconds (user + sys) by part of the process tree (`process_kind`), as last sampled before each process
    # ended: a process that lives less than one sample interval is missed, and each is short by at most one.
    cpu_by_part: dict[str, float] = field(default_factory=dict)


def process_kind(process: psutil.Process) -> str:
    """Which part of a `pulumi` run a process is: the engine (the CLI itself), the language host, our Python
    program, a provider plugin (the kubernetes one, the random one, the dynamic provider StorageGuard runs in), or
    another program (helm, helmfile, pip probes of the language host)."""
    try:
        argv = process.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return "other"
    line = " ".join(argv)
    for marker, kind in (
        ("pulumi-resource-kubernetes", "kubernetes provider"),
        ("pulumi-resource-pulumi-python", "dynamic provider (StorageGuard)"),
        ("pulumi.dynamic", "dynamic provider (StorageGuard)"),  # the python the wrapper script starts
        ("pulumi-resource-random", "random provider"),
        ("pulumi-language-python-exec", "our Python program"),
        ("pulumi-language-python", "language host"),
    ):
        if marker in line:
            return kind
    first = Path(argv[0]).name if argv else ""
    return {"pulumi": "engine (pulumi CLI)", "helm": "helm", "helmfile": "helmfile"}.get(first, "other")


def tree_rss(process: psutil.Process) -> int:
    """RSS of a process and all its descendants (engine, language host, program, plugins)."""
    total = 0
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for member in members:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += member.memory_info().rss
    return total


def timed(command: Sequence[str], cwd: Path, env: dict[str, str], timeout: float = 1800) -> Run:
    """Run a command, timing its wall clock and polling the peak summed RSS of its process tree."""
    started = time.monotonic()
    process = psutil.Popen(list(command), cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = 0
    done = threading.Event()
    cpu: dict[int, tuple[str, float]] = {}  # pid -> (kind, CPU seconds at its last sample)

    def sample_cpu() -> None:
        try:
            members = [process, *process.children(recursive=True)]
        except psutil.NoSuchProcess:
            return
        for member in members:
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                kind = cpu[member.pid][0] if member.pid in cpu else process_kind(member)
                times = member.cpu_times()
                cpu[member.pid] = (kind, times.user + times.system)

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss(process))
            sample_cpu()
            done.wait(RSS_SAMPLE_INTERVAL_S)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        output, _ = process.communicate(timeout=timeout)
    finally:
        done.set()
        sampler.join()
    by_part: dict[str, float] = {}
    for kind, seconds in cpu.values():
        by_part[kind] = by_part.get(kind, 0.0) + seconds
    return Run(time.monotonic() - started, peak, process.returncode, output, by_part)


def checked(run: Run, what: str) -> Run:
    if run.returncode != 0:
        raise RuntimeError(f"{what} failed ({run.returncode}):\n{run.output[-4000:]}")
    return run


def resource_count(preview_output: str) -> int:
    """Resources in the preview summary: the sum of its `+ N to create`, `N unchanged`, ... lines."""
    summary = preview_output.split("\nResources:\n")[-1]
    total = 0
    for line in summary.splitlines():
        match = re.match(r"^\s*[-+~]*\s*(\d+) [a-z]", line)
        if match:
            total += int(match.group(1))
        elif not line.strip():
            break
    return total


@dataclass
class Series:
    runs: list[Run] = field(default_factory=list)

    @property
    def median_s(self) -> float:
        return statistics.median(r.seconds for r in self.runs)

    @property
    def spread(self) -> str:
        times = [r.seconds for r in self.runs]
        return f"{min(times):.2f}-{max(times):.2f}"

    @property
    def peak_rss_mib(self) -> float:
        return max(r.peak_rss_bytes for r in self.runs) / 2**20

    @property
    def resources(self) -> int:
        return resource_count(self.runs[-1].output)


def repeat(times: int, action: Callable[[], Run]) -> Series:
    return Series([action() for _ in range(times)])


# ------------------------------------------------------------------------------------------ the Helm floor


@dataclass
class ChartRender:
    label: str
    chart: Path
    release: str
    namespace: str
    values: dict[str, Any]


def platform_config(overrides: dict[str, Any] | None = None) -> PlatformConfig:
    """Prod's config with its example tenants: the committed file deploys none in the platform stack, and the
    floor prices one FluxionDB release from theirs (the same component a tenant stack runs)."""
    return load_platform_config(with_example_tenants("prod", {**stack_config("prod"), **(overrides or {})}))


def prod_chart_renders(config: PlatformConfig) -> list[ChartRender]:
    """Every chart the prod stack deploys, with the values its component passes (pure `chart_values`)."""
    renders = []
    for name, cluster in config.postgresClusters.items():
        values = postgres_cluster.chart_values(name, cluster, f"{name}-postgresql-credentials")
        renders.append(ChartRender(f"postgresql ({name})", BITNAMI_STANDIN, f"{name}-postgresql", "postgres", values))
    data_values = nexus_database.chart_values(
        config.dataTier, config.environment, delete_data_on_destroy=config.deleteDataOnDestroy
    )
    renders.append(ChartRender("nexus-database", CHARTS_DIR / "nexus-database", "nexus-database", "data", data_values))
    if config.corePipeline.enabled:
        wiring = core_pipeline.ChartWiring(
            kafka_bootstrap_servers=KAFKA,
            postgres_host=POSTGRES_WRITER,
            postgres_port="5432",
            postgres_namespace="postgres",
            redis_host=REDIS,
            redis_port="6379",
            redis_namespace="data",
            secret_name="core-pipeline-credentials",
        )
        values = core_pipeline.chart_values("core-pipeline", config.corePipeline, wiring)
        renders.append(
            ChartRender("core-pipeline", CHARTS_DIR / "core-pipeline", "core-pipeline", "core-pipeline", values)
        )
    orders = config.postgresClusters["orders"]
    for service in order_platform.SERVICES:
        wiring = order_platform.ServiceWiring(
            order_platform.credentials_secret_name(service),
            postgres_host=POSTGRES_WRITER,
            postgres_port=5432,
            postgres_database=orders.database,
            postgres_user=orders.username,
            kafka_bootstrap_servers=KAFKA,
        )
        values = order_platform.chart_values(service, config.orderPlatform, config.environment, wiring)
        renders.append(ChartRender(service, CHARTS_DIR / service, service, "order-platform", values))
    renders += tenant_renders(config)
    return renders


def tenant_renders(config: PlatformConfig) -> list[ChartRender]:
    return [
        ChartRender(
            f"fluxiondb ({tenant.id})",
            CHARTS_DIR / "fluxiondb",
            tenant.name,
            tenant.name,
            fluxion_tenant.chart_values(tenant, config.fluxion.defaults),
        )
        for tenant in config.fluxion.tenants
        if tenant.active
    ]


def helm_template(render: ChartRender, scratch: Path) -> float:
    values_file = scratch / f"{render.release}.values.yaml"
    values_file.write_text(yaml.safe_dump(render.values))
    started = time.monotonic()
    run_helm(
        "template", render.release, str(render.chart), "--namespace", render.namespace, "--values", str(values_file)
    )
    return time.monotonic() - started


@dataclass
class Floor:
    per_chart: list[tuple[str, float]]  # label, median seconds
    helm_startup_s: float

    @property
    def total_s(self) -> float:
        return sum(seconds for _, seconds in self.per_chart)

    @property
    def fluxion_tenant_s(self) -> float:
        return statistics.median(s for label, s in self.per_chart if label.startswith("fluxiondb"))

    @property
    def without_tenants_s(self) -> float:
        return sum(s for label, s in self.per_chart if not label.startswith("fluxiondb"))

    def with_tenants(self, count: int) -> float:
        return self.without_tenants_s + count * self.fluxion_tenant_s


def measure_floor(repeats: int) -> Floor:
    build_dependencies()  # the file:// library dependency: build output, not measured
    renders = prod_chart_renders(platform_config())
    per_chart = []
    with tempfile.TemporaryDirectory(prefix="bench-floor-") as tmp:
        for render in renders:
            helm_template(render, Path(tmp))  # page the chart in once
            per_chart.append(
                (render.label, statistics.median(helm_template(render, Path(tmp)) for _ in range(repeats)))
            )
    startup = []
    for _ in range(max(repeats, 5)):
        started = time.monotonic()
        subprocess.run([helm_binary(), "version", "--short"], capture_output=True, check=True)
        startup.append(time.monotonic() - started)
    return Floor(per_chart, statistics.median(startup))


# ------------------------------------------------------------------------------------ the engine, previews


EMPTY_PROGRAM = "import pulumi  # noqa: F401\n"
# The same plugins our program starts (kubernetes in render-to-directory mode, random), one resource each.
PLUGINS_PROGRAM = """import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

provider = k8s.Provider("render", render_yaml_to_directory="rendered")
k8s.core.v1.ConfigMap("probe", data={"a": "b"}, opts=pulumi.ResourceOptions(provider=provider))
random.RandomPassword("probe", length=16)
"""


def baseline_program(root: Path, source: str) -> tuple[Path, dict[str, str]]:
    """A minimal Python program on the project's toolchain and virtualenv."""
    root.mkdir()
    (root / "Pulumi.yaml").write_text(
        yaml.safe_dump(
            {
                "name": f"bench-{root.name}",
                "runtime": {"name": "python", "options": {"toolchain": "pip", "virtualenv": str(REPO_ROOT / ".venv")}},
            }
        )
    )
    (root / "__main__.py").write_text(source)
    (root / "state").mkdir()
    return root, pulumi_environment(root / "state")


def pulumi_cmd(*args: str) -> list[str]:
    return ["pulumi", *args, "--non-interactive"]


def measure_baseline(root: Path, source: str, repeats: int) -> Series:
    """Warm previews of a minimal program (after an `up`): what every preview pays before our program."""
    root, env = baseline_program(root, source)
    checked(timed(pulumi_cmd("stack", "init", "bench"), root, env), f"stack init in {root}")
    checked(timed(pulumi_cmd("up", "--yes", "--skip-preview", "--stack", "bench"), root, env), f"up in {root}")
    return repeat(repeats, lambda: checked(timed(pulumi_cmd("preview", "--stack", "bench"), root, env), "preview"))


def measure_program_under_mocks(repeats: int) -> float:
    """Our program alone: the prod stack's registration under Pulumi mocks (no engine, no provider)."""
    from tooling.stacks import run_stack

    run_stack("prod")  # imports and first-call caches
    times = []
    for _ in range(repeats):
        started = time.monotonic()
        run_stack("prod")
        times.append(time.monotonic() - started)
    return statistics.median(times)


def preview(program: ProgramCopy, stack: str) -> Run:
    return checked(timed(pulumi_cmd("preview", "--stack", stack), program.root, program.env), f"preview {stack}")


def measure_stacks(
    program: ProgramCopy, stacks: Sequence[str], repeats: int, cluster: Any
) -> dict[str, tuple[Series, Series]]:
    """(cold, warm) preview series per committed stack, each on a fresh copy of its stack file (staging and prod
    scaled down), deployed to the bench cluster between the two and removed (with the namespaces it made) before
    the next stack."""
    from bench.deploy import scaled_down_prod  # bench.deploy imports this module

    results = {}
    for stack in stacks:
        name = f"bench-{stack}"
        before = set(cluster.namespaces())
        # Staging and prod scaled down as the cluster tier's prod-shaped stack is, so two kwok nodes hold them
        # (their storage class, node types and hard anti-affinity are a real cluster's); dev as committed.
        overrides = scaled_down_prod(stack) if stack != "dev" else None
        scratch = program.stack(name, stack, overrides, render=False)
        log(f"{stack}: cold previews")
        cold = repeat(repeats, lambda name=name: preview(program, name))
        log(f"{stack}: up (to the bench cluster)")
        try:
            checked(
                timed(pulumi_cmd("up", "--yes", "--skip-preview", "--stack", name), program.root, program.env), "up"
            )
            log(f"{stack}: warm previews")
            warm = repeat(repeats, lambda name=name: preview(program, name))
        finally:
            scratch.destroy()
            scratch.remove()
            cluster.delete_namespaces(sorted(set(cluster.namespaces()) - before))
        results[stack] = (cold, warm)
        log(f"{stack}: cold {cold.median_s:.2f}s, warm {warm.median_s:.2f}s, {warm.resources} resources")
    return results


def generated_tenants(count: int) -> list[dict[str, str]]:
    """`count` tenants in the two sizes the prod stack file uses."""
    return [{"id": f"bench-{index:03d}", "ram": "1Gi" if index % 2 else "8Gi"} for index in range(count)]


def measure_scaling(program: ProgramCopy, counts: Sequence[int], repeats: int) -> dict[int, Series]:
    results = {}
    for count in counts:
        name = f"bench-prod-{count}-tenants"
        scratch = program.stack(name, "prod", {"fluxion": {"tenants": generated_tenants(count)}}, render=False)
        log(f"prod with {count} tenants: cold previews")
        results[count] = repeat(repeats, lambda name=name: preview(program, name))
        scratch.remove()
        series = results[count]
        log(f"  {series.median_s:.2f}s, {series.peak_rss_mib:.0f} MiB, {series.resources} resources")
    return results


def fit(points: Sequence[tuple[float, float]]) -> tuple[float, float, float]:
    """Least-squares (slope, intercept, r²)."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    slope, intercept = statistics.linear_regression(xs, ys)
    mean = statistics.fmean(ys)
    total = sum((y - mean) ** 2 for y in ys)
    residual = sum((y - (slope * x + intercept)) ** 2 for x, y in zip(xs, ys, strict=True))
    return slope, intercept, 1 - residual / total if total else 1.0


def segment_slopes(points: Sequence[tuple[float, float]]) -> list[float]:
    return [(y2 - y1) / (x2 - x1) for (x1, y1), (x2, y2) in itertools.pairwise(points)]


# ------------------------------------------------------------------------------------------------- tests


def measure_command(command: Sequence[str], label: str) -> float | None:
    log(f"{label}: {' '.join(command)}")
    env = pulumi_environment(REPO_ROOT / ".pulumi-state")
    env.pop("PULUMI_BACKEND_URL", None)  # the tests choose their own backends
    run = timed(command, REPO_ROOT, env, timeout=3600)
    tail = run.output.strip().splitlines()[-1:] or [""]
    log(f"  {run.seconds:.1f}s, exit {run.returncode}: {tail[0]}")
    return run.seconds if run.returncode == 0 else None


# ------------------------------------------------------------------------------------------------ report


def tool_version(*command: str) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip().splitlines()[0]
    except (OSError, subprocess.CalledProcessError, IndexError):
        return "unknown"


def machine() -> dict[str, str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    env = pulumi_environment(REPO_ROOT / ".pulumi-state")
    pulumi = tool_version(*[*_on_path(env, "pulumi"), "version"])
    plugins = subprocess.run(
        [*_on_path(env, "pulumi"), "plugin", "ls"], capture_output=True, text=True, env=env, check=False
    ).stdout
    kubernetes = next((line.split()[2] for line in plugins.splitlines() if line.startswith("kubernetes")), "unknown")
    return {
        "Machine": f"{platform.node()}: {cpu}, {os.cpu_count()} CPUs, {psutil.virtual_memory().total / 2**30:.0f} GiB",
        "OS": f"{platform.system()} {platform.release()}",
        "pulumi CLI": pulumi,
        "pulumi-resource-kubernetes": kubernetes,
        "helm": tool_version(helm_binary(), "version", "--short"),
        "Python": platform.python_version(),
    }


def _on_path(env: dict[str, str], tool: str) -> list[str]:
    found = shutil.which(tool, path=env["PATH"])
    return [found or tool]


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


@dataclass
class Results:
    started: datetime.datetime
    repeats: int
    load_before: str
    floor: Floor
    engine: Series
    plugins: Series
    program_under_mocks_s: float
    stacks: dict[str, tuple[Series, Series]]
    scaling: dict[int, Series]
    tiers: dict[str, float | None]
    load_after: str = ""


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def side_by_side_goals(out: Path) -> list[str]:
    """The goals of issue 20 as bench/deploy.py's last report states them (`make bench` runs it first), with
    where its figures and bench/profile.py's are."""
    comparison = out / "benchmarks-comparison.md"
    if not comparison.exists():
        return ["", "Side by side with Helm and Helmfile (issue 20): not run yet (`python -m bench.deploy`)."]
    text = comparison.read_text()
    run = next((line for line in text.splitlines() if line.startswith("- Run:")), "- Run: unknown")
    goals = text.split("\n## Goals\n", 1)[-1].split("\n## ", 1)[0].strip().splitlines()
    return [
        "",
        "## Side by side with Helm and Helmfile (issue 20)",
        "",
        f"From [benchmarks-comparison.md](benchmarks-comparison.md) (bench/deploy.py, {run.removeprefix('- Run: ')}),",
        "where every tool's deploy steps are measured on one cluster; where the time and CPU go, and what was cut:",
        "[benchmarks-profile.md](benchmarks-profile.md) (bench/profile.py).",
        "",
        *goals,
    ]


def report(results: Results, plot_name: str, out: Path = DOCS) -> str:
    floor, engine = results.floor, results.engine
    prod_warm = results.stacks["prod"][1].median_s if "prod" in results.stacks else None
    budget = FLOOR_FACTOR * floor.total_s + engine.median_s
    lines = [
        "# Benchmarks",
        "",
        "How long `pulumi preview` takes, against what rendering the charts costs at all, and how it grows with",
        "FluxionDB tenants (issue 10). Generated by `make bench` (bench/run.py; bench/README.md explains each",
        "figure); do not edit by hand.",
        "",
        f"- Run: {results.started:%Y-%m-%d %H:%M} UTC, median of {results.repeats} runs per figure (range in brackets)",
        f"- Load average (1/5/15 min) before: {results.load_before}; after: {results.load_after}. Other jobs shared",
        "  the CPUs during this run, so absolute figures are noisy; ratios within one run are the reliable part.",
    ]
    lines += [f"- {key}: {value}" for key, value in machine().items()]
    lines += ["", "## Targets", "", "| Target | Measured | Result |", "|---|---|---|"]
    if prod_warm is not None:
        lines.append(
            f"| warm prod preview ≤ {FLOOR_FACTOR:g} x Helm floor + engine start-up "
            f"({FLOOR_FACTOR:g} x {floor.total_s:.2f} s + {engine.median_s:.2f} s = {budget:.2f} s) "
            f"| {prod_warm:.2f} s | {verdict(prod_warm <= budget)} |"
        )
    if len(results.scaling) >= 2:
        points = sorted((n, s.median_s) for n, s in results.scaling.items())
        slope, _, r2 = fit(points)
        segments = segment_slopes(points)
        linear = r2 >= 0.98 and segments[-1] <= 1.5 * max(segments[0], 1e-9)
        lines.append(
            f"| marginal preview cost per tenant < {MAX_MARGINAL_PER_TENANT_S} s "
            f"| {slope:.3f} s | {verdict(slope < MAX_MARGINAL_PER_TENANT_S)} |"
        )
        lines.append(
            "| linear up to 200 tenants (r² ≥ 0.98, last segment's slope ≤ 1.5 x first's) "
            f"| r² {r2:.4f}; slopes {', '.join(f'{s:.3f}' for s in segments)} s/tenant | {verdict(linear)} |"
        )
    unit = results.tiers.get("unit tier (pytest -m unit)")
    if unit is not None:
        lines.append(f"| unit tier < {MAX_UNIT_TIER_S:g} s | {unit:.1f} s | {verdict(unit < MAX_UNIT_TIER_S)} |")
    lines += side_by_side_goals(out)

    lines += [
        "",
        "## The floor: `helm template` of every chart prod deploys",
        "",
        "Each chart rendered by the pinned helm CLI with the exact values its component passes for the prod stack",
        "(the components' pure `chart_values`), no schema validation. Each figure includes helm's own process",
        f"start-up ({floor.helm_startup_s * 1000:.0f} ms median for `helm version`), which the provider, rendering",
        "in-process, does not pay: the floor is generous to Helm, never to us.",
        "",
        "| Chart | `helm template` (median) |",
        "|---|---|",
    ]
    lines += [f"| {label} | {seconds * 1000:.0f} ms |" for label, seconds in floor.per_chart]
    lines += [f"| **total** ({len(floor.per_chart)} charts) | **{floor.total_s:.2f} s** |", ""]

    lines += [
        "## Previews of the committed stacks",
        "",
        "`pulumi preview` of each stack against the `bench` local cluster (a real API server, kwok nodes), with the",
        "Bitnami chart's test double. Cold: a fresh stack that was never deployed. Warm: the same stack after an",
        "`up` to that cluster. Peak memory is",
        "the summed RSS of the pulumi process tree (engine, language host, program, provider plugins).",
        f"The engine's fixed start-up cost, `pulumi preview` of an empty Python program on the same toolchain: "
        f"**{engine.median_s:.2f} s** [{engine.spread}], {engine.peak_rss_mib:.0f} MiB.",
        "",
        "| Stack | Resources | Cold preview | Warm preview | Peak memory (warm) |",
        "|---|---|---|---|---|",
    ]
    for stack, (cold, warm) in results.stacks.items():
        lines.append(
            f"| {stack} | {warm.resources} | {cold.median_s:.2f} s [{cold.spread}] | "
            f"{warm.median_s:.2f} s [{warm.spread}] | {warm.peak_rss_mib:.0f} MiB |"
        )
    lines += [
        "",
        "### Where a warm prod preview's time goes",
        "",
        "| Part | Time |",
        "|---|---|",
        f"| engine start-up: warm preview of an empty Python program | {engine.median_s:.2f} s [{engine.spread}] |",
        "| engine + the kubernetes (render mode) and random plugins: warm preview of one ConfigMap and one "
        f"RandomPassword | {results.plugins.median_s:.2f} s [{results.plugins.spread}] |",
        "| our program alone: prod's registration under Pulumi mocks (no engine, no provider) "
        f"| {results.program_under_mocks_s:.2f} s |",
        f"| Helm floor (all prod charts) | {floor.total_s:.2f} s |",
    ]
    if prod_warm is not None:
        lines.append(f"| warm prod preview | {prod_warm:.2f} s |")
    lines.append("")

    if len(results.scaling) >= 2:  # a slope needs two tenant counts
        points = sorted((n, s.median_s) for n, s in results.scaling.items())
        slope, intercept, r2 = fit(points)
        memory = fit(sorted((n, s.peak_rss_mib) for n, s in results.scaling.items()))
        resources = fit(sorted((n, float(s.resources)) for n, s in results.scaling.items()))
        lines += [
            "## Scaling with FluxionDB tenants (prod)",
            "",
            "The prod stack with N generated tenants (alternating 1Gi and 8Gi) in the program, cold previews against",
            "the bench cluster (the committed stacks deploy no tenant: tenants have stacks of their own; this is the",
            "platform stack's cost per tenant if it held them).",
            "The Helm floor for N tenants is the non-tenant charts' total plus N x the median render of one",
            f"fluxiondb release ({floor.fluxion_tenant_s * 1000:.0f} ms).",
            "",
            "| Tenants | Resources | Preview (median) | Helm floor | Peak memory |",
            "|---|---|---|---|---|",
        ]
        for count, series in sorted(results.scaling.items()):
            lines.append(
                f"| {count} | {series.resources} | {series.median_s:.2f} s [{series.spread}] | "
                f"{floor.with_tenants(count):.2f} s | {series.peak_rss_mib:.0f} MiB |"
            )
        lines += [
            "",
            f"- Marginal preview cost: **{slope * 1000:.0f} ms per tenant** (least squares; intercept"
            f" {intercept:.2f} s, r² {r2:.4f}); between successive points: "
            f"{', '.join(f'{s * 1000:.0f} ms' for s in segment_slopes(points))} per tenant.",
            f"- Memory: {memory[0]:.2f} MiB per tenant (r² {memory[2]:.4f}); resources: {resources[0]:.1f} per tenant.",
            "",
        ]

    if results.tiers:
        lines += ["## Test suite wall time", "", "| Command | Wall time |", "|---|---|"]
        for label, seconds in results.tiers.items():
            lines.append(f"| {label} | {'failed' if seconds is None else f'{seconds:.1f} s'} |")
        lines.append("")
    lines += [f"![preview time vs tenants]({plot_name})", ""]
    return "\n".join(lines)


def plot(results: Results, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = sorted(results.scaling)
    figure, (time_axes, memory_axes) = plt.subplots(1, 2, figsize=(12, 4.5))
    previews = [results.scaling[n].median_s for n in counts]
    floors = [results.floor.with_tenants(n) for n in counts]
    budget = [FLOOR_FACTOR * f + results.engine.median_s for f in floors]
    slope, intercept, _ = fit(list(zip(counts, previews, strict=True)))
    time_axes.plot(counts, previews, "o-", label="pulumi preview (cold, median)")
    time_axes.plot(
        counts, [intercept + slope * n for n in counts], ":", label=f"linear fit ({slope * 1000:.0f} ms/tenant)"
    )
    time_axes.plot(counts, floors, "s-", label="raw helm template floor")
    time_axes.plot(counts, budget, "--", label=f"{FLOOR_FACTOR:g} x floor + engine start-up")
    time_axes.axhline(results.engine.median_s, color="grey", linewidth=0.8, label="empty-program preview")
    time_axes.set(xlabel="FluxionDB tenants (prod stack)", ylabel="seconds", title="Preview time vs tenants")
    time_axes.legend(fontsize=8)
    time_axes.grid(alpha=0.3)
    memory_axes.plot(counts, [results.scaling[n].peak_rss_mib for n in counts], "o-", color="tab:purple")
    memory_axes.set(xlabel="FluxionDB tenants (prod stack)", ylabel="MiB", title="Peak RSS of the pulumi process tree")
    memory_axes.grid(alpha=0.3)
    figure.suptitle(f"nexus-platform benchmarks, {results.started:%Y-%m-%d} (load {results.load_before})", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


# -------------------------------------------------------------------------------------------------- main


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per measured figure (median reported)")
    parser.add_argument("--tenants", type=int, nargs="+", default=list(TENANT_COUNTS), help="tenant counts to scale to")
    parser.add_argument("--stacks", nargs="+", default=list(STACKS), choices=STACKS, help="stacks to preview")
    parser.add_argument("--skip-tests", action="store_true", help="do not time the test tiers")
    parser.add_argument("--with-make-test", action="store_true", help="also time the whole `make test` (many minutes)")
    parser.add_argument("--out", type=Path, default=DOCS, help="where benchmarks.md and benchmarks.png go")
    parser.add_argument(
        "--skip-provisioning", action="store_true", help="do not run the tenant provisioning benchmark (issue 19)"
    )
    return parser.parse_args()


def main() -> None:
    args = arguments()
    started = datetime.datetime.now(datetime.UTC)
    load_before = load()
    log(f"load {load_before}; the Helm floor")
    floor = measure_floor(args.repeats)
    log(f"floor {floor.total_s:.2f}s over {len(floor.per_chart)} charts")
    with tempfile.TemporaryDirectory(prefix="nexus-bench-") as tmp:
        scratch = Path(tmp)
        engine = measure_baseline(scratch / "empty", EMPTY_PROGRAM, args.repeats)
        log(f"empty-program preview {engine.median_s:.2f}s")
        plugins = measure_baseline(scratch / "plugins", PLUGINS_PROGRAM, args.repeats)
        log(f"plugins-only preview {plugins.median_s:.2f}s")
        program_under_mocks = measure_program_under_mocks(args.repeats)
        log(f"prod program under mocks {program_under_mocks:.2f}s")
        from bench.deploy import Cluster, bench_cluster, stop_on_sigterm  # bench.deploy imports this module

        stop_on_sigterm()  # so the bench cluster stops whatever ends the run

        # Previews against a real API server: without one, render mode fails staging's and prod's, because the
        # provider (4.25) asks a cluster's discovery API whether a custom resource (PrometheusRule, Certificate)
        # is namespaced (pulumi-kubernetes#4394; the engine tier gives it the test cluster for that); and a pull
        # request's preview talks to a cluster too.
        with bench_cluster() as kubeconfig:
            (scratch / "program").mkdir()
            program = ProgramCopy(scratch / "program", extra_env={"KUBECONFIG": str(kubeconfig)})
            cluster = Cluster(kubeconfig)
            stacks = measure_stacks(program, args.stacks, args.repeats, cluster)
            scaling = measure_scaling(program, sorted(args.tenants), args.repeats)
    tiers: dict[str, float | None] = {}
    if not args.skip_tests:
        python = str(REPO_ROOT / ".venv" / "bin" / "python")
        tiers["unit tier (pytest -m unit)"] = measure_command([python, "-m", "pytest", "-m", "unit", "-q"], "unit tier")
        tiers["render tier (pytest -m render)"] = measure_command(
            [python, "-m", "pytest", "-m", "render", "-q"], "render tier"
        )
        if args.with_make_test:
            tiers["make test (lint + every tier)"] = measure_command(["make", "test"], "make test")
    results = Results(
        started, args.repeats, load_before, floor, engine, plugins, program_under_mocks, stacks, scaling, tiers, load()
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "benchmarks.md").write_text(report(results, "benchmarks.png", args.out))
    if len(scaling) >= 2:
        plot(results, args.out / "benchmarks.png")
    log(f"wrote {args.out / 'benchmarks.md'} and {args.out / 'benchmarks.png'}")
    if not args.skip_provisioning:
        from bench import provisioning  # issue 19: tenant stacks through the provisioning service

        provisioning.bench(list(provisioning.EXISTING), 5, 8, args.out / "benchmarks-provisioning.md")


if __name__ == "__main__":
    main()
