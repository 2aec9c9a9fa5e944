"""Tenant stacks through the Pulumi Automation API: one stack `<env>-<tenant>` of the project in
tenants/project per tenant, each operated in a workspace directory of its own.

Why a directory per stack: the Automation API's workspace files (Pulumi.yaml, Pulumi.<stack>.yaml, the
selected stack) are not safe to share between concurrent operations (pulumi/pulumi#8186), and a tenant's
settings are its stack's config, which a DIY backend keeps in Pulumi.<stack>.yaml next to the project
file. `<workspaces>/<stack>/` holds exactly that: a generated Pulumi.yaml pointing at the committed
program (`main:`) and the stack's own settings file. Operations on one tenant are serialized by the
service (tenants/service.py), so a stack's directory is only ever used by one operation at a time. A
worker that finds no directory (a new machine over the same backend) rebuilds it from the backend:
`pulumi config refresh` restores the config of the stack's last deployment.

Nothing here decides anything: the service validates requests, computes the tenant's next settings, and
calls `apply`, `delete_data` or `outputs`.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import yaml
from pulumi import automation

from platform_config.fluxion import TENANT_PROJECT, TenantConfig, tenant_stack_name
from tooling.paths import REPO_ROOT

logger = logging.getLogger("tenants")
PROGRAM_DIR = REPO_ROOT / "tenants" / "project"
VENV = REPO_ROOT / ".venv"
# The Automation API's default shows secrets in progress output; every call here says otherwise.
QUIET = {"show_secrets": False, "color": "never"}
# Without it every workspace (one per request) runs `pulumi version` first: a CLI start of its own (0.4 s of
# CPU here) to check a version the toolchain already pins (toolchain/versions.env).
SKIP_VERSION_CHECK = {"PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK": "true"}


class EngineError(RuntimeError):
    """Pulumi refused or failed; the message carries the CLI's own error lines."""


def cli_errors(error: automation.CommandError) -> str:
    """What the CLI wrote to stderr (a CommandError carries it only in its text)."""
    stderr = str(error).partition("\n stderr: ")[2].strip()
    return stderr or str(error).strip()


class TenantEngine(Protocol):
    """What the service needs from Pulumi (tests of the service's rules use a stand-in)."""

    def apply(self, tenant: TenantConfig, api_key: str | None, log: Callable[[str], Any]) -> dict[str, Any]: ...

    def delete_data(self, tenant: TenantConfig, log: Callable[[str], Any]) -> None: ...

    def outputs(self, tenant_id: str, show_secrets: bool = False) -> dict[str, Any] | None: ...


_LOCK_HOLDER = re.compile(r"(?P<user>[^\s@]+)@(?P<host>[^\s]+) \(pid (?P<pid>\d+)\)")


def dead_local_lock_holder(message: str, hostname: str | None = None) -> bool:
    """Whether a 'stack is locked' error names a `pulumi` process of this host that no longer runs (a worker
    killed mid-update leaves its lock behind; a live one, or one on another host, is waited for)."""
    hostname = hostname or socket.gethostname()
    holders = list(_LOCK_HOLDER.finditer(message))
    if not holders:
        return False
    for holder in holders:
        if holder["host"] != hostname:
            return False
        try:
            os.kill(int(holder["pid"]), 0)
        except ProcessLookupError:
            continue
        except PermissionError:
            return False
        return False
    return True


# What the CLI says when a stack's state cannot be read (a torn file of the DIY backend, below).
UNREADABLE_CHECKPOINT = "failed to load checkpoint"


def repair_torn_attributes(backend_url: str | None, stack_name: str) -> bool:
    """Remove the empty attributes file a SIGKILL can leave beside a stack's state on a file:// backend, and say
    whether it did. The backend writes the state itself atomically but its `.attrs` sidecar (content type, MD5) in
    place: a worker killed in between leaves it empty, and every later command fails with "failed to load
    checkpoint: EOF" although the state is whole. Without the sidecar the backend reads the state as it is."""
    if not backend_url or not backend_url.startswith("file://"):
        return False
    stacks = Path(backend_url.removeprefix("file://")).expanduser() / ".pulumi" / "stacks" / TENANT_PROJECT
    attributes = stacks / f"{stack_name}.json.attrs"
    if attributes.is_file() and attributes.stat().st_size == 0 and (stacks / f"{stack_name}.json").is_file():
        attributes.unlink()
        return True
    return False


@dataclass(frozen=True)
class AutomationEngine:
    """Tenant stacks next to platform stack `platform_stack` (its short name, e.g. dev), referenced as
    `platform_stack_ref` (fully qualified: organization/nexus-platform/dev on a DIY backend)."""

    platform_stack: str
    platform_stack_ref: str
    workspaces: Path
    env: Mapping[str, str]
    lock_wait_seconds: float = 600.0

    def stack_name(self, tenant_id: str) -> str:
        return tenant_stack_name(self.platform_stack, tenant_id)

    def _workspace(self, stack_name: str) -> automation.LocalWorkspace:
        work_dir = self.workspaces / stack_name
        work_dir.mkdir(parents=True, exist_ok=True)
        settings = automation.ProjectSettings(
            name=TENANT_PROJECT,
            runtime=automation.ProjectRuntimeInfo(name="python", options={"toolchain": "pip", "virtualenv": str(VENV)}),
            main=str(PROGRAM_DIR),
        )
        return automation.LocalWorkspace(
            work_dir=str(work_dir), project_settings=settings, env_vars={**SKIP_VERSION_CHECK, **self.env}
        )

    def _stack(self, stack_name: str, create: bool) -> automation.Stack | None:
        workspace = self._workspace(stack_name)
        settings_file = Path(workspace.work_dir) / f"Pulumi.{stack_name}.yaml"
        try:
            stack = automation.Stack.select(stack_name, workspace)
            if not settings_file.exists():
                stack.refresh_config()  # a new worker machine: the config of the last deployment
            return stack
        except automation.StackNotFoundError:
            if not create:
                return None
            return automation.Stack.create(stack_name, workspace)

    def _configure(self, stack: automation.Stack, tenant: TenantConfig, api_key: str | None) -> None:
        """Write the tenant's settings into its stack's settings file (kept: what Pulumi put there, i.e. the
        encryption salt and the secret `apiKey`), then the API key, if one came, as a secret. The file is
        edited as YAML rather than through the Automation API's StackSettings, which drops object values."""
        path = Path(stack.workspace.work_dir) / f"Pulumi.{stack.name}.yaml"
        document = (yaml.safe_load(path.read_text()) if path.exists() else None) or {}
        config = document.setdefault("config", {})
        config[f"{TENANT_PROJECT}:platformStack"] = self.platform_stack_ref
        config[f"{TENANT_PROJECT}:tenant"] = tenant.model_dump(mode="json", exclude={"apiKey"}, exclude_defaults=True)
        config[f"{TENANT_PROJECT}:tenant"] |= {"id": tenant.id, "ram": tenant.ram}
        path.write_text(yaml.safe_dump(document, sort_keys=True))
        if api_key is not None:
            stack.set_config(f"{TENANT_PROJECT}:apiKey", automation.ConfigValue(value=api_key, secret=True))

    def _up(self, stack: automation.Stack, log: Callable[[str], Any]) -> automation.UpResult:
        """`pulumi up`; while another update holds the stack, wait for it (up to `lock_wait_seconds`), and
        cancel a lock whose pulumi process, on this host, is gone (a worker killed mid-update)."""
        deadline = time.monotonic() + self.lock_wait_seconds
        while True:
            try:
                return stack.up(on_output=log, suppress_outputs=True, **QUIET)
            except automation.ConcurrentUpdateError as error:
                message = cli_errors(error)
                if dead_local_lock_holder(message):
                    warning = f"{stack.name}: cancelling the update lock a killed pulumi process left"
                    log(warning)
                    logger.warning(warning)
                    stack.cancel()
                elif time.monotonic() > deadline:
                    raise EngineError(
                        f"pulumi up -s {stack.name}: another update held the stack for {self.lock_wait_seconds}s:\n"
                        f"{message}"
                    ) from None
                else:
                    time.sleep(2)
            except automation.CommandError as error:
                raise EngineError(f"pulumi up -s {stack.name} failed:\n{cli_errors(error)}") from None

    def apply(self, tenant: TenantConfig, api_key: str | None, log: Callable[[str], Any]) -> dict[str, Any]:
        name = self.stack_name(tenant.id)
        try:
            return self._apply(name, tenant, api_key, log)
        except (automation.CommandError, EngineError) as error:
            backend = self.env.get("PULUMI_BACKEND_URL") or os.environ.get("PULUMI_BACKEND_URL")
            if UNREADABLE_CHECKPOINT not in str(error) or not repair_torn_attributes(backend, name):
                raise
            warning = f"{name}: removed the empty state attributes file a killed pulumi process left; retrying"
            log(warning)
            logger.warning(warning)
            return self._apply(name, tenant, api_key, log)

    def _apply(self, name: str, tenant: TenantConfig, api_key: str | None, log: Callable[[str], Any]) -> dict[str, Any]:
        stack = self._stack(name, create=True)
        assert stack is not None
        self._configure(stack, tenant, api_key)
        result = self._up(stack, log)
        return _plain_outputs(result.outputs)

    def create(self, tenant: TenantConfig, api_key: str | None) -> automation.Stack:
        """The tenant's stack, configured, not deployed (the migration moves state into it instead)."""
        stack = self._stack(self.stack_name(tenant.id), create=True)
        assert stack is not None
        self._configure(stack, tenant, api_key)
        return stack

    def pending_changes(self, tenant_id: str) -> dict[str, int]:
        """What `pulumi preview` of the tenant's stack would change, by operation (empty: nothing)."""
        stack = self._stack(self.stack_name(tenant_id), create=False)
        if stack is None:
            raise EngineError(f"no stack {self.stack_name(tenant_id)}")
        summary = stack.preview(color="never").change_summary
        return {op: count for op, count in summary.items() if op != "same" and count}

    def delete_data(self, tenant: TenantConfig, log: Callable[[str], Any]) -> None:
        """Deploy `deleteData: true` (the claim and namespace lose retain-on-delete), then destroy the stack
        and remove it."""
        stack = self._stack(self.stack_name(tenant.id), create=False)
        if stack is None:
            log(f"{self.stack_name(tenant.id)}: no such stack; nothing to delete")
            return
        self._configure(stack, tenant.model_copy(update={"deprovisioned": True, "deleteData": True}), None)
        self._up(stack, log)
        try:
            stack.destroy(on_output=log, **QUIET)
        except automation.CommandError as error:
            raise EngineError(f"pulumi destroy -s {stack.name} failed:\n{cli_errors(error)}") from None
        stack.workspace.remove_stack(stack.name)

    def outputs(self, tenant_id: str, show_secrets: bool = False) -> dict[str, Any] | None:
        stack = self._stack(self.stack_name(tenant_id), create=False)
        if stack is None:
            return None
        outputs = stack.outputs()
        tenant = outputs.get("tenant")
        if tenant is None:
            return None
        value = dict(tenant.value or {})
        if not show_secrets:
            value.pop("apiKey", None)
        return value


def _plain_outputs(outputs: Mapping[str, automation.OutputValue]) -> dict[str, Any]:
    """The tenant's outputs without its API key (the one secret): what the service stores and shows."""
    tenant = outputs.get("tenant")
    value = dict(tenant.value or {}) if tenant is not None else {}
    value.pop("apiKey", None)
    return value
