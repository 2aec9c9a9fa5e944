"""The thin layer over the Pulumi Automation API: select the stack, set a secret, `up`, read outputs.

Kept free of decisions (those are in `operations`) so that the CLI can be tested with a stand-in runner
and this file is exercised by the engine tier against a real local backend.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from platform_config import PROJECT


class StackRunner(Protocol):
    """What the CLI needs from Pulumi."""

    def set_secret(self, key: str, value: str) -> None: ...

    def up(self) -> None: ...

    def tenant_outputs(self, tenant_id: str) -> dict[str, Any] | None: ...


class AutomationRunner:
    """`pulumi up` of one existing stack of this project (local workspace on the project directory)."""

    def __init__(self, stack: str, project_dir: Path, echo: Callable[[str], Any]) -> None:
        self._stack_name, self._project_dir, self._echo = stack, project_dir, echo
        self._stack: Any = None

    def _select(self) -> Any:
        if self._stack is None:
            from pulumi import automation

            self._stack = automation.select_stack(stack_name=self._stack_name, work_dir=str(self._project_dir))
        return self._stack

    def set_secret(self, key: str, value: str) -> None:
        from pulumi import automation

        self._select().set_config(f"{PROJECT}:{key}", automation.ConfigValue(value=value, secret=True), path=True)

    def up(self) -> None:
        # show_secrets defaults to True in the Automation API: never let a key reach the progress output.
        self._select().up(on_output=self._echo, show_secrets=False, suppress_outputs=True, color="never")

    def tenant_outputs(self, tenant_id: str) -> dict[str, Any] | None:
        fluxion = self._select().outputs().get("fluxion")
        if fluxion is None:
            return None
        return (fluxion.value or {}).get("tenants", {}).get(tenant_id)
