"""Cluster-tier fixtures: a loopback control plane of the tier's own, a copy of the program that deploys
to it, and a kubectl that reads what is there.

The tier never uses the cluster `make up` deploys to, nor its state: it starts the `test` instance of
tooling.local_cluster (state in `.local-cluster-test/`, ports LOCAL_TEST_PORT_OFFSET above make up's) with
its data wiped, once per session, and stops it at the end (its logs stay for a look after a failure). The
program copy has a backend of its own (tooling.engine), so `.pulumi-state/` is not touched either. The
program's namespaces are fixed names, so the tier's stacks run one after another (dev, then the
prod-shaped one), each destroyed before the next, and what a stack's destroy retained (namespaces and
their claims) is deleted before the next one starts.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest

from platform_config.fluxion import tenant_resource_name
from tooling.engine import ProgramCopy, ToolchainMissing
from tooling.paths import TOOLS_BIN
from tooling.stacks import EXAMPLE_TENANTS

KUBECTL = TOOLS_BIN / "kubectl"
# Namespaces the program creates (every stack), with those of the example tenants the tier's stacks add to the
# platform stack (no committed stack deploys a tenant there any more), which the tier clears before a stack starts.
PROGRAM_NAMESPACES = (
    "postgres",
    "data",
    "core-pipeline",
    "order-platform",
    *(tenant_resource_name(t["id"]) for t in EXAMPLE_TENANTS["dev"]),
)


def eventually(check: Callable[[], Any], timeout: float = 60, interval: float = 0.25) -> Any:
    """CHECK's first truthy answer within TIMEOUT seconds (asked every INTERVAL), else its last one."""
    deadline = time.monotonic() + timeout
    while True:
        answer = check()
        if answer or time.monotonic() > deadline:
            return answer
        time.sleep(interval)


class Kubectl:
    def __init__(self, kubeconfig: str) -> None:
        self.kubeconfig = kubeconfig

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [str(KUBECTL), "--kubeconfig", self.kubeconfig, *args],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {proc.stderr}")
        return proc

    def apply(self, namespace: str, *objects: dict[str, Any]) -> None:
        manifest = json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)})
        proc = subprocess.run(
            [str(KUBECTL), "--kubeconfig", self.kubeconfig, "-n", namespace, "apply", "-f", "-"],
            input=manifest,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if proc.returncode != 0:
            raise AssertionError(f"kubectl apply failed: {proc.stderr}")

    def get(self, kind: str, namespace: str | None = None, name: str | None = None) -> dict[str, Any]:
        where = ["-n", namespace] if namespace else ["-A"]
        return json.loads(self.run("get", kind, *([name] if name else []), *where, "-o", "json").stdout)

    def items(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        return self.get(kind, namespace)["items"]

    def exists(self, kind: str, namespace: str | None, name: str) -> bool:
        where = ["-n", namespace] if namespace else []
        return self.run("get", kind, name, *where, check=False).returncode == 0

    def clear_program_namespaces(self) -> None:
        """Delete what an earlier stack of this tier retained on destroy (namespaces and their claims)."""
        present = [ns for ns in PROGRAM_NAMESPACES if self.exists("namespace", None, ns)]
        if present:
            self.run("delete", "namespace", *present, "--wait=true", "--timeout=240s")


@pytest.fixture(scope="session")
def kubeconfig(test_cluster_kubeconfig: str) -> str:
    """The tier's own cluster (the `test` instance, tests/conftest.py)."""
    return test_cluster_kubeconfig


@pytest.fixture(scope="session")
def kubectl(kubeconfig: str) -> Kubectl:
    return Kubectl(kubeconfig)


@pytest.fixture(scope="session")
def program(tmp_path_factory: pytest.TempPathFactory, kubeconfig: str) -> ProgramCopy:
    try:
        return ProgramCopy(tmp_path_factory.mktemp("cluster-program"), extra_env={"KUBECONFIG": kubeconfig})
    except ToolchainMissing as missing:
        pytest.fail(str(missing))
