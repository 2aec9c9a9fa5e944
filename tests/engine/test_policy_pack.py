"""The policy pack runs in the real engine: `pulumi preview --policy-pack policy` passes on every stack
with its environment's configuration, and deliberately bad variants (a `latest` image, privileged
containers, another environment's configuration) are rejected with the rule's message where the rule is
mandatory (staging), and only reported where it is advisory (dev).

Each case previews a throwaway stack in a copy of the program on its own file backend
(tooling/engine.py: no stack file of the working tree is touched), named after the environment whose
committed stack file it copies, with `kubernetes.renderYamlToDirectory` set so nothing needs a cluster and
the Bitnami chart's test double.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from tooling.engine import ProgramCopy
from tooling.paths import BITNAMI_STANDIN

pytestmark = pytest.mark.engine


@dataclass
class Preview:
    returncode: int
    output: str

    def policy_lines(self) -> list[str]:
        """The `[mandatory]`/`[advisory]` lines of the Policies section, for assertion messages."""
        return [line.strip() for line in self.output.splitlines() if "[mandatory]" in line or "[advisory]" in line]


@pytest.fixture(scope="module")
def program(new_program) -> ProgramCopy:
    """A copy of its own: these stacks reuse the committed stacks' names (the pack's `../.venv` resolves too)."""
    return new_program("policy-engine")


@pytest.fixture(scope="module")
def previews(program: ProgramCopy):
    """Each (stack, overrides, configuration) previewed once, on first use."""
    stacks: dict = {}
    done: dict[str, Preview] = {}

    def run(stack: str, base: str, environment: str, overrides: Mapping[str, Any] | None = None) -> Preview:
        key = json.dumps([stack, base, environment, overrides], sort_keys=True)
        if key not in done:
            if stack not in stacks:
                stacks[stack] = program.stack(stack, base, overrides)
            result = stacks[stack].preview(
                "--policy-pack", "policy", "--policy-pack-config", f"policy/config/{environment}.json"
            )
            if "method RunPlugin not implemented" in result.output:
                pytest.fail(
                    "the Python language host on PATH cannot start policy packs (LanguageRuntime.RunPlugin is "
                    "not implemented): toolchain/langhost must implement it for `pulumi preview --policy-pack`"
                )
            done[key] = Preview(result.returncode, result.output)
        return done[key]

    return run


LATEST_IMAGE = {"postgresClusters": {"orders": {"image": {"tag": "latest"}}}}
PRIVILEGED_MESSAGE = (
    "StatefulSet postgres/orders-postgresql-primary: container 'postgresql' is privileged; remove "
    "securityContext.privileged"
)


@pytest.fixture(scope="module")
def privileged_chart(program: ProgramCopy) -> dict[str, Any]:
    """Overrides pointing the stack at a copy of the Bitnami test double whose containers run privileged."""
    chart = program.root / "privileged-standin"
    shutil.copytree(BITNAMI_STANDIN, chart)
    helpers = chart / "templates" / "_helpers.tpl"
    text = helpers.read_text()
    assert "privileged: false" in text
    helpers.write_text(text.replace("privileged: false", "privileged: true"))
    return {"postgresChart": {"path": str(chart)}}


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_stack_passes_the_policy_pack_with_its_environments_configuration(previews, stack):
    result = previews(stack, stack, stack)
    assert result.returncode == 0, "\n".join(result.policy_lines()) or result.output[-4000:]


def test_a_staging_variant_running_a_latest_image_is_rejected_with_the_rules_message(previews):
    result = previews("staging-latest", "staging", "staging", LATEST_IMAGE)
    assert result.returncode != 0
    assert any("[mandatory]  images-pinned" in line for line in result.output.splitlines()), result.output[-4000:]
    assert "image 'docker.io/bitnamilegacy/postgresql:latest' uses 'latest'; pin a version tag or digest" in (
        result.output
    )


def test_the_same_latest_image_does_not_block_dev_where_the_rule_is_out_of_scope(previews):
    result = previews("dev-latest", "dev", "dev", LATEST_IMAGE)
    assert result.returncode == 0, "\n".join(result.policy_lines()) or result.output[-4000:]


def test_a_prod_stack_checked_with_the_dev_configuration_is_refused_by_the_environment_guard(previews):
    result = previews("prod", "prod", "dev")
    assert result.returncode != 0
    assert (
        "stack 'prod' is being checked with the 'dev' policy configuration; pass --policy-pack-config "
        "policy/config/prod.json" in result.output
    )


def test_a_privileged_container_only_warns_in_dev(previews, privileged_chart):
    result = previews("dev-privileged", "dev", "dev", privileged_chart)
    assert result.returncode == 0, result.output[-4000:]
    assert "[advisory]  container-not-privileged" in result.output
    assert PRIVILEGED_MESSAGE in result.output


def test_a_privileged_container_blocks_staging_with_the_rules_message(previews, privileged_chart):
    result = previews("staging-privileged", "staging", "staging", privileged_chart)
    assert result.returncode != 0
    assert "[mandatory]  container-not-privileged" in result.output
    assert PRIVILEGED_MESSAGE in result.output
