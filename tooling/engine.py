"""The real Pulumi engine for tests and benchmarks: a copy of the program on a backend of its own.

`ProgramCopy` copies the program (never the stack files of the working tree) into a temporary folder
that shares the project's virtualenv, and gives it a private file backend and passphrase, so test stacks
can never collide with an operator's stacks. `ProgramCopy.stack(...)` creates a stack there from a
committed stack file plus overrides (the Bitnami chart's test double by default: its registry is out of
reach here) and sets the secret config an operator would set. Pulumi runs as the CLI, exactly as users
run it, with the pinned toolchain from `scripts/pulumi-env.sh`. `offline=True` runs a command in a network
namespace of its own holding only loopback (`unshare -n`, needs root), to show it needs no network.

In render mode the Kubernetes provider writes Secrets to `rendered/<stack>` in plaintext (it warns so):
keep the copy in a temporary folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from platform_config import PROJECT
from platform_config.operator_secrets import OPERATOR_SECRET_KEYS
from tooling.paths import BITNAMI_STANDIN, PULUMI_ENV_SCRIPT, REPO_ROOT
from tooling.stackfiles import deep_merge, stack_config

PROGRAM_PATHS = ("__main__.py", "Pulumi.yaml", "components", "platform_config", "charts", "policy")
# Operator-set secret config the committed stack files cannot carry (staging/prod require them).
OPERATOR_SECRETS = {key: f"engine-test-{key}" for key in OPERATOR_SECRET_KEYS}
PASSPHRASE = "engine-tests-only"  # a throwaway backend's; protects nothing
TIMEOUT = 900
# The marker key Pulumi puts next to "ciphertext" in a state file's secret envelope.
SECRET_SIGNATURE = "4dabf18193072939515e22adb298388d"


class ToolchainMissing(RuntimeError):
    pass


def pulumi_environment(backend: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """scripts/pulumi-env.sh's environment (pinned tools first on PATH, the project's PULUMI_HOME), with
    this copy's own backend and passphrase."""
    seed = {
        **os.environ,
        "PULUMI_BACKEND_URL": f"file://{backend}",
        "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
        **(extra or {}),
    }
    dump = subprocess.run(
        ["bash", "-c", f"source {PULUMI_ENV_SCRIPT} && env -0"],
        env=seed,
        capture_output=True,
        check=True,
    ).stdout.decode()
    env = dict(entry.split("=", 1) for entry in dump.split("\0") if "=" in entry)
    if not shutil.which("pulumi", path=env["PATH"]):
        raise ToolchainMissing("the pulumi CLI is not on PATH: run `make toolchain`")
    return env


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def check(self, what: str) -> Result:
        if self.returncode != 0:
            raise AssertionError(f"{what} failed ({self.returncode}):\n{self.stdout[-6000:]}\n{self.stderr[-6000:]}")
        return self


def run_pulumi(
    cwd: Path, env: Mapping[str, str], args: Sequence[str], timeout: int = TIMEOUT, offline: bool = False
) -> Result:
    """The pulumi CLI in `cwd`, non-interactive; `offline` runs it in a network namespace of its own."""
    command = ["pulumi", *args, "--non-interactive"]
    if offline:
        # No network means no cluster either: a home without the ambient ~/.kube/config a copy may be given.
        offline_home = cwd / ".offline-home"
        offline_home.mkdir(exist_ok=True)
        env = {**env, "HOME": str(offline_home)}
        # A fresh network namespace has only a downed loopback; bring it up, since the engine talks to
        # its plugins over gRPC on 127.0.0.1.
        command = ["unshare", "-n", "bash", "-c", 'ip link set lo up && exec "$@"', "offline", *command]
    proc = subprocess.run(command, cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=timeout, check=False)
    return Result(proc.returncode, proc.stdout, proc.stderr)


class ProgramCopy:
    """The program copied into `root`, with its own backend under `root/state`."""

    def __init__(self, root: Path, extra_env: Mapping[str, str] | None = None) -> None:
        self.root = root
        for name in PROGRAM_PATHS:
            source = REPO_ROOT / name
            if source.is_dir():
                shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__", "*.tgz"))
            else:
                shutil.copy2(source, root / name)
        (root / ".venv").symlink_to(REPO_ROOT / ".venv")
        (root / "state").mkdir()
        self.env = pulumi_environment(root / "state", extra_env)

    def pulumi(self, *args: str, timeout: int = TIMEOUT, offline: bool = False) -> Result:
        return run_pulumi(self.root, self.env, args, timeout=timeout, offline=offline)

    def stack(
        self,
        name: str,
        base: str,
        overrides: Mapping[str, Any] | None = None,
        render: bool = True,
        secrets: Mapping[str, str] | None = None,
    ) -> ScratchStack:
        """Stack `name` from `Pulumi.<base>.yaml` plus overrides; rendering to `rendered/<name>` unless told
        to deploy (then the kubeconfig comes from the environment or the overrides)."""
        defaults: dict[str, Any] = {"postgresChart": {"path": str(BITNAMI_STANDIN)}}
        if render:
            defaults["kubernetes"] = {"renderYamlToDirectory": str(self.root / "rendered" / name)}
        config = deep_merge(deep_merge(stack_config(base), defaults), overrides or {})
        stack = ScratchStack(self, name)
        stack.write_config(config)
        self.pulumi("stack", "init", name, "--secrets-provider", "passphrase").check(f"pulumi stack init {name}")
        for key, value in {**OPERATOR_SECRETS, **(secrets or {})}.items():
            path = ["--path"] if "." in key else []  # a nested key: dataTier.backup.bucket.secretAccessKey
            stack.run("config", "set", "--secret", *path, f"{PROJECT}:{key}", value).check(f"config set {key}")
        return stack


class ScratchStack:
    def __init__(self, program: ProgramCopy, name: str) -> None:
        self.program = program
        self.name = name

    @property
    def file(self) -> Path:
        return self.program.root / f"Pulumi.{self.name}.yaml"

    @property
    def rendered(self) -> Path:
        return self.program.root / "rendered" / self.name

    def write_config(self, config: Mapping[str, Any]) -> None:
        """Replace the stack's plain config, keeping what Pulumi added (salt, encrypted secrets)."""
        document = yaml.safe_load(self.file.read_text()) if self.file.exists() else {}
        document = document or {}
        kept = {k: v for k, v in (document.get("config") or {}).items() if isinstance(v, dict) and "secure" in v}
        document["config"] = {**{f"{PROJECT}:{k}": v for k, v in config.items()}, **kept}
        self.file.write_text(yaml.safe_dump(document))

    def config(self) -> dict[str, Any]:
        document = yaml.safe_load(self.file.read_text()) or {}
        prefix = f"{PROJECT}:"
        return {
            k.removeprefix(prefix): v
            for k, v in (document.get("config") or {}).items()
            if k.startswith(prefix) and not (isinstance(v, dict) and "secure" in v)
        }

    def update_config(self, overrides: Mapping[str, Any]) -> None:
        self.write_config(deep_merge(self.config(), overrides))

    @contextmanager
    def overridden(self, overrides: Mapping[str, Any]) -> Iterator[ScratchStack]:
        """The stack with its config temporarily changed (e.g. to preview a change), restored afterwards."""
        saved = self.file.read_text()
        self.update_config(overrides)
        try:
            yield self
        finally:
            self.file.write_text(saved)

    def run(self, *args: str, timeout: int = TIMEOUT, offline: bool = False) -> Result:
        return self.program.pulumi(*args, "--stack", self.name, timeout=timeout, offline=offline)

    def preview(self, *args: str, offline: bool = False) -> Result:
        return self.run("preview", "--diff", *args, offline=offline)

    def preview_json(self, *args: str, offline: bool = False) -> dict[str, Any]:
        """`pulumi preview --json`: the steps (one per resource, with `newState.type`/`parent`) and diagnostics."""
        result = self.run("preview", "--json", *args, offline=offline).check("pulumi preview --json")
        return json.loads(result.stdout)

    def manifests(self) -> list[dict[str, Any]]:
        """Every object the provider wrote to the render directory (CRDs first, as it orders them)."""
        documents = []
        for path in sorted(self.rendered.rglob("*.yaml")):
            documents.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
        return documents

    def up(self, *args: str) -> Result:
        return self.run("up", "--yes", "--skip-preview", *args)

    def destroy(self, *args: str) -> Result:
        return self.run("destroy", "--yes", "--skip-preview", *args)

    def outputs(self, show_secrets: bool = False) -> dict[str, Any]:
        args = ("stack", "output", "--json", *(("--show-secrets",) if show_secrets else ()))
        return json.loads(self.run(*args).check("pulumi stack output").stdout)

    def export(self) -> dict[str, Any]:
        return json.loads(self.run("stack", "export").check("pulumi stack export").stdout)

    def remove(self) -> None:
        self.run("stack", "rm", "--yes", "--force")
