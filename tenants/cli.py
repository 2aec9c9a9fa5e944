"""Command line of the provisioning API (`python -m tenants`); see tenants/__init__.py."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from platform_config import ConfigError

from .automation import AutomationRunner, StackRunner
from .operations import Change, TenantError, deprovision, provision, update_ram, validate_section
from .stackfile import StackFileError, read_section, stack_file, write_section

PROJECT_DIR = Path(__file__).resolve().parent.parent
# Tenant outputs printed after a run, in this order; the API key only with --show-key.
SHOWN_OUTPUTS = ("state", "namespace", "ram", "storage", "cpuRequest", "cpuLimit", "url", "externalUrl")
EXIT_OK, EXIT_FAILED, EXIT_REFUSED = 0, 1, 2

RunnerFactory = Callable[[str, Path, Callable[[str], Any]], StackRunner]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tenants", description="Provision FluxionDB tenants.")
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("-s", "--stack", default="dev", help="stack to change (Pulumi.<stack>.yaml), default dev")
        sub.add_argument("--project-dir", type=Path, default=PROJECT_DIR, help="the Pulumi project directory")
        return sub

    def applying(sub: argparse.ArgumentParser, prints_outputs: bool = True) -> None:
        sub.add_argument("--no-apply", action="store_true", help="only edit the stack file; do not run pulumi up")
        if prints_outputs:
            sub.add_argument("--show-key", action="store_true", help="print the tenant's API key (it is secret)")

    sub = command("provision", "Add a tenant (or bring back a deprovisioned one) with a RAM size.")
    sub.add_argument("tenant_id", metavar="ID")
    sub.add_argument("--ram", required=True, help="RAM as a Kubernetes quantity, at least 256Mi (e.g. 2Gi)")
    sub.add_argument(
        "--api-key-stdin", action="store_true", help="read the tenant's API key from stdin instead of generating one"
    )
    applying(sub)

    sub = command("update-ram", "Resize a tenant; storage follows 2 x RAM and never shrinks.")
    sub.add_argument("tenant_id", metavar="ID")
    sub.add_argument("--ram", required=True, help="the new RAM (e.g. 4Gi)")
    applying(sub)

    sub = command("deprovision", "Stop a tenant; its data is kept unless --delete-data.")
    sub.add_argument("tenant_id", metavar="ID")
    sub.add_argument("--delete-data", action="store_true", help="also delete the tenant's volume and namespace")
    sub.add_argument("--yes", action="store_true", help="confirm --delete-data (data deletion cannot be undone)")
    applying(sub, prints_outputs=False)

    command("list", "List the stack's tenants and their derived sizes.")
    return parser


def _print_tenants(section: dict[str, Any], out: TextIO) -> None:
    config = validate_section(section)
    if not config.tenants:
        print("no tenants", file=out)
        return
    print(f"{'ID':<24} {'STATE':<14} {'RAM':>6} {'STORAGE':>8} {'CPU':>12}  NAMESPACE", file=out)
    for tenant in config.tenants:
        state = "delete-data" if tenant.deleteData else "deprovisioned" if tenant.deprovisioned else "active"
        cpu = "/".join(tenant.cpu)
        print(
            f"{tenant.id:<24} {state:<14} {tenant.ram:>6} {tenant.effective_storage:>8} {cpu:>12}  {tenant.name}",
            file=out,
        )


def _print_outputs(outputs: dict[str, Any] | None, show_key: bool, out: TextIO) -> None:
    if outputs is None:
        return
    for key in SHOWN_OUTPUTS:
        if outputs.get(key) is not None:
            print(f"  {key}: {outputs[key]}", file=out)
    if show_key:
        print(f"  apiKey: {outputs.get('apiKey')}", file=out)
    else:
        secret = f"{outputs.get('namespace')}/{outputs.get('apiKeySecretName')}"
        print(f"  apiKey: [secret] (in Secret {secret}; --show-key prints it)", file=out)


def _plan(args: argparse.Namespace, section: dict[str, Any]) -> Change:
    if args.command == "provision":
        return provision(section, args.tenant_id, args.ram)
    if args.command == "update-ram":
        return update_ram(section, args.tenant_id, args.ram)
    if args.delete_data and not args.yes:
        raise TenantError(f"--delete-data deletes tenant {args.tenant_id}'s volume for good; add --yes to confirm")
    return deprovision(section, args.tenant_id, delete_data=args.delete_data)


def _api_key_index(section: dict[str, Any], tenant_id: str) -> int:
    return next(i for i, entry in enumerate(section["tenants"]) if entry["id"] == tenant_id)


def _read_api_key(args: argparse.Namespace, stdin: TextIO) -> str | None:
    if not getattr(args, "api_key_stdin", False):
        return None
    key = stdin.read().strip()
    if not key:
        raise TenantError("--api-key-stdin was given but stdin held no key")
    return key


def _store_api_key(
    args: argparse.Namespace, section: dict[str, Any], api_key: str, runner: StackRunner | None, out: TextIO
) -> None:
    """Secret config can only be encrypted by Pulumi: through the runner, or by the operator's own CLI."""
    key_path = f"fluxion.tenants[{_api_key_index(section, args.tenant_id)}].apiKey"
    if runner is None:
        print(f"set the key with: pulumi config set --secret --path '{key_path}' -s {args.stack}", file=out)
    else:
        runner.set_secret(key_path, api_key)


def _apply(
    args: argparse.Namespace, change: Change, api_key: str | None, runner: StackRunner | None, out: TextIO
) -> None:
    """Write each step to the stack file and (unless --no-apply) deploy it before the next step."""
    path = stack_file(args.project_dir, args.stack)
    step: Change | None = change
    while step is not None:
        for message in step.messages:
            print(message, file=out)
        print(f"{path.name}: {'updated' if write_section(path, step.section) else 'unchanged'}", file=out)
        if api_key is not None:
            _store_api_key(args, step.section, api_key, runner, out)
            api_key = None
        if runner is not None:
            print(f"pulumi up -s {args.stack} ...", file=out)
            runner.up()
        elif step.follow_up is not None and step.changed:
            print("not applied (--no-apply); deploy, then run the same command again to remove the entry", file=out)
            return
        # Without --no-apply the step was just deployed; with it, an unchanged step was deployed by the
        # operator after an earlier run. Either way the follow-up (the removal) may proceed.
        step = step.follow_up


def run(args: argparse.Namespace, runner_factory: RunnerFactory, out: TextIO, stdin: TextIO) -> int:
    section = read_section(stack_file(args.project_dir, args.stack))
    if args.command == "list":
        _print_tenants(section, out)
        return EXIT_OK
    api_key = _read_api_key(args, stdin)
    change = _plan(args, section)
    runner = None if args.no_apply else runner_factory(args.stack, args.project_dir, lambda line: print(line, file=out))
    if runner is not None:
        runner.ready()
    _apply(args, change, api_key, runner, out)
    if runner is not None and args.command != "deprovision":
        _print_outputs(runner.tenant_outputs(args.tenant_id), args.show_key, out)
    return EXIT_OK


def main(
    argv: Sequence[str] | None = None,
    runner_factory: RunnerFactory = AutomationRunner,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    stdin: TextIO = sys.stdin,
) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args, runner_factory, out, stdin)
    except (ConfigError, TenantError, StackFileError) as error:
        print(f"refused: {error}", file=err)
        return EXIT_REFUSED
    except Exception as error:  # the Automation API's failures (preview refused, up failed) end up here
        print(f"failed: {error}", file=err)
        return EXIT_FAILED
