"""Engine-tier fixtures: one copy of the program per session, each committed stack brought up once.

`deployed(name)` creates the stack from `Pulumi.<name>.yaml` (Bitnami test double, operator secrets set,
render-to-directory on), records `pulumi preview --json` before anything exists, runs `pulumi up` and
keeps what the tests read afterwards. The render directory holds Secrets in plaintext by design of
render mode; it lives in pytest's temporary folder and nowhere else.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tooling.engine import ProgramCopy, Result, ScratchStack, ToolchainMissing


@dataclass
class DeployedStack:
    stack: ScratchStack
    preview: dict[str, Any]  # `pulumi preview --json` of the empty stack
    up: Result
    cache: dict[str, Any] = field(default_factory=dict)

    def _once(self, key: str, make: Callable[[], Any]) -> Any:
        if key not in self.cache:
            self.cache[key] = make()
        return self.cache[key]

    def export(self) -> dict[str, Any]:
        return self._once("export", self.stack.export)

    def outputs(self) -> dict[str, Any]:
        return self._once("outputs", self.stack.outputs)

    def secret_outputs(self) -> dict[str, Any]:
        return self._once("secret_outputs", lambda: self.stack.outputs(show_secrets=True))

    def manifests(self) -> list[dict[str, Any]]:
        return self._once("manifests", self.stack.manifests)


@pytest.fixture(scope="session")
def new_program(tmp_path_factory: pytest.TempPathFactory, test_cluster_kubeconfig: str) -> Callable[[str], ProgramCopy]:
    """`new_program(name)`: a fresh copy of the program (own backend) in a temporary folder; the tier fails,
    rather than skips, without the pinned toolchain.

    Stacks render to a directory and never deploy, but the provider must know whether each kind is namespaced:
    built-in kinds it knows, custom ones (staging and prod's ServiceMonitors and PrometheusRules) it asks a
    cluster's discovery API. So the copy sees the test tiers' own local cluster (its ambient kubeconfig),
    which serves the Prometheus Operator's CRDs, as a real cluster with the operator would."""

    # As the ambient ~/.kube/config of a home of their own: the SDK turns a KUBECONFIG variable into the
    # provider's `kubeconfig` argument, which the provider refuses next to `renderYamlToDirectory`.
    home = tmp_path_factory.mktemp("engine-home")
    (home / ".kube").mkdir()
    shutil.copyfile(test_cluster_kubeconfig, home / ".kube" / "config")

    def make(name: str) -> ProgramCopy:
        try:
            return ProgramCopy(tmp_path_factory.mktemp(name), extra_env={"HOME": str(home)})
        except ToolchainMissing as err:
            pytest.fail(str(err))

    return make


@pytest.fixture(scope="session")
def engine_program(new_program: Callable[[str], ProgramCopy]) -> ProgramCopy:
    return new_program("engine-program")


@pytest.fixture(scope="session")
def deployed(engine_program: ProgramCopy) -> Callable[[str], DeployedStack]:
    done: dict[str, DeployedStack] = {}
    failed: dict[str, AssertionError] = {}

    def get(name: str) -> DeployedStack:
        if name in failed:  # the stack exists half-made: report the first failure, don't retry
            raise failed[name]
        if name not in done:
            try:
                stack = engine_program.stack(name, name)
                preview = stack.preview_json()
                done[name] = DeployedStack(stack, preview, stack.up().check(f"pulumi up {name}"))
            except AssertionError as err:
                failed[name] = err
                raise
        return done[name]

    return get
