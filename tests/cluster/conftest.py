"""Cluster-tier fixtures: the loopback control plane (scripts/local-cluster.sh), a copy of the program
that deploys to it, and a kubectl that reads what is there.

The cluster is started once per session, or a healthy running one is reused; it is stopped at the end
only if this session started it. The program's namespaces are fixed names, so the tier's stacks run one
after another (dev, then the prod-shaped one), each destroyed before the next, and leftovers of the
program that the cluster holds before a stack starts (retained namespaces and their claims, from
`make down` or an earlier run) are deleted first. A deployment of the program that still runs there (a
`make up`) is never touched: the tier fails and says how to remove it.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tooling.engine import ProgramCopy, ToolchainMissing
from tooling.paths import REPO_ROOT, TOOLS_BIN

LOCAL_CLUSTER = REPO_ROOT / "scripts" / "local-cluster.sh"
KUBECTL = TOOLS_BIN / "kubectl"
# Namespaces the program creates (every stack), and which the tier clears before a stack starts.
PROGRAM_NAMESPACES = (
    "postgres",
    "data",
    "core-pipeline",
    "order-platform",
    "fluxiondb-example-basic",
    "fluxiondb-example-premium",
)


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

    def get(self, kind: str, namespace: str | None = None, name: str | None = None) -> dict[str, Any]:
        where = ["-n", namespace] if namespace else ["-A"]
        return json.loads(self.run("get", kind, *([name] if name else []), *where, "-o", "json").stdout)

    def items(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        return self.get(kind, namespace)["items"]

    def exists(self, kind: str, namespace: str | None, name: str) -> bool:
        where = ["-n", namespace] if namespace else []
        return self.run("get", kind, name, *where, check=False).returncode == 0

    def clear_program_namespaces(self) -> None:
        """Delete what an earlier deployment of the program retained (namespaces, claims); refuse to touch
        one that still runs, which belongs to someone's `make up`."""
        present = [ns for ns in PROGRAM_NAMESPACES if self.exists("namespace", None, ns)]
        running = [
            f"{ns}/{w['metadata']['name']}" for ns in present for w in self.items("deployments,statefulsets", ns)
        ]
        if running:
            pytest.fail(
                f"the local cluster runs a deployment of this program ({', '.join(running[:3])}, ...): "
                "remove it with `make down` (or `scripts/local-cluster.sh reset`) before the cluster tier"
            )
        if present:
            self.run("delete", "namespace", *present, "--wait=true", "--timeout=240s")


@pytest.fixture(scope="session")
def kubeconfig() -> Iterator[str]:
    if not KUBECTL.exists():
        pytest.fail("the local cluster's binaries are missing: run `make toolchain`")
    running = subprocess.run(["bash", str(LOCAL_CLUSTER), "status"], capture_output=True, check=False).returncode == 0
    started = subprocess.run(
        ["bash", str(LOCAL_CLUSTER), "start"], capture_output=True, text=True, timeout=600, check=False
    )
    if started.returncode != 0:
        pytest.fail(f"scripts/local-cluster.sh start failed:\n{started.stderr[-4000:]}")
    yield started.stdout.strip()
    if not running:
        subprocess.run(["bash", str(LOCAL_CLUSTER), "stop"], capture_output=True, timeout=120, check=False)


@pytest.fixture(scope="session")
def kubectl(kubeconfig: str) -> Kubectl:
    return Kubectl(kubeconfig)


@pytest.fixture(scope="session")
def program(tmp_path_factory: pytest.TempPathFactory, kubeconfig: str) -> ProgramCopy:
    try:
        return ProgramCopy(tmp_path_factory.mktemp("cluster-program"), extra_env={"KUBECONFIG": kubeconfig})
    except ToolchainMissing as missing:
        pytest.fail(str(missing))
