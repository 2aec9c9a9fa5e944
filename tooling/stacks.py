"""Run the real Pulumi program (`__main__.py`) under Pulumi's mocks, for one stack's configuration.

`run_stack("prod")` loads `Pulumi.prod.yaml`, applies overrides, runs the program with mocked resource
registration and returns every resource it registered (type, name, resolved inputs) and its stack
outputs, with the set of output paths that are Pulumi secrets.
"""

from __future__ import annotations

import asyncio
import json
import runpy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import pulumi
from pulumi.runtime import config as runtime_config
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.proto import callback_pb2

from platform_config import PROJECT
from platform_config.operator_secrets import OPERATOR_SECRET_KEYS
from tooling import stackfiles
from tooling.paths import REPO_ROOT
from tooling.stackfiles import deep_merge

MAIN = REPO_ROOT / "__main__.py"
STACKS = ("dev", "staging", "prod")
# Secret stack config the committed stack files cannot carry (encrypted per stack by `pulumi config set
# --secret`); tests supply them the way an operator would.
TEST_SECRETS: dict[str, str] = {key: f"test-{key}" for key in OPERATOR_SECRET_KEYS}

# The tenants each committed stack deployed in the platform stack before tenants became stacks of their own
# (issue 19). Tests of what the platform stack still supports for such deployments (`fluxion.tenants`, the
# migration out of it, its StorageGuard) and of what a tenant deploys per environment add them as overrides.
EXAMPLE_TENANTS: dict[str, list[dict[str, str]]] = {
    "dev": [{"id": "example-basic", "ram": "512Mi"}, {"id": "example-premium", "ram": "2Gi"}],
    "staging": [{"id": "example-basic", "ram": "1Gi"}, {"id": "example-premium", "ram": "4Gi"}],
    "prod": [{"id": "example-basic", "ram": "1Gi"}, {"id": "example-premium", "ram": "8Gi"}],
}


def with_example_tenants(stack: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """OVERRIDES plus the stack's EXAMPLE_TENANTS in its `fluxion.tenants`."""
    return deep_merge(dict(overrides or {}), {"fluxion": {"tenants": EXAMPLE_TENANTS[stack]}})


def stack_config(stack: str) -> dict[str, Any]:
    """The stack file's `nexus-platform:` keys as a deployed stack has them: TEST_SECRETS stand in for the
    encrypted keys `pulumi config set --secret` adds, which the committed files lack."""
    return {**stackfiles.stack_config(stack), **TEST_SECRETS}


@dataclass
class MockedResource:
    type: str
    name: str
    inputs: dict[str, Any]
    # Input paths (`stringData`, `values.auth`) the program marked secret.
    secret_inputs: set[str] = field(default_factory=set)

    def is_secret_input(self, path: str) -> bool:
        parts = path.split(".")
        return any(".".join(parts[:i]) in self.secret_inputs for i in range(1, len(parts) + 1))


_SECRET_SIGNATURE = ("4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270")


def _unwrap_secrets(value: Any, path: str, secrets: set[str]) -> Any:
    """The mock monitor hands inputs over with Pulumi's secret envelopes; record where they were."""
    if isinstance(value, Mapping):
        if value.get(_SECRET_SIGNATURE[0]) == _SECRET_SIGNATURE[1]:
            secrets.add(path)
            return _unwrap_secrets(value.get("value"), path, secrets)
        return {k: _unwrap_secrets(v, f"{path}.{k}" if path else str(k), secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap_secrets(v, f"{path}.{i}", secrets) for i, v in enumerate(value)]
    return value


@dataclass
class StackRun:
    resources: list[MockedResource]
    outputs: dict[str, Any]
    secret_paths: set[str] = field(default_factory=set)
    # Resource transforms the program registered (functions), e.g. on its Helm charts.
    transforms: list[Any] = field(default_factory=list)

    def of_type(self, type_token: str) -> list[MockedResource]:
        return [r for r in self.resources if r.type == type_token]

    def named(self, name: str) -> MockedResource:
        found = [r for r in self.resources if r.name == name]
        assert len(found) == 1, f"expected one resource named {name!r}, found {len(found)}: {self.names()}"
        return found[0]

    def names(self) -> list[str]:
        return sorted(r.name for r in self.resources)

    def charts(self) -> dict[str, MockedResource]:
        """Helm v4 Chart resources by Pulumi resource name."""
        return {r.name: r for r in self.of_type("kubernetes:helm.sh/v4:Chart")}

    def is_secret(self, path: str) -> bool:
        """True when the output at `a.b.c` (or an enclosing output) is a Pulumi secret."""
        parts = path.split(".")
        return any(".".join(parts[:i]) in self.secret_paths for i in range(1, len(parts) + 1))


class RecordingMocks(pulumi.runtime.Mocks):
    """Records every registration; gives generated values (passwords) recognisable fake results."""

    def __init__(self) -> None:
        self.resources: list[MockedResource] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        outputs = dict(args.inputs)
        if args.typ == "random:index/randomPassword:RandomPassword":
            outputs["result"] = f"generated-{args.name}"
        secret_inputs: set[str] = set()
        inputs = _unwrap_secrets(dict(args.inputs), "", secret_inputs)
        self.resources.append(MockedResource(args.typ, args.name, inputs, secret_inputs))
        return [f"{args.name}-id", outputs]

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


class RecordingCallbacks:
    """Stands in for the engine's callback server, which mocks lack, so resource transforms can be
    registered; records which transforms the program asked for."""

    def __init__(self) -> None:
        self.transforms: list[Any] = []

    def register_transform(self, transform: Any) -> callback_pb2.Callback:
        self.transforms.append(transform)
        return callback_pb2.Callback(token=f"transform-{len(self.transforms)}", target="mock")


async def _resolve(value: Any, path: str, secrets: set[str]) -> Any:
    if isinstance(value, pulumi.Output):
        if await value.is_secret():
            secrets.add(path)
        return await _resolve(await value.future(), path, secrets)
    if isinstance(value, Mapping):
        return {k: await _resolve(v, f"{path}.{k}" if path else str(k), secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [await _resolve(v, f"{path}.{i}", secrets) for i, v in enumerate(value)]
    return value


def encode_config(config: Mapping[str, Any]) -> dict[str, str]:
    """Stack config as the Pulumi engine hands it to a program: strings, structured values as JSON."""
    return {f"{PROJECT}:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}


def run_stack(stack: str, overrides: Mapping[str, Any] | None = None, preview: bool = False) -> StackRun:
    """Run `__main__.py` under mocks with `Pulumi.<stack>.yaml` (plus overrides) as its config."""
    config = deep_merge({**stack_config(stack), **TEST_SECRETS}, overrides or {})
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview)
    callbacks = RecordingCallbacks()
    runtime_settings.SETTINGS.callbacks = callbacks
    runtime_config.set_all_config(encode_config(config), secret_keys=[f"{PROJECT}:{k}" for k in TEST_SECRETS])
    exports: dict[str, Any] = {}
    resolved: dict[str, Any] = {}
    secrets: set[str] = set()

    @pulumi.runtime.test
    def program():
        with mock.patch.object(pulumi, "export", exports.__setitem__):
            runpy.run_path(str(MAIN), run_name="__main__")

        async def resolve_outputs():
            resolved.update(await _resolve(exports, "", secrets))

        return asyncio.ensure_future(resolve_outputs())

    program()
    return StackRun(resources=mocks.resources, outputs=resolved, secret_paths=secrets, transforms=callbacks.transforms)
