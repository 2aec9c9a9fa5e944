"""`python -m tenants` edits only the fluxion block of a stack file, refuses bad input before writing or
running anything, applies through the runner (the Automation API) only when asked, is a no-op when run
twice, and never prints an API key unless --show-key asks for it. Tests run on a temp copy of a stack file
with a stand-in runner."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pulumi import automation
from pulumi.automation._cmd import CommandResult

from tenants.automation import AutomationRunner
from tenants.cli import main
from tenants.stackfile import KEY, parse_section, replace_section
from tooling.paths import REPO_ROOT

pytestmark = pytest.mark.unit

SECRET_KEY_VALUE = "s3cr3t-api-key-value"


class FakeRunner:
    """Records what the CLI asks of Pulumi, and what the stack file said at each `up`."""

    instances: list[FakeRunner] = []

    def __init__(self, stack: str, project_dir: Path, echo) -> None:
        self.stack, self.project_dir, self.echo = stack, project_dir, echo
        self.ups: list[dict] = []
        self.secrets: dict[str, str] = {}
        self.selected = False
        FakeRunner.instances.append(self)

    def ready(self) -> None:
        self.selected = True

    def set_secret(self, key: str, value: str) -> None:
        self.secrets[key] = value

    def up(self) -> None:
        self.echo("Updating (dev)")
        self.ups.append(parse_section((self.project_dir / f"Pulumi.{self.stack}.yaml").read_text()))

    def tenant_outputs(self, tenant_id: str) -> dict:
        name = f"fluxiondb-{tenant_id}"
        return {
            "state": "active",
            "namespace": name,
            "ram": "1Gi",
            "storage": "2Gi",
            "url": f"ws://{name}.{name}.svc.cluster.local:8080",
            "externalUrl": None,
            "apiKeySecretName": f"{name}-api-key",
            "apiKey": SECRET_KEY_VALUE,
        }


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copy(REPO_ROOT / "Pulumi.dev.yaml", tmp_path / "Pulumi.dev.yaml")
    FakeRunner.instances = []
    return tmp_path


def cli(project: Path, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main([*argv, "--project-dir", str(project)], FakeRunner, out, err, io.StringIO(stdin))
    return code, out.getvalue(), err.getvalue()


def stack_text(project: Path) -> str:
    return (project / "Pulumi.dev.yaml").read_text()


def tenant_entries(project: Path) -> list[dict]:
    return parse_section(stack_text(project))["tenants"]


def outside_fluxion(text: str) -> str:
    return text.split(f"  {KEY}:")[0]


# --- provision -----------------------------------------------------------------------------------------------------


def test_provision_adds_the_tenant_to_the_stack_file_and_runs_one_update(project):
    code, out, _ = cli(project, "provision", "acme", "--ram", "1Gi")
    assert code == 0
    assert tenant_entries(project)[-1] == {"id": "acme", "ram": "1Gi"}
    (runner,) = FakeRunner.instances
    assert runner.stack == "dev" and len(runner.ups) == 1
    assert runner.ups[0]["tenants"][-1] == {"id": "acme", "ram": "1Gi"}
    assert "url: ws://fluxiondb-acme.fluxiondb-acme.svc.cluster.local:8080" in out


def test_provision_leaves_the_rest_of_the_stack_file_byte_for_byte(project):
    before = stack_text(project)
    cli(project, "provision", "acme", "--ram", "1Gi")
    after = stack_text(project)
    assert outside_fluxion(after) == outside_fluxion(before)
    assert yaml.safe_load(after)["config"]["nexus-platform:environment"] == "dev"


def test_provision_twice_leaves_the_file_unchanged_the_second_time(project):
    cli(project, "provision", "acme", "--ram", "1Gi")
    once = stack_text(project)
    code, out, _ = cli(project, "provision", "acme", "--ram", "1Gi")
    assert code == 0
    assert stack_text(project) == once
    assert "already provisioned with 1Gi RAM" in out and "Pulumi.dev.yaml: unchanged" in out


def test_the_api_key_is_not_printed_by_default(project):
    _, out, err = cli(project, "provision", "acme", "--ram", "1Gi")
    assert SECRET_KEY_VALUE not in out + err
    assert "apiKey: [secret] (in Secret fluxiondb-acme/fluxiondb-acme-api-key" in out


def test_the_api_key_is_printed_with_show_key(project):
    _, out, _ = cli(project, "provision", "acme", "--ram", "1Gi", "--show-key")
    assert f"apiKey: {SECRET_KEY_VALUE}" in out


def test_no_apply_edits_the_file_without_touching_pulumi(project):
    code, _, _ = cli(project, "provision", "acme", "--ram", "1Gi", "--no-apply")
    assert code == 0
    assert tenant_entries(project)[-1]["id"] == "acme"
    assert FakeRunner.instances == []


def test_a_supplied_api_key_is_set_as_a_secret_at_the_tenants_path_and_not_echoed(project):
    code, out, _ = cli(project, "provision", "acme", "--ram", "1Gi", "--api-key-stdin", stdin="tenant-key\n")
    assert code == 0
    (runner,) = FakeRunner.instances
    assert runner.secrets == {"fluxion.tenants[2].apiKey": "tenant-key"}
    assert "tenant-key" not in out


def test_an_empty_supplied_api_key_is_refused(project):
    code, _, err = cli(project, "provision", "acme", "--ram", "1Gi", "--api-key-stdin", stdin="\n")
    assert code == 2 and "stdin held no key" in err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["provision", "Acme", "--ram", "1Gi"], "'Acme' is not a valid tenant id"),
        (["provision", "acme", "--ram", "1GB"], "not a Kubernetes memory quantity"),
        (["provision", "acme", "--ram", "128Mi"], "below the minimum of 256Mi"),
        (["provision", "example-basic", "--ram", "4Gi"], "use `update-ram example-basic --ram 4Gi`"),
        (["update-ram", "nobody", "--ram", "1Gi"], "tenant nobody does not exist"),
    ],
)
def test_bad_input_is_refused_before_the_file_or_pulumi_is_touched(project, argv, expected):
    before = stack_text(project)
    code, _out, err = cli(project, *argv)
    assert code == 2
    assert err.startswith("refused:") and expected in err
    assert stack_text(project) == before
    assert FakeRunner.instances == []


class MissingStackRunner(FakeRunner):
    def ready(self) -> None:
        raise RuntimeError("stack 'dev' does not exist in the current backend")


def test_a_stack_that_cannot_be_selected_fails_before_the_file_is_touched(project):
    before = stack_text(project)
    out, err = io.StringIO(), io.StringIO()
    code = main(["provision", "acme", "--ram", "1Gi", "--project-dir", str(project)], MissingStackRunner, out, err)
    assert code == 1 and "does not exist" in err.getvalue()
    assert stack_text(project) == before


class FailingRunner(FakeRunner):
    def up(self) -> None:
        raise RuntimeError("preview failed: storage for 'fluxiondb-acme-data' would shrink")


def test_a_failed_update_exits_non_zero_with_the_reason(project):
    out, err = io.StringIO(), io.StringIO()
    code = main(["provision", "acme", "--ram", "1Gi", "--project-dir", str(project)], FailingRunner, out, err)
    assert code == 1
    assert "failed: preview failed: storage for 'fluxiondb-acme-data' would shrink" in err.getvalue()


LOCKED = (
    "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete "
    "the lock file with `pulumi cancel`.\n  file:///state/.pulumi/locks/organization/nexus-platform/dev-local/"
    "5f0c.json: created by ops@host (pid 4242) at 2026-12-02T04:00:00Z"
)


class LockedStack:
    """An Automation API stack whose `up` meets another update's lock, as the CLI reports it (stderr only)."""

    def up(self, **_kwargs) -> None:
        raise automation.ConcurrentUpdateError(CommandResult(stdout="", stderr=LOCKED, code=255))


class LockedStackRunner(AutomationRunner):
    def __init__(self, stack: str, project_dir: Path, echo) -> None:
        super().__init__(stack, project_dir, echo)
        self._stack = LockedStack()


def test_an_update_refused_because_another_holds_the_stack_says_so_and_what_to_do(project):
    out, err = io.StringIO(), io.StringIO()
    argv = ["provision", "acme", "--ram", "1Gi", "-s", "dev", "--project-dir", str(project)]
    code = main(argv, LockedStackRunner, out, err)
    message = err.getvalue()
    assert code == 1
    assert "another update holds the stack" in message
    assert "the stack is currently locked by 1 lock(s)" in message and "(pid 4242)" in message
    assert "`pulumi cancel -s dev`" in message
    assert "see its output above" not in message


# --- update-ram ----------------------------------------------------------------------------------------------------


def test_update_ram_lowering_pins_storage_in_the_stack_file(project):
    code, out, _ = cli(project, "update-ram", "example-premium", "--ram", "1Gi")
    assert code == 0
    assert tenant_entries(project)[1] == {"id": "example-premium", "ram": "1Gi", "storage": "4Gi"}
    assert "storage stays at 4Gi" in out


def test_update_ram_growing_writes_only_the_new_ram(project):
    cli(project, "update-ram", "example-premium", "--ram", "8Gi")
    assert tenant_entries(project)[1] == {"id": "example-premium", "ram": "8Gi"}


# --- deprovision ---------------------------------------------------------------------------------------------------


def test_deprovision_marks_the_tenant_and_keeps_it_in_the_file(project):
    code, _out, _ = cli(project, "deprovision", "example-basic")
    assert code == 0
    assert tenant_entries(project)[0] == {"id": "example-basic", "ram": "512Mi", "deprovisioned": True}
    assert len(FakeRunner.instances[0].ups) == 1


def test_delete_data_requires_explicit_confirmation(project):
    code, _, err = cli(project, "deprovision", "example-basic", "--delete-data")
    assert code == 2 and "add --yes to confirm" in err
    assert FakeRunner.instances == []


def test_delete_data_deploys_the_deletion_mark_before_removing_the_entry(project):
    code, _, _ = cli(project, "deprovision", "example-basic", "--delete-data", "--yes")
    assert code == 0
    first, second = FakeRunner.instances[0].ups
    assert first["tenants"][0] == {"id": "example-basic", "ram": "512Mi", "deprovisioned": True, "deleteData": True}
    assert [t["id"] for t in second["tenants"]] == ["example-premium"]


def test_delete_data_without_apply_stops_after_the_mark_and_finishes_on_the_next_run(project):
    _, out, _ = cli(project, "deprovision", "example-basic", "--delete-data", "--yes", "--no-apply")
    assert tenant_entries(project)[0]["deleteData"] is True
    assert "run the same command again" in out
    cli(project, "deprovision", "example-basic", "--delete-data", "--yes", "--no-apply")
    assert [t["id"] for t in tenant_entries(project)] == ["example-premium"]


def test_deprovisioning_an_absent_tenant_is_a_no_op(project):
    before = stack_text(project)
    code, out, _ = cli(project, "deprovision", "nobody", "--no-apply")
    assert code == 0 and "nothing to do" in out
    assert stack_text(project) == before


# --- list and arguments --------------------------------------------------------------------------------------------


def test_list_shows_each_tenant_with_its_derived_sizes(project):
    code, out, _ = cli(project, "list")
    assert code == 0
    assert "example-premium" in out and "2Gi" in out and "4Gi" in out and "1000m/2000m" in out
    assert FakeRunner.instances == []


def test_a_missing_ram_is_an_argument_error(project):
    with pytest.raises(SystemExit) as exited:
        cli(project, "provision", "acme")
    assert exited.value.code == 2


def test_an_unknown_command_is_an_argument_error(project):
    with pytest.raises(SystemExit) as exited:
        cli(project, "resize", "acme")
    assert exited.value.code == 2


def test_a_missing_stack_file_is_refused(project):
    code, _, err = cli(project, "list", "--stack", "qa")
    assert code == 2 and "Pulumi.qa.yaml not found" in err


def test_the_module_runs_as_python_dash_m_tenants():
    result = subprocess.run(
        [sys.executable, "-m", "tenants", "--help"], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    assert "provision" in result.stdout and "deprovision" in result.stdout


# --- The stack-file block editor ------------------------------------------------------------------------------------


def test_replacing_with_an_equal_section_returns_the_text_unchanged():
    text = (REPO_ROOT / "Pulumi.dev.yaml").read_text()
    assert replace_section(text, parse_section(text)) == text


def test_secure_values_survive_a_rewrite():
    text = "config:\n  nexus-platform:environment: dev\n  nexus-platform:fluxion: {}\n  other:key: 1\n"
    section = {"tenants": [{"id": "acme", "ram": "1Gi", "apiKey": {"secure": "v1:AAAA"}}]}
    rewritten = replace_section(text, section)
    assert parse_section(rewritten) == section
    assert rewritten.endswith("  other:key: 1\n")
    assert "      - id: acme\n" in rewritten
