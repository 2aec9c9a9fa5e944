"""`python -m tenants migrate --stack dev`: move the tenants a platform stack deploys (`fluxion.tenants`)
into stacks of their own, without touching the cluster.

For each tenant of the platform stack's config (or, when the stack file no longer lists any, as the committed
stack files do since tenants left the platform stack, of the config its last deployment ran with: the
`fluxion.tenants` a deployment made before that change still has in its state):
1. create its stack `<env>-<tenant>` (tenants/engine.py's workspace) with the same settings, an
   operator-supplied API key as the stack's secret `apiKey`;
2. `pulumi state move` the tenant's FluxionTenant component and every resource under it from the platform
   stack into the tenant stack (the engine copies the providers they use; names are the same on both sides,
   see tenants/project/__main__.py, so nothing is replaced);
then remove `fluxion.tenants` from the platform stack's config and record the tenants in the API's store.
Nothing is deployed: `--verify` previews every stack afterwards and fails unless all are empty.

Breaking change for consumers: a tenant's outputs move from the platform's `fluxion.tenants.<id>` to the
tenant stack's `tenant` output (docs/tenants.md).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi import automation

from platform_config import PROJECT
from platform_config.fluxion import TENANT_PROJECT, FluxionConfig

from .engine import AutomationEngine, EngineError, cli_errors
from .service import ACTIVE, DEPROVISIONED
from .store import Store

COMPONENT_TYPE = "nexus:fluxion:FluxionTenant"


@dataclass(frozen=True)
class Moved:
    tenant_id: str
    stack: str
    urns: list[str]


def tenant_urns(resources: list[dict[str, Any]], tenant_name: str) -> list[str]:
    """The URNs of tenant `tenant_name`'s FluxionTenant component and of every resource under it (by
    parent), in state order: what `pulumi state move` moves. Providers are not among them: the engine
    copies the providers moved resources use."""
    roots = {r["urn"] for r in resources if r.get("type") == COMPONENT_TYPE and r["urn"].endswith(f"::{tenant_name}")}
    if not roots:
        return []
    moved = set(roots)
    grew = True
    while grew:
        before = len(moved)
        moved |= {r["urn"] for r in resources if r.get("parent") in moved}
        grew = len(moved) != before
    return [r["urn"] for r in resources if r["urn"] in moved]


def _config_section(stack: automation.Stack) -> dict[str, Any]:
    value = stack.get_all_config().get(f"{PROJECT}:fluxion")
    if value is None:
        return {}
    return json.loads(value.value) if isinstance(value.value, str) else dict(value.value)


def _deployed_config_section(platform: automation.Stack, log: Callable[[str], Any]) -> dict[str, Any]:
    """The `fluxion` config of the platform stack's last deployment (`pulumi config refresh`), leaving the stack
    file as it is: the file is the operator's (and git's), only its tenants are to be read from the backend."""
    stack_file = Path(platform.workspace.work_dir) / f"Pulumi.{platform.name}.yaml"
    committed = stack_file.read_bytes() if stack_file.exists() else None
    try:
        platform.refresh_config()
        section = _config_section(platform)
    except automation.CommandError as error:
        raise EngineError(
            f"reading the last deployment's config of {platform.name} failed:\n{cli_errors(error)}"
        ) from None
    finally:
        if committed is None:
            stack_file.unlink(missing_ok=True)
        else:
            stack_file.write_bytes(committed)
    if section.get("tenants"):
        log(f"{platform.name}: Pulumi.{platform.name}.yaml lists no tenants; moving those of its last deployment")
    return section


def migrate(
    platform: automation.Stack,
    engine: AutomationEngine,
    store: Store,
    log: Callable[[str], Any],
    env: dict[str, str] | None = None,
) -> list[Moved]:
    """Move every tenant of `platform`'s config into its own stack; see the module docstring."""
    section = _config_section(platform)
    resources = platform.export_stack().deployment.get("resources", [])
    from_file = bool(section.get("tenants"))
    if not from_file and any(r.get("type") == COMPONENT_TYPE for r in resources):
        section = _deployed_config_section(platform, log)
    config = FluxionConfig.model_validate(section)
    work_dir = platform.workspace.work_dir
    moved: list[Moved] = []
    for tenant, raw in zip(config.tenants, section.get("tenants", []), strict=True):
        urns = tenant_urns(resources, tenant.name)
        if not urns:
            log(f"{tenant.id}: not in the platform stack's state; nothing to move")
            continue
        api_key = raw.get("apiKey") if isinstance(raw.get("apiKey"), str) else None
        stack = engine.create(tenant.model_copy(update={"apiKey": None}), api_key)
        organization = engine.platform_stack_ref.split("/")[0]
        destination = f"{organization}/{TENANT_PROJECT}/{stack.name}"
        log(f"{tenant.id}: moving {len(urns)} resources to {destination}")
        proc = subprocess.run(
            [
                "pulumi",
                "state",
                "move",
                "--source",
                platform.name,
                "--dest",
                destination,
                "--yes",
                "--non-interactive",
                *urns,
            ],
            cwd=work_dir,
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise EngineError(f"pulumi state move of tenant {tenant.id} failed:\n{proc.stderr or proc.stdout}")
        state = DEPROVISIONED if tenant.deprovisioned else ACTIVE
        store.register(
            tenant.id,
            tenant.model_dump(mode="json", exclude={"apiKey"}, exclude_defaults=True)
            | {"id": tenant.id, "ram": tenant.ram},
            state,
        )
        moved.append(Moved(tenant.id, stack.name, urns))
    if config.tenants and from_file:
        try:
            platform.remove_config("fluxion.tenants", path=True)
        except automation.CommandError as error:
            raise EngineError(f"removing fluxion.tenants from {platform.name} failed:\n{cli_errors(error)}") from None
        log(f"{platform.name}: fluxion.tenants removed from Pulumi.{platform.name}.yaml (commit that file)")
    return moved


def select_platform(stack: str, project_dir: Path) -> automation.Stack:
    return automation.select_stack(stack_name=stack, work_dir=str(project_dir))
