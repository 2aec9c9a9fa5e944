"""The CI workflows keep their promises: a pull request runs `make test` before previewing every stack
with the policy pack and posting the diff; a merge deploys dev, then staging, then prod, the last two in
approval-gated environments; backend and secrets provider always come from repository secrets."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tooling.paths import REPO_ROOT

pytestmark = pytest.mark.unit

WORKFLOWS = REPO_ROOT / ".github" / "workflows"


def workflow(name: str) -> dict[str, Any]:
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the bare key `on` as a boolean.
    document["on"] = document.pop(True, document.get("on"))
    return document


def _code(path: Path) -> str:
    """The workflow without its comments (which show example URLs)."""
    return "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("#"))


def pulumi_step(job: dict[str, Any]) -> dict[str, Any]:
    (step,) = [step for step in job["steps"] if str(step.get("uses", "")).startswith("pulumi/actions@")]
    return step


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yml")), ids=lambda path: path.name)
def test_every_workflow_parses_and_has_jobs(path: Path):
    assert yaml.safe_load(path.read_text())["jobs"]


def test_pull_requests_preview_only_after_make_test():
    preview = workflow("preview.yml")
    assert preview["on"] == {"pull_request": {"branches": ["main"]}}
    assert preview["jobs"]["test"]["uses"] == "./.github/workflows/make-test.yml"
    assert preview["jobs"]["preview"]["needs"] == "test"


def test_make_test_is_the_test_entry_point():
    steps = workflow("make-test.yml")["jobs"]["make-test"]["steps"]
    assert [step["run"] for step in steps if "run" in step] == ["make test"]


def test_every_stack_is_previewed_with_its_policy_configuration_and_commented_on_the_pull_request():
    job = workflow("preview.yml")["jobs"]["preview"]
    step = pulumi_step(job)["with"]
    assert job["strategy"]["matrix"]["stack"] == ["dev", "staging", "prod"]
    assert (step["command"], step["stack-name"], step["comment-on-pr"]) == ("preview", "${{ matrix.stack }}", True)
    assert (step["policyPacks"], step["policyPackConfigs"]) == ("policy", "policy/config/${{ matrix.stack }}.json")


def test_merges_deploy_dev_then_staging_then_prod_in_their_environments():
    jobs = workflow("deploy.yml")["jobs"]
    chain = [(name, jobs[name]["needs"], jobs[name]["with"]["environment"]) for name in ("dev", "staging", "prod")]
    assert chain == [("dev", "test", "dev"), ("staging", "dev", "staging"), ("prod", "staging", "production")]


def test_deployments_run_in_the_environment_they_are_given_with_the_policy_pack():
    job = workflow("pulumi-up.yml")["jobs"]["up"]
    step = pulumi_step(job)["with"]
    assert job["environment"] == "${{ inputs.environment }}"
    assert (step["command"], step["policyPacks"], step["policyPackConfigs"]) == (
        "up",
        "policy",
        "policy/config/${{ inputs.stack }}.json",
    )


@pytest.mark.parametrize("name", ["preview.yml", "pulumi-up.yml"])
def test_backend_and_passphrase_come_from_repository_secrets(name):
    job = workflow(name)["jobs"]["up" if name == "pulumi-up.yml" else "preview"]
    assert pulumi_step(job)["with"]["cloud-url"] == "${{ secrets.PULUMI_BACKEND_URL }}"
    assert job["env"]["PULUMI_CONFIG_PASSPHRASE"] == "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}"


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yml")), ids=lambda path: path.name)
def test_no_workflow_hard_codes_a_backend_url(path: Path):
    assert not re.search(r"(s3|gs|azblob|file)://", _code(path))
