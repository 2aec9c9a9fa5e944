"""Provisioning benchmark (issue 19): how long one tenant takes through the real service and engine, with 10,
100 and 500 tenants already there, and what 8 workers buy over one.

Set-up, in a throwaway copy of the program with its own file backend (tooling/engine.py): the dev platform
stack, with no tenants, is `up`'d rendering to a directory (no cluster, as bench/run.py does), so its
`fluxionTenantDefaults`/`fluxionTenantCluster` outputs exist and tenant stacks render too. One tenant is
provisioned for real; the "existing" tenants are copies of its checkpoint and stack settings under other
names and ids (a file backend holds one checkpoint per stack, so that is what existing tenants cost it),
registered in the service's store.

Then, per count of existing tenants: `--sequential` provisions one after another on one worker (latency
p50/p95, throughput), and `--concurrent` at once on 8 workers (throughput, peak memory of the process tree
per worker). Writes docs/benchmarks-provisioning.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import shutil
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from platform_config.fluxion import TENANT_PROJECT
from tenants.engine import AutomationEngine
from tenants.service import ACTIVE, TenantService
from tenants.store import DONE, Store
from tooling.engine import ProgramCopy
from tooling.paths import REPO_ROOT

PLATFORM = "bench"
SEED = "seed"
EXISTING = (10, 100, 500)
# The targets of issue 19.
MAX_P50_GROWTH = 1.2
MIN_SPEEDUP = 3.0


def log(message: str) -> None:
    print(f"[{datetime.datetime.now():%H:%M:%S}] {message}", flush=True)


@dataclass
class Round:
    existing: int
    latencies: list[float]
    sequential_s: float
    concurrent: int
    concurrent_s: float
    peak_rss_mib: float
    sequential_cpu_s: float

    @property
    def cpu_per_provision_s(self) -> float:
        return self.sequential_cpu_s / len(self.latencies)

    @property
    def speedup_ceiling(self) -> float:
        """What any number of workers could reach on this machine: one provision keeps `sequential_cpu_s /
        sequential_s` CPUs busy, so the CPUs there are allow that many at once, at most `concurrent`."""
        return min(float(self.concurrent), (os.cpu_count() or 1) * self.sequential_s / self.sequential_cpu_s)

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies)

    @property
    def p95(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]

    @property
    def speedup(self) -> float:
        sequential_rate = len(self.latencies) / self.sequential_s
        return (self.concurrent / self.concurrent_s) / sequential_rate


class Sampler:
    """Peak RSS of this process's children (the pulumi CLIs, language hosts, plugins), sampled."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(0.1):
            total = 0
            for child in me.children(recursive=True):
                with contextlib.suppress(psutil.Error):  # a process that just ended
                    total += child.memory_info().rss
            self.peak = max(self.peak, total)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def cpu_seconds() -> float:
    """CPU time of this process (the service's workers) and of every child it has waited for: the pulumi
    CLIs and, through them, their language hosts, programs and plugins."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def running(service: TenantService) -> TenantService:
    service.start()
    return service


def provision(service: TenantService, ids: list[str]) -> list[float]:
    """Submit every id at once and wait; returns each operation's own run time (claim to finish)."""
    accepted = [service.provision({"userId": i, "ramSize": "256Mi"}).operation for i in ids]
    pending = {op.id for op in accepted if op is not None}
    while pending:
        time.sleep(0.5)
        for op_id in list(pending):
            op = service.store.operation(op_id)
            if op is not None and op.status in (DONE, "failed"):
                if op.status != DONE:
                    raise RuntimeError(f"{op.tenant_id}: {op.reason}")
                pending.discard(op_id)
    return [service.store.operation(op.id).finished_at - service.store.operation(op.id).started_at for op in accepted]


def seed(program: ProgramCopy, engine: AutomationEngine, store: Store, count: int, already: int) -> None:
    """Copies of the seed tenant's checkpoint and settings as tenants `e-<n>`, up to `count` of them."""
    stacks = program.root / "state" / ".pulumi" / "stacks" / TENANT_PROJECT
    checkpoint = (stacks / f"{PLATFORM}-{SEED}.json").read_text()
    seed_dir = engine.workspaces / f"{PLATFORM}-{SEED}"
    settings = (seed_dir / f"Pulumi.{PLATFORM}-{SEED}.yaml").read_text()
    for n in range(already, count):
        tenant = f"e-{n:04d}"
        name = f"{PLATFORM}-{tenant}"
        (stacks / f"{name}.json").write_text(
            checkpoint.replace(f"{PLATFORM}-{SEED}", name).replace(f"fluxiondb-{SEED}", f"fluxiondb-{tenant}")
        )
        work = engine.workspaces / name
        work.mkdir(parents=True, exist_ok=True)
        (work / f"Pulumi.{name}.yaml").write_text(settings.replace(f"id: {SEED}", f"id: {tenant}"))
        store.register(tenant, {"id": tenant, "ram": "256Mi"}, ACTIVE)


def run(existing: list[int], sequential: int, concurrent: int) -> list[Round]:
    rounds: list[Round] = []
    with tempfile.TemporaryDirectory(prefix="nexus-bench-tenants-") as tmp:
        root = Path(tmp)
        (root / "program").mkdir()
        program = ProgramCopy(root / "program")
        log("platform stack (render mode, no tenants): up")
        platform = program.stack(PLATFORM, "dev", overrides={"fluxion": {"tenants": []}})
        platform.up().check("pulumi up of the bench platform stack")
        os.environ.update(program.env)  # the service's workers run the CLI with the copy's backend
        engine = AutomationEngine(PLATFORM, f"organization/nexus-platform/{PLATFORM}", root / "workspaces", env={})
        store = Store.sqlite(root / "operations.sqlite3")
        log("seed tenant: provision")
        seeding = running(TenantService(store, engine, workers=1))
        provision(seeding, [SEED])
        seeding.stop()  # its worker would otherwise take a share of the measured rounds
        have = 0
        for count in sorted(existing):
            seed(program, engine, store, count, have)
            have = count
            log(f"{count} existing tenants: {sequential} sequential provisions")
            one = running(TenantService(store, engine, workers=1))
            started, cpu_before = time.monotonic(), cpu_seconds()
            latencies = provision(one, [f"s{count}-{i}" for i in range(sequential)])
            sequential_s = time.monotonic() - started
            sequential_cpu_s = cpu_seconds() - cpu_before
            one.stop()
            log(f"{count} existing tenants: {concurrent} concurrent provisions on {concurrent} workers")
            many = running(TenantService(store, engine, workers=concurrent))
            with Sampler() as sampler:
                started = time.monotonic()
                provision(many, [f"c{count}-{i}" for i in range(concurrent)])
                concurrent_s = time.monotonic() - started
            many.stop()
            rounds.append(
                Round(
                    count,
                    latencies,
                    sequential_s,
                    concurrent,
                    concurrent_s,
                    sampler.peak / concurrent / 2**20,
                    sequential_cpu_s,
                )
            )
            r = rounds[-1]
            log(f"  p50 {r.p50:.1f}s p95 {r.p95:.1f}s, speedup x{r.speedup:.2f} (ceiling x{r.speedup_ceiling:.2f})")
        shutil.rmtree(root / "workspaces", ignore_errors=True)
    return rounds


def report(rounds: list[Round], sequential: int, concurrent: int) -> str:
    lines = [
        "# Provisioning benchmark (FluxionDB tenant stacks)",
        "",
        f"Measured {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC by `python -m bench.provisioning` on "
        f"{os.cpu_count()} CPUs (load {os.getloadavg()[0]:.2f}): the real service, Automation API and engine, tenant "
        "stacks rendering to a directory (bench/provisioning.py says how existing tenants are made).",
        "",
        f"| existing tenants | p50 (s) | p95 (s) | sequential: {sequential} in (s) | {concurrent} concurrent in (s) | "
        f"speedup | CPU per provision (s) | ceiling on {os.cpu_count()} CPUs | peak RSS per worker (MiB) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rounds:
        lines.append(
            f"| {r.existing} | {r.p50:.2f} | {r.p95:.2f} | {r.sequential_s:.1f} | {r.concurrent_s:.1f} | "
            f"x{r.speedup:.2f} | {r.cpu_per_provision_s:.1f} | x{r.speedup_ceiling:.2f} | {r.peak_rss_mib:.0f} |"
        )
    if len(rounds) >= 2:
        growth = rounds[-1].p50 / rounds[0].p50
        met = "met" if growth <= MAX_P50_GROWTH else "**missed**"
        lines += ["", f"- p50 at {rounds[-1].existing} / p50 at {rounds[0].existing}: {growth:.2f} "
                  f"(goal ≤ {MAX_P50_GROWTH}): {met}"]  # fmt: skip
    best = max(rounds, key=lambda r: r.speedup)
    lines.append(f"- {concurrent} concurrent vs sequential: x{best.speedup:.2f} (goal ≥ {MIN_SPEEDUP}): "
                 f"{'met' if best.speedup >= MIN_SPEEDUP else '**missed**'}")  # fmt: skip
    lines.append(
        f"- the ceiling: one provision alone keeps {best.sequential_cpu_s / best.sequential_s:.2f} CPUs busy "
        f"({best.cpu_per_provision_s:.1f} s of CPU per provision), so {os.cpu_count()} CPUs allow at most "
        f"x{best.speedup_ceiling:.2f} however many workers run; measured {best.speedup / best.speedup_ceiling:.0%} "
        "of it. The goal needs a machine with more CPUs or provisions that wait (a real cluster's pod start-ups)."
    )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--existing", type=int, nargs="+", default=list(EXISTING), help="existing tenant counts")
    parser.add_argument("--sequential", type=int, default=5, help="provisions measured one after another")
    parser.add_argument("--concurrent", type=int, default=8, help="provisions at once, on as many workers")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "benchmarks-provisioning.md")
    args = parser.parse_args()
    bench(args.existing, args.sequential, args.concurrent, args.out)


def bench(existing: list[int], sequential: int, concurrent: int, out: Path) -> None:
    rounds = run(existing, sequential, concurrent)
    out.write_text(report(rounds, sequential, concurrent))
    log(f"wrote {out}")


if __name__ == "__main__":
    main()
