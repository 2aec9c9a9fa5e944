"""The CI workflows keep their promises: a pull request runs `make test` before previewing every stack
with the policy pack, posting the diff and saving the update plan of that same preview, keyed by stack and
git tree; a merge deploys dev, then staging, then prod, the last two in approval-gated environments, each
applying only the plan saved for the tree it deploys (`pulumi up --plan`; no plan, no deploy); a schedule
checks every stack for drift with the `make drift` module, which changes nothing, and reports it; backend
and secrets provider always come from repository secrets."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tooling import drift
from tooling.local_cluster.config import read_env_file
from tooling.paths import REPO_ROOT

pytestmark = pytest.mark.unit

WORKFLOWS = REPO_ROOT / ".github" / "workflows"
STACKS = ["dev", "staging", "prod"]
PLAN_ARTIFACT = "plan-${{ matrix.stack }}-${{ steps.tree.outputs.tree }}"
PLAN_FILE = '"$RUNNER_TEMP/plan/plan.json"'
TREE = "git rev-parse 'HEAD^{tree}'"


def workflow(name: str) -> dict[str, Any]:
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the bare key `on` as a boolean.
    document["on"] = document.pop(True, document.get("on"))
    return document


def _code(path: Path) -> str:
    """The workflow without its comments (which show example URLs)."""
    return "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("#"))


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [step for step in job.get("steps", []) if str(step.get("uses", "")).startswith(f"{action}@")]


def run_step(job: dict[str, Any], command: str) -> dict[str, Any]:
    """The one step whose script runs `command`."""
    (step,) = [step for step in job["steps"] if re.search(rf"^\s*{re.escape(command)}\b", step.get("run", ""), re.M)]
    return step


def all_run_scripts() -> list[tuple[str, str]]:
    return [
        (path.name, step["run"])
        for path in sorted(WORKFLOWS.glob("*.yml"))
        for job in workflow(path.name)["jobs"].values()
        for step in job.get("steps", [])
        if "run" in step
    ]


def preview_job() -> dict[str, Any]:
    return workflow("preview.yml")["jobs"]["preview"]


def up_job() -> dict[str, Any]:
    return workflow("pulumi-up.yml")["jobs"]["up"]


def drift_job() -> dict[str, Any]:
    return workflow("drift.yml")["jobs"]["drift"]


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yml")), ids=lambda path: path.name)
def test_every_workflow_parses_and_has_jobs(path: Path):
    assert yaml.safe_load(path.read_text())["jobs"]


def test_pull_requests_preview_only_after_make_test():
    preview = workflow("preview.yml")
    assert preview["on"]["pull_request"] == {"branches": ["main"]}
    assert preview["jobs"]["test"]["uses"] == "./.github/workflows/make-test.yml"
    assert preview["jobs"]["preview"]["needs"] == "test"


def test_make_test_is_the_test_entry_point():
    steps = workflow("make-test.yml")["jobs"]["make-test"]["steps"]
    assert [step["run"] for step in steps if "run" in step] == ["make test"]


def test_every_stack_is_previewed_with_its_policy_configuration():
    job = preview_job()
    script = run_step(job, "pulumi preview")["run"]
    assert job["strategy"]["matrix"]["stack"] == STACKS
    assert '--stack "$STACK"' in script and job["env"]["STACK"] == "${{ matrix.stack }}"
    assert '--policy-pack policy --policy-pack-config "policy/config/$STACK.json"' in script


def test_the_preview_saves_the_plan_of_the_same_run_whose_text_is_commented_on_the_pull_request():
    job = preview_job()
    script = run_step(job, "pulumi preview")["run"]
    assert f"--save-plan {PLAN_FILE}" in script
    assert 'tee "$RUNNER_TEMP/plan/preview.txt"' in script and "set -o pipefail" in script
    (comment,) = steps_using(job, "actions/github-script")
    assert "/plan/preview.txt" in comment["with"]["script"] and comment["if"].endswith("== 'pull_request'")


def test_the_plan_is_saved_as_an_artifact_keyed_by_stack_and_previewed_tree():
    job = preview_job()
    (upload,) = steps_using(job, "actions/upload-artifact")
    tree_step = next(step for step in job["steps"] if step.get("id") == "tree")
    assert TREE in tree_step["run"]
    assert upload["with"]["name"] == PLAN_ARTIFACT
    assert upload["with"]["path"] == "${{ runner.temp }}/plan/" and upload["with"]["if-no-files-found"] == "error"
    # Only a preview that succeeded leaves a plan to deploy.
    assert "if" not in upload


def test_main_can_be_previewed_again_by_hand_after_it_moved():
    assert "workflow_dispatch" in workflow("preview.yml")["on"]


def test_merges_deploy_dev_then_staging_then_prod_in_their_environments():
    jobs = workflow("deploy.yml")["jobs"]
    chain = [(name, jobs[name]["needs"], jobs[name]["with"]["environment"]) for name in STACKS]
    assert chain == [("dev", "test", "dev"), ("staging", "dev", "staging"), ("prod", "staging", "production")]


def test_deployments_run_in_the_environment_they_are_given_with_the_policy_pack():
    job = up_job()
    script = run_step(job, "pulumi up")["run"]
    assert job["environment"] == "${{ inputs.environment }}"
    assert '--policy-pack policy --policy-pack-config "policy/config/$STACK.json"' in script
    assert job["env"]["STACK"] == "${{ inputs.stack }}"


def test_deployments_apply_the_saved_plan():
    assert f"--plan {PLAN_FILE}" in run_step(up_job(), "pulumi up")["run"]


def test_the_deploy_looks_up_the_plan_saved_for_the_tree_it_deploys_and_checks_it():
    script = run_step(up_job(), 'tree="$(git rev-parse')["run"]
    assert f'tree="$({TREE})"' in script and 'name="plan-$STACK-$tree"' in script
    assert "'.stack == $stack and .tree == $tree'" in script


def test_a_deploy_without_a_plan_for_its_tree_stops_before_anything_is_applied():
    steps = up_job()["steps"]
    find = next(i for i, step in enumerate(steps) if "gh run download" in step.get("run", ""))
    apply = next(i for i, step in enumerate(steps) if "pulumi up" in step.get("run", ""))
    script = steps[find]["run"]
    assert find < apply and "continue-on-error" not in steps[find]
    assert 'if [ -z "$run_id" ]; then' in script and "exit 1" in script.split('if [ -z "$run_id" ]; then')[1]


def test_the_deploy_may_read_the_pull_requests_artifacts():
    assert up_job()["permissions"]["actions"] == "read"
    assert {workflow("deploy.yml")["jobs"][name]["permissions"]["actions"] for name in STACKS} == {"read"}


@pytest.mark.parametrize(("name", "script"), all_run_scripts(), ids=lambda v: v if v.endswith(".yml") else "")
def test_no_workflow_runs_pulumi_up_without_a_plan_or_refresh_without_preview_only(name, script):
    commands = script.replace("\\\n", " ")  # continuation lines joined
    for line in re.findall(r"pulumi (?:up|update)\b[^\n]*", commands):
        assert "--plan " in line, f"{name}: {line}"
    for line in re.findall(r"pulumi refresh\b[^\n]*", commands):
        assert "--preview-only" in line, f"{name}: {line}"


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yml")), ids=lambda path: path.name)
def test_the_pulumi_action_only_installs_the_pinned_cli(path: Path):
    pinned = read_env_file(REPO_ROOT / "toolchain" / "versions.env")["PULUMI_VERSION"]
    for job in workflow(path.name)["jobs"].values():
        for step in steps_using(job, "pulumi/actions"):
            assert step["with"] == {"pulumi-version": pinned}, step.get("name")


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yml")), ids=lambda path: path.name)
def test_no_workflow_shows_secrets_or_switches_on_experimental_mode(path: Path):
    code = _code(path)
    assert "--show-secrets" not in code and "PULUMI_EXPERIMENTAL" not in code


def test_drift_is_checked_on_a_schedule_for_every_stack():
    document = workflow("drift.yml")
    assert document["on"]["schedule"][0]["cron"] and "workflow_dispatch" in document["on"]
    assert drift_job()["strategy"]["matrix"]["stack"] == STACKS


def test_the_drift_check_is_the_make_drift_module():
    script = run_step(drift_job(), ".venv/bin/python -m tooling.drift")["run"]
    assert '.venv/bin/python -m tooling.drift "$STACK"' in script
    makefile = (REPO_ROOT / "Makefile").read_text()
    recipe = makefile.split("\ndrift:", 1)[1].split("\n\n", 1)[0]
    # make drift resolves STACK to the stack make up deployed (dev-local on the local control plane).
    assert "source scripts/local-cluster/target.sh" in recipe
    assert '$(PYTHON) -m tooling.drift "$$(nexus_deploy_stack $(STACK))"' in recipe


def test_the_drift_check_only_previews_a_refresh():
    source = Path(drift.__file__).read_text()
    assert '["pulumi", "refresh", "--preview-only", "--expect-no-changes", "--json"]' in source
    assert "pulumi up" not in _code(WORKFLOWS / "drift.yml")


def test_drift_is_reported_as_an_artifact_and_on_the_stacks_drift_issue():
    job = drift_job()
    (upload,) = steps_using(job, "actions/upload-artifact")
    report = next(step for step in job["steps"] if "gh issue comment" in step.get("run", ""))
    assert (upload["with"]["name"], upload["if"]) == ("drift-${{ matrix.stack }}", "always()")
    assert report["if"] == "steps.check.outputs.status == '1'"
    assert "gh issue comment" in report["run"] and "gh issue create" in report["run"]
    assert job["permissions"]["issues"] == "write" and "environment" not in job


@pytest.mark.parametrize("name", ["preview.yml", "pulumi-up.yml", "drift.yml"])
def test_backend_and_passphrase_come_from_repository_secrets(name):
    job = next(iter(workflow(name)["jobs"][key] for key in ("up", "preview", "drift") if key in workflow(name)["jobs"]))
    assert job["env"]["PULUMI_BACKEND_URL"] == "${{ secrets.PULUMI_BACKEND_URL }}"
    assert job["env"]["PULUMI_CONFIG_PASSPHRASE"] == "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}"


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yml")), ids=lambda path: path.name)
def test_no_workflow_hard_codes_a_backend_url(path: Path):
    assert not re.search(r"(s3|gs|azblob|file)://", _code(path))


def test_credentials_rotate_on_a_schedule_through_a_pull_request_for_staging_and_prod():
    rotation = workflow("rotate-credentials.yml")
    assert {entry["cron"] for entry in rotation["on"]["schedule"]} == {"0 6 * * 1", "0 6 1 * *"}
    assert rotation["on"]["workflow_dispatch"]["inputs"]["stack"]["options"] == ["staging", "prod"]
    (job,) = rotation["jobs"].values()
    assert run_step(job, ".venv/bin/python -m platform_config rotate")["run"].count('rotate "$STACK" all --write') == 1
    script = run_step(job, "git switch -c")["run"]
    assert 'branch="rotate/${STACK}-' in script and "gh pr create --base main" in script


def test_a_scheduled_rotation_is_deployed_like_any_change_behind_the_same_gates():
    code = _code(WORKFLOWS / "rotate-credentials.yml")
    # It never deploys itself: the pull request is previewed (preview.yml) and, merged, deployed by deploy.yml.
    assert "pulumi up" not in code and "pulumi-up.yml" not in code
    # Only staging's pull request merges itself; prod's waits for a reviewer.
    merge = [line.strip() for line in code.splitlines() if "gh pr merge" in line or "if [" in line]
    assert merge == ['if [ "$STACK" = staging ]; then', 'gh pr merge "$branch" --auto --squash']
