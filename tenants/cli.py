"""Command line of the tenant operations (`python -m tenants`); see tenants/__init__.py.

Each command goes through the very operations the HTTP API runs (tenants.service over the same durable
store), then runs the accepted operation in this process and prints its outcome. `serve` starts the API.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import unquote, urlsplit

from tooling.paths import REPO_ROOT

from .engine import AutomationEngine, TenantEngine
from .service import Accepted, RequestError, TenantService
from .store import DONE, Store

DEFAULT_STATE_DIR = REPO_ROOT / ".tenants"
TOKEN_FILE_ENV, TOKEN_ENV = "NEXUS_TENANTS_API_TOKEN_FILE", "NEXUS_TENANTS_API_TOKEN"
DATABASE_URL_ENV = "NEXUS_TENANTS_DATABASE_URL"
EXIT_OK, EXIT_FAILED, EXIT_REFUSED = 0, 1, 2
SHOWN_OUTPUTS = ("state", "namespace", "ram", "storage", "cpuRequest", "cpuLimit", "url", "externalUrl")

EngineFactory = Callable[[argparse.Namespace], TenantEngine]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tenants", description="FluxionDB tenants, one stack each.")
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("-s", "--stack", default="dev", help="the platform stack the tenants belong to (default dev)")
        sub.add_argument(
            "--platform-stack-ref",
            help="the platform stack fully qualified (default organization/nexus-platform/<stack>, a DIY backend's)",
        )
        sub.add_argument(
            "--state-dir",
            type=Path,
            default=Path(os.environ.get("NEXUS_TENANTS_STATE_DIR", DEFAULT_STATE_DIR)),
            help="operations database and tenant workspaces (default .tenants/, or $NEXUS_TENANTS_STATE_DIR)",
        )
        return sub

    sub = command("provision", "Provision a tenant (or bring a deprovisioned one back with its data).")
    sub.add_argument("tenant_id", metavar="ID")
    sub.add_argument("--ram", required=True, help="RAM as a Kubernetes quantity, at least 256Mi (e.g. 2Gi)")
    sub.add_argument("--api-key-stdin", action="store_true", help="read the tenant's API key from stdin")
    sub.add_argument("--show-key", action="store_true", help="print the tenant's API key (it is secret)")

    sub = command("update-ram", "Resize a tenant; storage follows 2 x RAM (a lower RAM is refused).")
    sub.add_argument("tenant_id", metavar="ID")
    sub.add_argument("--ram", required=True, help="the new RAM (e.g. 4Gi)")

    sub = command("deprovision", "Stop a tenant; its namespace, volume and API key are kept.")
    sub.add_argument("tenant_id", metavar="ID")

    sub = command("delete-data", "Delete a deprovisioned tenant's volume, namespace and stack, for good.")
    sub.add_argument("tenant_id", metavar="ID")
    sub.add_argument("--yes", action="store_true", help="confirm: the data cannot be brought back")

    sub = command("migrate", "Move the platform stack's fluxion.tenants into stacks of their own (no deploy).")
    sub.add_argument("--project-dir", type=Path, default=REPO_ROOT, help="the platform project (default: this repo)")
    sub.add_argument("--verify", action="store_true", help="preview every stack afterwards; fail unless all empty")

    command("list", "List the tenants and their sizes.")
    command("operations", "List operations (queued, running, done, failed with a reason).")

    sub = command("serve", "Run the provisioning API (token from $NEXUS_TENANTS_API_TOKEN_FILE or _TOKEN).")
    sub.add_argument("--host", default="127.0.0.1")
    sub.add_argument("--port", type=int, default=8080)
    sub.add_argument("--workers", type=int, default=8, help="operations run at once (default 8)")
    sub.add_argument("--lease-seconds", type=float, default=30.0, help="a dead worker's operation resumes after this")
    return parser


def state_paths(args: argparse.Namespace) -> tuple[Path, Path]:
    root = args.state_dir / args.stack
    return root / "operations.sqlite3", root / "workspaces"


def automation_engine(args: argparse.Namespace) -> TenantEngine:
    _, workspaces = state_paths(args)
    reference = args.platform_stack_ref or f"organization/nexus-platform/{args.stack}"
    return AutomationEngine(args.stack, reference, workspaces, env={})


def open_store(args: argparse.Namespace, environ: Mapping[str, str] = os.environ) -> Store:
    """SQLite under the state directory, or PostgreSQL when $NEXUS_TENANTS_DATABASE_URL says
    `postgresql://user:password@host:port/database` (from the environment: it carries a password)."""
    url = environ.get(DATABASE_URL_ENV)
    if not url:
        return Store.sqlite(state_paths(args)[0])
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres") or not parts.hostname or not parts.path.strip("/"):
        raise RequestError(
            400, f"{DATABASE_URL_ENV} must be postgresql://user:password@host:port/database", DATABASE_URL_ENV
        )
    return Store.postgres(
        host=parts.hostname,
        port=parts.port or 5432,
        user=unquote(parts.username or ""),
        password=unquote(parts.password or "") or None,
        database=parts.path.strip("/"),
    )


def read_token(environ: dict[str, str] | os._Environ[str] = os.environ) -> str:
    if path := environ.get(TOKEN_FILE_ENV):
        return Path(path).read_text().strip()
    return environ.get(TOKEN_ENV, "").strip()


def _print_tenant(tenant: dict[str, Any] | None, out: TextIO, api_key: str | None = None) -> None:
    if tenant is None:
        return
    outputs = tenant.get("outputs") or {}
    for key in SHOWN_OUTPUTS:
        if outputs.get(key) is not None:
            print(f"  {key}: {outputs[key]}", file=out)
    if api_key is not None:
        print(f"  apiKey: {api_key}", file=out)
    elif outputs.get("apiKeySecretName"):
        where = f"{outputs.get('namespace')}/{outputs['apiKeySecretName']}"
        print(f"  apiKey: [secret] (in Secret {where}; --show-key prints it)", file=out)


def _run(service: TenantService, accepted: Accepted, out: TextIO) -> int:
    if accepted.operation is None:
        print("nothing to do: the tenant already is as asked", file=out)
        return EXIT_OK
    operation = accepted.operation
    print(f"{operation.kind} {operation.tenant_id}: operation {operation.id}", file=out)
    finished = service.run_one(operation.id)
    print(f"{finished.kind} {finished.tenant_id}: {finished.status}", file=out)
    if finished.status != DONE:
        print(f"  reason: {finished.reason}", file=out)
        return EXIT_FAILED
    return EXIT_OK


def serve(args: argparse.Namespace, service: TenantService, out: TextIO) -> int:
    from .api import make_server

    token = read_token()
    if not token:
        raise RequestError(401, f"no API token: set {TOKEN_FILE_ENV} (a file holding it) or {TOKEN_ENV}", TOKEN_ENV)
    server = make_server(service, token, args.host, args.port)
    service.start()
    print(f"serving on http://{args.host}:{server.server_address[1]} with {args.workers} workers", file=out, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    try:
        server.serve_forever()
    finally:
        service.stop(timeout=5)
    return EXIT_OK


def _migrate(args: argparse.Namespace, service: TenantService, out: TextIO) -> int:
    from .migrate import migrate, select_platform

    engine = service.engine
    assert isinstance(engine, AutomationEngine), "migrate runs the Automation API"
    platform = select_platform(args.stack, args.project_dir)
    moved = migrate(platform, engine, service.store, lambda line: print(line, file=out, flush=True))
    print(f"moved {len(moved)} tenants: {', '.join(m.tenant_id for m in moved) or 'none'}", file=out)
    if not args.verify:
        return EXIT_OK
    pending = {platform.name: {k: v for k, v in platform.preview(color="never").change_summary.items() if k != "same"}}
    pending |= {m.stack: engine.pending_changes(m.tenant_id) for m in moved}
    changed = {stack: ops for stack, ops in pending.items() if any(ops.values())}
    for stack, ops in pending.items():
        print(f"preview {stack}: {ops or 'no changes'}", file=out)
    return EXIT_FAILED if changed else EXIT_OK


def run(args: argparse.Namespace, engine_factory: EngineFactory, out: TextIO, stdin: TextIO) -> int:
    store = open_store(args)
    workers = getattr(args, "workers", 1)
    service = TenantService(
        store, engine_factory(args), workers=workers, lease_seconds=getattr(args, "lease_seconds", 30.0)
    )
    if args.command == "serve":
        return serve(args, service, out)
    if args.command == "migrate":
        return _migrate(args, service, out)
    if args.command == "list":
        for tenant in service.tenants():
            print(
                f"{tenant['userId']:<24} {tenant['state']:<14} {tenant['ramSize']:>6} {tenant['storage']:>8}", file=out
            )
        return EXIT_OK
    if args.command == "operations":
        for operation in store.operations():
            print(json.dumps(operation.public()), file=out)
        return EXIT_OK
    if args.command == "provision":
        body: dict[str, Any] = {"userId": args.tenant_id, "ramSize": args.ram}
        if args.api_key_stdin:
            body["apiKey"] = stdin.read().strip()
        code = _run(service, service.provision(body), out)
        if code == EXIT_OK:
            shown = service.tenant(args.tenant_id, show_api_key=args.show_key)
            _print_tenant(shown, out, shown.get("apiKey") if args.show_key else None)
        return code
    if args.command == "update-ram":
        code = _run(service, service.resize(args.tenant_id, {"ramSize": args.ram}), out)
        if code == EXIT_OK:
            _print_tenant(service.tenant(args.tenant_id), out)
        return code
    if args.command == "deprovision":
        return _run(service, service.deprovision(args.tenant_id), out)
    if args.command == "delete-data":
        if not args.yes:
            raise RequestError(
                400, f"delete-data deletes tenant {args.tenant_id}'s volume for good; add --yes", "--yes"
            )
        return _run(service, service.delete_data(args.tenant_id), out)
    raise AssertionError(args.command)


def main(
    argv: Sequence[str] | None = None,
    engine_factory: EngineFactory = automation_engine,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    stdin: TextIO = sys.stdin,
) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=err)
    args = build_parser().parse_args(argv)
    try:
        return run(args, engine_factory, out, stdin)
    except RequestError as error:
        print(f"refused: {error.field + ': ' if error.field else ''}{error.message}", file=err)
        return EXIT_REFUSED
