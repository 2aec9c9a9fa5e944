"""examples/consumer against the real engine: with the platform's dev stack up (render-to-directory, on the
session's local backend), the consumer program resolves a real StackReference to it, previews and renders
its app, and the platform's credentials reach only the consumer's own Secret, encrypted in its state.

The consumer runs from a copy under the engine program's folder (`examples/consumer`, so its
`virtualenv: ../../.venv` finds the shared virtualenv) on the same backend as the platform stack, which is
how an app team's stack reads the platform: by its fully qualified name `organization/nexus-platform/dev`.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tooling.engine import SECRET_SIGNATURE, ProgramCopy, Result, run_pulumi
from tooling.paths import REPO_ROOT

pytestmark = pytest.mark.engine

PLATFORM_STACK = "organization/nexus-platform/dev"
CONSUMER_STACK = "dev"


@dataclass
class Consumer:
    root: Path
    env: dict[str, str]

    @property
    def rendered(self) -> Path:
        return self.root / "rendered"

    def pulumi(self, *args: str) -> Result:
        return run_pulumi(self.root, self.env, (*args, "--stack", CONSUMER_STACK))

    def manifest(self, kind: str) -> dict[str, Any]:
        found = [
            doc
            for path in sorted(self.rendered.rglob("*.yaml"))
            for doc in yaml.safe_load_all(path.read_text())
            if doc and doc.get("kind") == kind
        ]
        assert len(found) == 1, f"expected one {kind}, rendered {len(found)}"
        return found[0]


@pytest.fixture(scope="module")
def platform_outputs(deployed) -> dict[str, Any]:
    return deployed("dev").secret_outputs()


@pytest.fixture(scope="module")
def consumer(engine_program: ProgramCopy, platform_outputs: dict[str, Any]) -> Consumer:
    root = engine_program.root / "examples" / "consumer"
    shutil.copytree(REPO_ROOT / "examples" / "consumer", root, ignore=shutil.ignore_patterns("__pycache__"))
    consumer = Consumer(root, engine_program.env)
    subprocess.run(
        ["pulumi", "stack", "init", CONSUMER_STACK, "--secrets-provider", "passphrase", "--non-interactive"],
        cwd=root,
        env=consumer.env,
        capture_output=True,
        check=True,
    )
    consumer.pulumi("config", "set", "platformStack", PLATFORM_STACK).check("config set platformStack")
    # The default Kubernetes provider renders too, so no cluster is needed.
    consumer.pulumi("config", "set", "kubernetes:renderYamlToDirectory", str(consumer.rendered)).check(
        "config set kubernetes:renderYamlToDirectory"
    )
    return consumer


@pytest.fixture(scope="module")
def preview(consumer: Consumer) -> dict[str, Any]:
    result = consumer.pulumi("preview", "--json").check("pulumi preview of the consumer")
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def deployed_consumer(consumer: Consumer, preview: dict[str, Any]) -> Consumer:
    consumer.pulumi("up", "--yes", "--skip-preview").check("pulumi up of the consumer")
    return consumer


def test_the_consumer_previews_against_the_platform_stack_through_a_real_stack_reference(
    preview: dict[str, Any],
) -> None:
    types = {step["newState"]["type"] for step in preview["steps"]}
    assert {"pulumi:pulumi:StackReference", "kubernetes:core/v1:Secret", "kubernetes:apps/v1:Deployment"} <= types


def test_the_rendered_secret_holds_the_platforms_writer_url(
    deployed_consumer: Consumer, platform_outputs: dict[str, Any]
) -> None:
    secret = deployed_consumer.manifest("Secret")
    # The provider may render stringData as base64 `data`, as the API server would store it.
    values = secret.get("stringData") or {k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()}
    assert values["DATABASE_URL"] == platform_outputs["postgres"]["orders"]["writerUrl"]


def test_the_rendered_deployment_references_the_secret_and_takes_kafka_from_the_data_tier(
    deployed_consumer: Consumer, platform_outputs: dict[str, Any]
) -> None:
    secret_name = deployed_consumer.manifest("Secret")["metadata"]["name"]
    (container,) = deployed_consumer.manifest("Deployment")["spec"]["template"]["spec"]["containers"]
    env = {entry["name"]: entry for entry in container["env"]}
    assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": secret_name, "key": "DATABASE_URL"}
    assert env["KAFKA_BROKERS"]["value"] == platform_outputs["dataTier"]["kafka"]["bootstrapServers"]


def test_no_platform_credential_is_in_the_consumers_state_outside_a_secret_envelope(
    deployed_consumer: Consumer, platform_outputs: dict[str, Any]
) -> None:
    state = deployed_consumer.pulumi("stack", "export").check("pulumi stack export").stdout
    credentials = [
        platform_outputs["postgres"]["orders"]["writerUrl"],
        platform_outputs["postgres"]["orders"]["readerUrl"],
        platform_outputs["dataTier"]["redis"]["url"],
    ]
    assert SECRET_SIGNATURE in state
    assert [c for c in credentials if c in state] == []
