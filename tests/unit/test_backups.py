"""Backup destinations (platform_config/backups.py, components/backups.py) and the backup CLI's decisions
(backups/cli.py) without a cluster: a bucket's settings are validated with errors naming the key, its
credentials live only in a Secret of their own (a Pulumi secret, never a chart value), the CLI asks
before a restore, never hangs a script, and refuses what it cannot do, and `make down` takes a final
backup only when asked to, destroying nothing if it failed."""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path

import pytest

from backups import cli
from components.backups import destination_values
from platform_config import ConfigError, load_platform_config
from platform_config.backups import BUCKET_SECRET, OFFSITE_SECRET
from tests.unit.test_nexus_database import CHART, SECRET, data_tier
from tooling.paths import REPO_ROOT
from tooling.stacks import run_stack, stack_config

pytestmark = pytest.mark.unit

BUCKET = {"endpoint": "https://objects.example.com", "bucket": "nexus-backups", "prefix": "nexus/test"}
KEYS = {"accessKeyId": "AKIDEXAMPLE", "secretAccessKey": "wJalrXUtnFEMI-example-secret"}


def _config_error(backup: dict) -> str:
    raw = stack_config("prod")
    raw["dataTier"] = {**raw["dataTier"], "backup": {"enabled": True, **backup}}
    with pytest.raises(ConfigError) as error:
        load_platform_config(raw)
    return str(error.value)


def test_an_offsite_copy_without_a_bucket_is_refused_naming_the_key():
    message = _config_error({"offsite": BUCKET})
    assert "nexus-platform:dataTier.backup" in message and "offsite is a second copy" in message


def test_an_endpoint_that_is_not_a_url_is_refused_with_the_value_and_what_is_allowed():
    message = _config_error({"bucket": {**BUCKET, "endpoint": "objects.example.com"}})
    assert "nexus-platform:dataTier.backup.bucket.endpoint = 'objects.example.com'" in message
    assert "http(s)://host[:port]" in message


def test_one_bucket_credential_without_the_other_is_refused():
    message = _config_error({"bucket": {**BUCKET, "accessKeyId": "AKIDEXAMPLE"}})
    assert "secretAccessKey is not set" in message


def test_an_offsite_bucket_must_be_another_bucket():
    assert "names the same bucket" in _config_error({"bucket": BUCKET, "offsite": BUCKET})


def test_prod_ships_to_a_bucket_and_an_offsite_bucket_staging_to_a_bucket_and_dev_keeps_the_volume_only():
    assert data_tier("prod").backup.bucket and data_tier("prod").backup.offsite
    assert data_tier("staging").backup.bucket and not data_tier("staging").backup.offsite
    assert not data_tier("dev").backup.bucket


def test_the_chart_gets_the_credentials_secrets_name_and_never_a_credential():
    values = destination_values(data_tier("prod", {"backup": {"bucket": KEYS, "offsite": KEYS}}).backup)
    assert values["bucket"]["existingSecret"] == BUCKET_SECRET
    assert values["offsite"]["existingSecret"] == OFFSITE_SECRET
    assert KEYS["secretAccessKey"] not in repr(values) and KEYS["accessKeyId"] not in repr(values)


def test_bucket_credentials_live_in_a_secret_of_their_own_marked_secret():
    run = run_stack("prod", {"dataTier": {"backup": {"bucket": KEYS}}})
    secret = next(r for r in run.of_type(SECRET) if r.inputs["metadata"]["name"] == BUCKET_SECRET)
    assert secret.inputs["stringData"] == {
        "access-key-id": KEYS["accessKeyId"],
        "secret-access-key": KEYS["secretAccessKey"],
    }
    assert secret.is_secret_input("stringData.secret-access-key")
    chart = run.charts()[CHART]
    assert KEYS["secretAccessKey"] not in repr(chart.inputs["values"])
    assert BUCKET_SECRET in chart.inputs["values"]["secretChecksums"]


def test_a_bucket_without_credentials_gets_no_secret(prod_stack):
    assert BUCKET_SECRET not in {r.inputs["metadata"]["name"] for r in prod_stack.of_type(SECRET)}


# --- the CLI ---------------------------------------------------------------------------------------------


class NoCluster:
    """A Kube that must not be used: the CLI decided before reaching the cluster."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace

    def __getattr__(self, name):
        raise AssertionError(f"the CLI reached the cluster ({name}) although it should have stopped first")


def test_restore_to_a_point_in_time_that_is_not_a_time_is_refused_before_anything_is_created(capsys):
    # The rest of --to-time: tests/unit/test_point_in_time.py.
    argv = ["restore", "product-postgres", "--stack", "prod", "--backup-date", "2026-12-01", "--to-time", "x"]
    assert cli.main(argv, kube_factory=NoCluster) == cli.EXIT_REFUSED
    assert "--to-time 'x' is not an ISO 8601 time in UTC" in capsys.readouterr().err


def test_a_malformed_backup_date_is_refused_naming_the_value(capsys):
    argv = ["restore", "product-postgres", "--stack", "prod", "--backup-date", "01.12.2026"]
    assert cli.main(argv, kube_factory=NoCluster) == cli.EXIT_REFUSED
    assert "01.12.2026" in capsys.readouterr().err


def test_listing_a_bucket_the_stack_does_not_have_says_which_key_is_unset(capsys):
    assert cli.main(["list", "product-postgres", "--stack", "dev"], kube_factory=NoCluster) == cli.EXIT_FAILED
    assert "dataTier.backup.bucket is unset" in capsys.readouterr().err


def test_without_a_terminal_the_confirmation_is_a_no_so_a_script_never_hangs(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert cli._ask("proceed? ") is False


def _cronjob(component: str) -> dict:
    container = {"name": "backup", "image": "postgres:17.6", "command": ["bash", "/scripts/backup-postgres.sh"]}
    return {
        "metadata": {"name": f"{component}-backup", "namespace": "data", "uid": "uid-1"},
        "spec": {
            "jobTemplate": {"spec": {"template": {"metadata": {"labels": {}}, "spec": {"containers": [container]}}}}
        },
    }


class FakeCluster:
    """The API calls the CLI makes, answered from a table: the backup CronJobs, and which Jobs fail."""

    def __init__(self, namespace: str, failing: tuple[str, ...] = ()) -> None:
        self.namespace = namespace
        self.created: list[dict] = []
        self.failing = failing

    def names(self, kind: str, selector: str) -> list[str]:
        return ["payment-postgres-backup", "product-postgres-backup"]

    def get(self, kind: str, name: str) -> dict:
        return _cronjob(name.removesuffix("-backup"))

    def create(self, obj: dict) -> None:
        self.created.append(obj)

    def wait_job(self, name: str, timeout: float) -> bool:
        return not name.startswith(self.failing)

    def logs(self, job: str, container: str) -> str:
        return f"{container} of {job}\n"


def test_backup_now_all_runs_every_backup_cronjob_and_fails_when_one_failed():
    clusters: list[FakeCluster] = []

    def factory(namespace: str) -> FakeCluster:
        clusters.append(FakeCluster(namespace, failing=("payment-postgres",)))
        return clusters[-1]

    out = io.StringIO()
    assert cli.main(["backup-now", "--all", "--stack", "dev"], out=out, kube_factory=factory) == cli.EXIT_FAILED
    created = [job["metadata"] for job in clusters[0].created]
    assert [m["ownerReferences"][0]["name"] for m in created] == ["payment-postgres-backup", "product-postgres-backup"]
    assert all(m["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual" for m in created)
    assert "backups FAILED: payment-postgres-backup" in out.getvalue()


def test_a_restore_that_is_not_confirmed_creates_nothing():
    clusters: list[FakeCluster] = []

    def factory(namespace: str) -> FakeCluster:
        clusters.append(FakeCluster(namespace))
        return clusters[-1]

    out = io.StringIO()
    argv = ["restore", "product-postgres", "--stack", "dev", "--backup-date", "2026-12-01"]
    assert cli.main(argv, out=out, kube_factory=factory, confirm=lambda _: False) == cli.EXIT_REFUSED
    assert clusters[0].created == [] and "must be empty (else refused)" in out.getvalue()


def test_a_confirmed_restore_from_the_volume_restores_that_days_newest_dump_without_force():
    clusters: list[FakeCluster] = []

    def factory(namespace: str) -> FakeCluster:
        clusters.append(FakeCluster(namespace))
        return clusters[-1]

    argv = ["restore", "product-postgres", "--stack", "dev", "--backup-date", "2026-12-01"]
    assert cli.main(argv, out=io.StringIO(), kube_factory=factory, confirm=lambda _: True) == cli.EXIT_OK
    [job] = clusters[0].created
    [restore] = job["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e["value"] for e in restore["env"]}
    assert restore["command"] == ["bash", "/scripts/restore-postgres.sh"]
    assert env == {"FORCE": "no", "RESTORE_DATE": "20261201"}


# --- make down's final backup (scripts/down.sh: final_backup) ----------------------------------------------


def _final_backup(tmp_path: Path, backup: str, exit_code: int = 0) -> subprocess.CompletedProcess[str]:
    """down.sh's final_backup function run on its own, `python -m backups` replaced by a recorder that exits
    `exit_code`, followed by what down.sh does next (the destroy, here an echo)."""
    script = (REPO_ROOT / "scripts" / "down.sh").read_text()
    match = re.search(r"^final_backup\(\) \{\n.*?^\}\n", script, re.S | re.M)
    assert match, "scripts/down.sh has no final_backup function"
    recorder = tmp_path / "python"
    recorder.write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/called\nexit {exit_code}\n')
    recorder.chmod(0o755)
    program = (
        f"set -euo pipefail\nBACKUP={backup}\nSTACK=prod\nDEPLOY=prod\nNEXUS_PYTHON={recorder}\n"
        f'nexus_log() {{ echo "$*" >&2; }}\n{match.group(0)}final_backup\necho destroyed\n'
    )
    return subprocess.run(
        ["bash", "-c", program], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10, check=False
    )


def test_make_down_without_a_terminal_takes_no_backup_and_does_not_wait(tmp_path):
    result = _final_backup(tmp_path, "ask")
    assert result.returncode == 0 and "destroyed" in result.stdout
    assert "no terminal, so no final backup" in result.stderr
    assert not (tmp_path / "called").exists()


def test_make_down_backup_first_backs_up_every_database_of_the_stack_before_destroying(tmp_path):
    result = _final_backup(tmp_path, "yes")
    assert result.returncode == 0 and "destroyed" in result.stdout
    assert (tmp_path / "called").read_text().split() == ["-m", "backups", "backup-now", "--all", "--stack", "prod"]


def test_make_down_destroys_nothing_when_the_final_backup_failed(tmp_path):
    result = _final_backup(tmp_path, "yes", exit_code=1)
    assert result.returncode == 1 and "destroyed" not in result.stdout
    assert "nothing destroyed" in result.stderr


# --- where each component's backups run ---------------------------------------------------------------------


def _recording_factory(clusters: list[FakeCluster]):
    def factory(namespace: str) -> FakeCluster:
        clusters.append(FakeCluster(namespace))
        return clusters[-1]

    return factory


def test_the_orders_clusters_backup_runs_in_the_clusters_namespace():
    assert cli.component_namespaces("prod") == {"orders-postgres": "postgres"}
    clusters: list[FakeCluster] = []
    argv = ["backup-now", "orders-postgres", "--stack", "prod"]
    assert cli.main(argv, out=io.StringIO(), kube_factory=_recording_factory(clusters)) == cli.EXIT_OK
    assert [(c.namespace, [j["metadata"]["ownerReferences"][0]["name"] for j in c.created]) for c in clusters] == [
        ("postgres", ["orders-postgres-backup"])
    ]


def test_backup_now_all_in_a_stack_with_a_bucket_also_backs_up_the_orders_cluster():
    clusters: list[FakeCluster] = []
    argv = ["backup-now", "--all", "--stack", "prod"]
    assert cli.main(argv, out=io.StringIO(), kube_factory=_recording_factory(clusters)) == cli.EXIT_OK
    assert [c.namespace for c in clusters] == ["data", "postgres"]
    assert [j["metadata"]["ownerReferences"][0]["name"] for j in clusters[1].created] == ["orders-postgres-backup"]


def test_a_tenants_backups_are_looked_up_through_the_tenant_commands(capsys):
    code = cli.main(["list", "fluxion/acme", "--stack", "dev"], kube_factory=NoCluster)
    assert code == cli.EXIT_FAILED
    assert "its FluxionDB tenants are not backed up" in capsys.readouterr().err
