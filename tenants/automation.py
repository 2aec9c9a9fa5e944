"""The thin layer over the Pulumi Automation API: select the stack, set a secret, `up`, read outputs.

Kept free of decisions (those are in `operations`) so that the CLI can be tested with a stand-in runner
and this file is exercised by the engine tier against a real local backend.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from pulumi import automation

from platform_config import PROJECT


class UpdateFailed(RuntimeError):
    """Pulumi refused or failed; for `up`, its output (e.g. a StorageGuard refusal) was already streamed."""


class StackRunner(Protocol):
    """What the CLI needs from Pulumi."""

    def ready(self) -> None: ...

    def set_secret(self, key: str, value: str) -> None: ...

    def up(self) -> None: ...

    def tenant_outputs(self, tenant_id: str) -> dict[str, Any] | None: ...


class AutomationRunner:
    """`pulumi up` of one existing stack of this project (local workspace on the project directory)."""

    def __init__(self, stack: str, project_dir: Path, echo: Callable[[str], Any]) -> None:
        self._stack_name, self._project_dir, self._echo = stack, project_dir, echo
        self._stack: automation.Stack | None = None

    def _select(self) -> automation.Stack:
        if self._stack is None:
            try:
                self._stack = automation.select_stack(stack_name=self._stack_name, work_dir=str(self._project_dir))
            except automation.StackNotFoundError:
                raise UpdateFailed(
                    f"stack {self._stack_name!r} does not exist in the current backend "
                    f"(create it with `pulumi stack init {self._stack_name}`)"
                ) from None
        return self._stack

    def ready(self) -> None:
        """Fail now, before the stack file is touched, if the stack cannot be selected."""
        self._select()

    def set_secret(self, key: str, value: str) -> None:
        self._select().set_config(f"{PROJECT}:{key}", automation.ConfigValue(value=value, secret=True), path=True)

    def up(self) -> None:
        try:
            # show_secrets defaults to True in the Automation API: never let a key reach the progress output.
            self._select().up(on_output=self._echo, show_secrets=False, suppress_outputs=True, color="never")
        except automation.CommandError:
            # The error repeats the whole streamed output; say only that it failed and where to look.
            raise UpdateFailed(f"pulumi up -s {self._stack_name} failed; see its output above") from None

    def tenant_outputs(self, tenant_id: str) -> dict[str, Any] | None:
        fluxion = self._select().outputs().get("fluxion")
        if fluxion is None:
            return None
        return (fluxion.value or {}).get("tenants", {}).get(tenant_id)
