"""A rotation through the real engine (render mode): the passwords it replaces and the ones it creates stay inside
Pulumi's secret envelope in the exported state, like every other credential (test_stack_lifecycle.py checks the
unrotated stacks the same way), and the rotated stack previews empty afterwards."""

from __future__ import annotations

import base64

import pytest

from tests.engine.test_stack_lifecycle import plaintext_of, rendered_credentials
from tests.rotations import DEV_ROTATION
from tooling.engine import ProgramCopy

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def rotated(engine_program: ProgramCopy):
    stack = engine_program.stack("engine-rotation", "dev")
    stack.up().check("pulumi up of dev (render mode)")
    before = rendered_credentials(stack.manifests())
    stack.update_config({"credentialRotation": DEV_ROTATION})
    stack.up().check("pulumi up of the rotation (render mode)")
    return stack, before, rendered_credentials(stack.manifests())


def test_a_rotation_changes_the_rotated_credentials_in_the_rendered_secrets(rotated):
    _, before, after = rotated
    changed = {where for where in after if before.get(where) != after[where]}
    assert "Secret/product-postgres-secret.password" in changed
    assert "Secret/redis-secret.password" in changed and "Secret/redis-secret.previous-password" in changed
    assert "Secret/product-postgres-next-credentials.next-admin-password" in changed


def test_neither_the_old_nor_the_new_passwords_of_a_rotation_appear_outside_the_secret_envelope(rotated):
    stack, before, after = rotated
    plaintext = plaintext_of(stack.export())
    values = {f"old {where}": v for where, v in before.items()} | {f"new {where}": v for where, v in after.items()}
    leaked = [
        where
        for where, value in values.items()
        if len(value) >= 16 and (value in plaintext or base64.b64encode(value.encode()).decode() in plaintext)
    ]
    assert not leaked, f"in the state export outside the secret envelope: {leaked}"


def test_a_rotated_stack_previews_no_changes(rotated):
    stack, _, _ = rotated
    stack.preview("--expect-no-changes").check("pulumi preview --expect-no-changes after the rotation")
