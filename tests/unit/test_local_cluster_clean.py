"""`make clean` never deletes the local backend's record of a stack that still has resources: it refuses,
names the stack and the command that removes it, and deletes nothing. With no such stack, it removes the
local state as before. Runs `make clean` in a copy of the tree's scripts and tooling, so the real
`.pulumi-state/` and clusters are never involved."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tooling.paths import REPO_ROOT

pytestmark = pytest.mark.unit

STACKS = Path(".pulumi-state") / ".pulumi" / "stacks" / "nexus-platform"


def checkpoint(stack: str, types: list[str]) -> dict:
    resources = [{"urn": f"urn:pulumi:{stack}::nexus-platform::{t}::r{i}", "type": t} for i, t in enumerate(types)]
    return {
        "version": 3,
        "checkpoint": {"stack": f"organization/nexus-platform/{stack}", "latest": {"resources": resources}},
    }


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    for part in ("Makefile", "Pulumi.dev.yaml", "toolchain/versions.env"):
        (root / part).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / part, root / part)
    for folder in ("scripts", "tooling"):
        shutil.copytree(REPO_ROOT / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    (root / ".venv").symlink_to(REPO_ROOT / ".venv")
    (root / STACKS).mkdir(parents=True)
    for folder in (".rendered", ".scratch", ".local-cluster"):
        (root / folder).mkdir()
    return root


def make_clean(root: Path) -> subprocess.CompletedProcess[str]:
    # without the user's LOCAL_* settings (LOCAL_CLUSTER_DIR would point the copy at a real cluster's folder)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCAL_")}
    return subprocess.run(
        ["make", "-C", str(root), "clean"], capture_output=True, text=True, timeout=120, check=False, env=env
    )


def test_make_clean_refuses_while_a_local_stack_has_resources(tree: Path) -> None:
    deployed = tree / STACKS / "dev-local.json"
    deployed.write_text(
        json.dumps(
            checkpoint(
                "dev-local", ["pulumi:pulumi:Stack", "pulumi:providers:kubernetes", "kubernetes:core/v1:Namespace"]
            )
        )
    )
    result = make_clean(tree)
    assert result.returncode != 0
    assert "dev-local: 1 resources" in result.stderr
    assert "make down STACK=dev" in result.stderr
    assert deployed.is_file()
    assert (tree / ".local-cluster").is_dir()


def test_make_clean_removes_the_local_state_once_every_stack_is_destroyed(tree: Path) -> None:
    (tree / STACKS / "dev-local.json").write_text(json.dumps(checkpoint("dev-local", [])))
    result = make_clean(tree)
    assert result.returncode == 0, result.stderr
    assert [p for p in (".pulumi-state", ".rendered", ".scratch", ".local-cluster") if (tree / p).exists()] == []
