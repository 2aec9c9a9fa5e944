"""Command line of the backup operations (`python -m backups`); see backups/__init__.py."""

from __future__ import annotations

import argparse
import datetime
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from components.postgres_cluster import DEFAULT_NAMESPACE, backup_component
from platform_config.backups import (
    ACCESS_KEY_ID_KEY,
    BUCKET_SECRET,
    OFFSITE_SECRET,
    SECRET_ACCESS_KEY_KEY,
    BucketConfig,
)
from platform_config.data_tier import DataTierConfig
from platform_config.postgres import PostgresClusterConfig
from tooling.stackfiles import stack_config

from . import pitr, tenants
from .jobs import JobError, backup_job, data_claim, restore_job, restores_offline, ships_to_bucket
from .kube import Kube, KubeError
from .store import Backup, Bucket, StoreError, list_backups, pick

EXIT_OK, EXIT_FAILED, EXIT_REFUSED = 0, 1, 2
# What restore-redis.sh and restore-fetch.sh say on every way out that left the data as it was: only then does a
# failed Redis restore start the server again.
UNCHANGED = "left unchanged"
SOURCES = {"bucket": "BUCKET", "offsite": "OFFSITE"}
SECRETS = {"bucket": BUCKET_SECRET, "offsite": OFFSITE_SECRET}
# The chart's backup CronJobs (charts/nexus-database/templates/backup.yaml labels them with the release).
BACKUP_SELECTOR = "app.kubernetes.io/instance=nexus-database"


def data_tier(stack: str) -> DataTierConfig:
    """The stack file's data tier, without the secret leaves (the CLI reads credentials from the cluster)."""
    raw = dict(stack_config(stack).get("dataTier") or {})
    backup = dict(raw.get("backup") or {})
    for key in SOURCES:
        if isinstance(backup.get(key), dict):
            backup[key] = {k: v for k, v in backup[key].items() if k not in ("accessKeyId", "secretAccessKey")}
    raw["backup"] = backup
    return DataTierConfig.model_validate(raw)


def component_namespaces(stack: str) -> dict[str, str]:
    """Where each backed-up component that is not in the data namespace lives: the Bitnami clusters' backups
    (`orders-postgres`, components/postgres_cluster.py) run in their cluster's namespace."""
    clusters = stack_config(stack).get("postgresClusters") or {}
    return {
        backup_component(name): PostgresClusterConfig.model_validate(raw or {}).namespace or DEFAULT_NAMESPACE
        for name, raw in clusters.items()
    }


@dataclass
class Context:
    stack: str
    tier: DataTierConfig
    kube: Kube
    out: TextIO
    confirm: Callable[[str], bool]

    def bucket(self, source: str) -> Bucket:
        config: BucketConfig | None = getattr(self.tier.backup, source)
        if config is None:
            raise LookupError(f"stack {self.stack} ships no backups to a {source} (dataTier.backup.{source} is unset)")
        secret = SECRETS[source]
        return Bucket(
            config.endpoint,
            config.bucket,
            config.prefix,
            config.region,
            self.kube.secret_value(secret, ACCESS_KEY_ID_KEY),
            self.kube.secret_value(secret, SECRET_ACCESS_KEY_KEY),
        )


def _stamp() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y%m%d%H%M%S")


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def cmd_list(ctx: Context, args: argparse.Namespace) -> int:
    bucket = ctx.bucket(args.source)
    for component in args.components:
        backups = list_backups(bucket, component)
        print(f"{component} ({args.source} {bucket.bucket}/{bucket.prefix}): {len(backups)} backups", file=ctx.out)
        for b in backups:
            print(
                f"  {b.created:%Y-%m-%d %H:%M:%S}Z  {_size(b.size):>10}  {b.object}  sha256 {b.sha256[:12]}",
                file=ctx.out,
            )
    return EXIT_OK


def cmd_backup_now(ctx: Context, args: argparse.Namespace) -> int:
    if args.all:
        names = [n for n in ctx.kube.names("cronjob", BACKUP_SELECTOR) if n.endswith("-backup")]
        if not names:
            print(f"no backup CronJobs in {ctx.kube.namespace}: backups are off in stack {ctx.stack}", file=ctx.out)
            return EXIT_OK
        failed = [n for n in names if _backup_now(ctx, n.removesuffix("-backup"), args.timeout) != EXIT_OK]
        if failed:
            print(f"backups FAILED: {', '.join(failed)}", file=ctx.out)
        return EXIT_FAILED if failed else EXIT_OK
    if not args.component:
        raise ValueError("backup-now needs a component (e.g. product-postgres) or --all")
    return _backup_now(ctx, args.component, args.timeout)


def _backup_now(ctx: Context, component: str, timeout: float, stored_as: str | None = None) -> int:
    """A Job from the CronJob `<component>-backup`, waited for; then the newest backup under `stored_as` (default
    the component) in the bucket: the one it wrote."""
    cronjob = ctx.kube.get("cronjob", f"{component}-backup")
    name = f"{component}-backup-now-{_stamp()}"[:63]
    ctx.kube.create(backup_job(cronjob, name))
    print(f"job {ctx.kube.namespace}/{name} created from cronjob {component}-backup; waiting", file=ctx.out)
    ok = ctx.kube.wait_job(name, timeout)
    containers = ["backup", "upload"] if ships_to_bucket(cronjob) else ["backup"]
    containers += [pitr.BASE_BACKUP] if pitr.has_point_in_time(cronjob) else []
    for container in containers:
        ctx.out.write(ctx.kube.logs(name, container))
    if not ok:
        print(f"backup FAILED: kubectl describe job {name} --namespace {ctx.kube.namespace}", file=ctx.out)
        return EXIT_FAILED
    if ships_to_bucket(cronjob):
        newest = list_backups(ctx.bucket("bucket"), stored_as or component)
        if newest:
            b = newest[-1]
            print(f"backup written: {b.object} ({_size(b.size)}, sha256 {b.sha256}) in the bucket", file=ctx.out)
    return EXIT_OK


@dataclass(frozen=True)
class Workload:
    """The StatefulSet a restore stops: how many pods it had, and the selector of its pods."""

    name: str
    replicas: int
    selector: str


def _workload(ctx: Context, component: str) -> Workload:
    statefulset = ctx.kube.get("statefulset", component)
    labels = statefulset["spec"]["selector"]["matchLabels"]
    return Workload(
        component, int(statefulset["spec"].get("replicas", 1)), ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    )


def _stop(ctx: Context, workload: Workload, timeout: float) -> None:
    ctx.kube.scale("statefulset", workload.name, 0)
    ctx.kube.wait_no_pods(workload.selector, timeout)


def _run_job(ctx: Context, job: dict[str, Any], containers: Sequence[str], timeout: float) -> tuple[bool, str]:
    """Creates the Job, waits for its end, prints its containers' logs; (whether it completed, their logs)."""
    name = job["metadata"]["name"]
    ctx.kube.create(job)
    print(f"job {ctx.kube.namespace}/{name} created; waiting", file=ctx.out)
    ok = ctx.kube.wait_job(name, timeout)
    logs = [ctx.kube.logs(name, container) for container in containers]
    ctx.out.write("".join(logs))
    return ok, "".join(logs)


def _still_stopped(workload: Workload, job: str) -> str:
    return (
        f"restore FAILED (kubectl logs job/{job}): statefulset {workload.name} stays at 0 pods; once resolved, "
        f"`kubectl scale statefulset/{workload.name} --replicas={workload.replicas}` starts it on its volumes as "
        "they are"
    )


def _plan(args: argparse.Namespace, ctx: Context, backup: Backup | None) -> list[str]:
    what = (
        f"{backup.object} ({_size(backup.size)}, {args.source})"
        if backup
        else f"the newest {args.backup_date} dump on the volume"
    )
    into = args.into or "the running database"
    return [
        f"restore {args.component} in stack {ctx.stack}, namespace {ctx.kube.namespace}",
        f"  from:   {what}",
        f"  into:   {into}",
        "  target: "
        + (
            "REPLACED (--force): the dump's tables are dropped and recreated"
            if args.force
            else "must be empty (else refused)"
        ),
    ]


def cmd_restore_to_time(ctx: Context, args: argparse.Namespace) -> int:
    """Point-in-time recovery (backups/pitr.py): the primary's volume restored to --to-time, the standbys re-cloned."""
    component, target = args.component, args.target
    if not ctx.tier.backup.pointInTime.enabled:
        raise ValueError(
            f"stack {ctx.stack} keeps no WAL archive (dataTier.backup.pointInTime.enabled is off): "
            "restore a dump with --backup-date instead"
        )
    if args.into:
        raise ValueError("--to-time restores the database's own volumes; --into (another server) is for dumps")
    if args.source not in pitr.REPOSITORIES:
        raise ValueError(f"--source {args.source}: the WAL archive is in a bucket (--source bucket or offsite)")
    bucket = getattr(ctx.tier.backup, args.source)
    if bucket is None:
        raise ValueError(f"--source {args.source}: stack {ctx.stack} has no dataTier.backup.{args.source}")
    cronjob = ctx.kube.get("cronjob", f"{component}-backup")
    workload = _workload(ctx, component)
    replicas = workload.replicas
    name = f"{component}-pitr-{_stamp()}"[:63]
    job = pitr.restore_job(cronjob, name, component=component, target=target, source=args.source)
    standbys = pitr.replica_claims(component, replicas)
    for line in [
        f"point-in-time restore of {component} in stack {ctx.stack}, namespace {ctx.kube.namespace}",
        f"  stanza:   {component} (pgBackRest repository {pitr.REPOSITORIES[args.source]}, in {args.source} "
        f"{bucket.bucket} under {bucket.prefix}/pgbackrest/{component})",
        f"  to:       {pitr.pgbackrest_target(target)} (the newest base backup before it, then the archived WAL)",
        f"  replaces: the data of {component}-0 (claim {data_claim(component, 0)}): every change after that "
        "moment is lost",
        f"  standbys: {', '.join(standbys)} deleted, re-cloned from the restored primary"
        if standbys
        else "  standbys: none",
        f"  downtime: statefulset {component} scaled {replicas} -> 0, restored, scaled back to {replicas}",
    ]:
        print(line, file=ctx.out)
    if not args.force:
        print("refused: a point-in-time restore always replaces the database's data: add --force", file=ctx.out)
        return EXIT_REFUSED
    if not args.yes and not ctx.confirm("proceed? [y/N] "):
        print("not restored", file=ctx.out)
        return EXIT_REFUSED
    _stop(ctx, workload, args.timeout)
    ok, _ = _run_job(ctx, job, ["restore"], args.timeout)
    if not ok:
        print(_still_stopped(workload, name), file=ctx.out)
        return EXIT_FAILED
    for claim in standbys:
        ctx.kube.delete("persistentvolumeclaim", claim)
    ctx.kube.scale("statefulset", component, replicas)
    print(
        f"restored: {component}-0 replays the WAL up to {pitr.pgbackrest_target(target)} and promotes itself; take a "
        f"base backup of its new timeline: python -m backups backup-now {component} --stack {ctx.stack}",
        file=ctx.out,
    )
    return EXIT_OK


def cmd_restore(ctx: Context, args: argparse.Namespace) -> int:
    if args.to_time:
        return cmd_restore_to_time(ctx, args)
    cronjob = ctx.kube.get("cronjob", f"{args.component}-backup")
    offline = restores_offline(cronjob)
    if offline and args.into:
        raise ValueError(
            f"{args.component} is restored onto its own volume while it is stopped: --into is for databases"
        )
    backup = None
    if args.source != "volume":
        backup = pick(list_backups(ctx.bucket(args.source), args.component), args.backup_date)
    workload = _workload(ctx, args.component) if offline else None
    for line in _plan(args, ctx, backup) if workload is None else _offline_plan(args, ctx, backup, workload):
        print(line, file=ctx.out)
    if not args.yes and not ctx.confirm("proceed? [y/N] "):
        print("not restored", file=ctx.out)
        return EXIT_REFUSED
    name = f"{args.component}-restore-{_stamp()}"[:63]
    job = restore_job(
        cronjob,
        name,
        component=args.component,
        backup_object=backup.object if backup else None,
        source=SOURCES.get(args.source),
        force=args.force,
        host=args.into,
        date=args.backup_date.replace("-", ""),
    )
    containers = (["fetch"] if backup else []) + ["restore"]
    if workload is None:
        ok, _ = _run_job(ctx, job, containers, args.timeout)
        print("restored" if ok else f"restore FAILED (kubectl logs job/{name} --all-containers)", file=ctx.out)
        return EXIT_OK if ok else EXIT_FAILED
    _stop(ctx, workload, args.timeout)
    ok, log = _run_job(ctx, job, containers, args.timeout)
    if not ok and UNCHANGED not in log:
        print(_still_stopped(workload, name), file=ctx.out)
        return EXIT_FAILED
    ctx.kube.scale("statefulset", workload.name, workload.replicas)
    if not ok:
        print(f"not restored, {workload.name} started again on its data as it was", file=ctx.out)
        return EXIT_FAILED
    print(
        f"restored: {workload.name}-0 starts from the snapshot and writes its AOF anew; its replicas resync from it",
        file=ctx.out,
    )
    return EXIT_OK


def _offline_plan(args: argparse.Namespace, ctx: Context, backup: Backup | None, workload: Workload) -> list[str]:
    what = (
        f"{backup.object} ({_size(backup.size)}, {args.source})"
        if backup
        else f"the newest {args.backup_date} snapshot on the volume"
    )
    return [
        f"restore {args.component} in stack {ctx.stack}, namespace {ctx.kube.namespace}",
        f"  from:     {what}",
        f"  into:     the volume of {workload.name}-0 (claim {data_claim(workload.name, 0)}): its dataset becomes the "
        "snapshot; the replicas resync from it",
        "  target:   "
        + (
            "REPLACED (--force): every write after the snapshot is lost"
            if args.force
            else "must hold no dataset (else refused)"
        ),
        f"  downtime: statefulset {workload.name} scaled {workload.replicas} -> 0, restored, scaled back to "
        f"{workload.replicas}",
    ]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m backups", description="Back up and restore the data tier.")
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("-s", "--stack", default="dev", help="stack (Pulumi.<stack>.yaml), default dev")
        return sub

    sub = command("backup-now", "Run a component's backup CronJob now, wait, and report the backup written.")
    sub.add_argument("component", nargs="?", help="e.g. product-postgres, cart-mongodb, redis, fluxion/<tenant id>")
    sub.add_argument("--all", action="store_true", help="every backup CronJob of the data tier, one after another")
    sub.add_argument("--timeout", type=float, default=3600, help="seconds to wait for each Job (default 3600)")

    sub = command("list", "List the complete, verified backups of components in a bucket, with time and size.")
    sub.add_argument("components", nargs="+", metavar="component")
    sub.add_argument("--source", choices=sorted(SOURCES), default="bucket")

    sub = command("restore", "Restore a component from one backup: prints the plan and asks first.")
    sub.add_argument("component")
    sub.add_argument("--backup-date", help="YYYY-MM-DD (UTC): the newest backup of that day (not with --to-time)")
    sub.add_argument(
        "--to-time", help="YYYY-MM-DDTHH:MM:SSZ (UTC): point-in-time restore of a PostgreSQL database (needs --force)"
    )
    sub.add_argument(
        "--source", choices=[*sorted(SOURCES), "volume"], default=None, help="default: bucket if the stack has one"
    )
    sub.add_argument("--into", metavar="HOST", help="restore into another (fresh) server instead of the running one")
    sub.add_argument("--force", action="store_true", help="replace the target's tables if it is not empty")
    sub.add_argument("--yes", action="store_true", help="do not ask (for scripts)")
    sub.add_argument("--timeout", type=float, default=3600)
    return parser


def _ask(prompt: str) -> bool:
    if not sys.stdin.isatty():
        return False  # never hang a script: without a terminal, only --yes proceeds
    return input(prompt).strip().lower() in ("y", "yes")


COMMANDS = {"backup-now": cmd_backup_now, "list": cmd_list, "restore": cmd_restore}


def _per_namespace(
    args: argparse.Namespace,
    tier: DataTierConfig,
    kube_factory: Callable[[str], Any],
    out: TextIO,
    confirm: Callable[[str], bool],
) -> int:
    """Runs the command against the namespace of its component: the data namespace, or a Bitnami cluster's (its
    bucket credentials Secret is a copy of the data tier's there). `backup-now --all` also backs up each cluster,
    which has a backup CronJob only when the stack ships backups to a bucket (components/backups.py)."""
    elsewhere = component_namespaces(args.stack)

    def run(namespace: str, **changes: Any) -> int:
        ctx = Context(args.stack, tier, kube_factory(namespace), out, confirm)
        return COMMANDS[args.command](ctx, argparse.Namespace(**{**vars(args), **changes}))

    tenant_id = tenants.tenant_of(args.component or "") if args.command == "backup-now" else None
    if tenant_id is not None:
        tenants.require_backed_up(args.stack, tier.backup)
        # The tenant's namespace holds its CronJob (named after the namespace) and its copy of the bucket's keys.
        tenant_namespace = tenants.namespace(tenant_id)
        ctx = Context(args.stack, tier, kube_factory(tenant_namespace), out, confirm)
        return _backup_now(ctx, tenant_namespace, args.timeout, stored_as=f"{tenants.PREFIX}{tenant_id}")

    if args.command == "backup-now" and args.all:
        codes = [run(tier.namespace)]
        if tier.backup.enabled and tier.backup.bucket is not None:
            codes += [run(ns, all=False, component=c) for c, ns in sorted(elsewhere.items())]
        return max(codes)
    if args.command == "list":
        by_namespace: dict[str, list[str]] = {}
        for component in args.components:
            by_namespace.setdefault(elsewhere.get(component, tier.namespace), []).append(component)
        return max(run(ns, components=components) for ns, components in by_namespace.items())
    return run(elsewhere.get(args.component or "", tier.namespace))


def main(
    argv: Sequence[str] | None = None,
    *,
    out: TextIO = sys.stdout,
    kube_factory: Callable[[str], Any] = Kube,
    confirm: Callable[[str], bool] = _ask,
) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "restore" and args.backup_date:
            datetime.date.fromisoformat(args.backup_date)
        if args.command == "restore" and args.to_time:
            args.target = pitr.parse_target(args.to_time)
            if args.backup_date and args.backup_date != f"{args.target:%Y-%m-%d}":
                raise ValueError(f"--backup-date {args.backup_date} is not the day of --to-time {args.to_time}")
        elif args.command == "restore" and not args.backup_date:
            raise ValueError("restore needs --backup-date YYYY-MM-DD (a dump) or --to-time YYYY-MM-DDTHH:MM:SSZ")
        tier = data_tier(args.stack)
        if getattr(args, "source", "") is None:
            args.source = "bucket" if tier.backup.bucket else "volume"
        handled = tenants.cli_command(args, tier.backup, kube_factory, out=out, confirm=confirm)
        if handled is not None:
            return handled
        return _per_namespace(args, tier, kube_factory, out, confirm)
    except ValueError as error:
        print(f"backups: {error}", file=sys.stderr)
        return EXIT_REFUSED
    except (KubeError, StoreError, LookupError, JobError) as error:
        print(f"backups: {error}", file=sys.stderr)
        return EXIT_FAILED
