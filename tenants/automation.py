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
    """Pulumi refused or failed. For `up`, the progress output (e.g. a StorageGuard refusal) was already
    streamed; the message carries the CLI's own error (stderr), e.g. that another update holds the stack."""


def engine_errors(error: automation.CommandError) -> str:
    """What the pulumi CLI wrote to stderr (its `error:` lines and their detail), which the streamed progress
    output never shows. A CommandError carries it only in its text (`code: ... stdout: ... stderr: ...`)."""
    stderr = str(error).partition("\n stderr: ")[2].strip()
    return stderr or "(the CLI wrote no error; its progress output is above)"


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
        except automation.ConcurrentUpdateError as error:
            raise UpdateFailed(
                f"pulumi up -s {self._stack_name} did not start: another update holds the stack.\n"
                f"{engine_errors(error)}\n"
                f"Wait for that update to finish and run the command again; if none is running (one was killed "
                f"and left its lock), `pulumi cancel -s {self._stack_name}` releases it."
            ) from None
        except automation.CommandError as error:
            # Only stdout was streamed above; the engine's own error lines went to stderr: show those.
            raise UpdateFailed(f"pulumi up -s {self._stack_name} failed:\n{engine_errors(error)}") from None

    def tenant_outputs(self, tenant_id: str) -> dict[str, Any] | None:
        fluxion = self._select().outputs().get("fluxion")
        if fluxion is None:
            return None
        return (fluxion.value or {}).get("tenants", {}).get(tenant_id)
