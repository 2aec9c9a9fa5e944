"""`python -m tenants` against the real CLI: when another update holds the stack, the command says so, with
the engine's own message and what to do, instead of pointing at output that was never shown.

Invariant protected: an operator who meets a concurrent update learns what failed. The other update is a
lock file in the file backend, exactly what a running `pulumi up` leaves there.
"""

from __future__ import annotations

import json

import pytest

from tenants.automation import AutomationRunner, UpdateFailed

pytestmark = pytest.mark.engine

STACK = "dev-locked"


def test_an_update_while_another_holds_the_stack_fails_with_the_engines_message_and_what_to_do(
    engine_program, monkeypatch
):
    engine_program.stack(STACK, "dev")
    lock_dir = engine_program.root / "state" / ".pulumi" / "locks" / "organization" / "nexus-platform" / STACK
    lock_dir.mkdir(parents=True, exist_ok=True)
    lock = {"pid": 4242, "username": "ops", "hostname": "deploy-host", "timestamp": "2026-12-02T04:00:00Z"}
    (lock_dir / "other-update.json").write_text(json.dumps(lock))
    for key, value in engine_program.env.items():
        monkeypatch.setenv(key, value)

    echoed: list[str] = []
    runner = AutomationRunner(STACK, engine_program.root, echoed.append)
    with pytest.raises(UpdateFailed) as failed:
        runner.up()
    message = str(failed.value)
    assert "another update holds the stack" in message
    assert "the stack is currently locked by 1 lock(s)" in message and "ops@deploy-host (pid 4242)" in message
    assert f"`pulumi cancel -s {STACK}`" in message
