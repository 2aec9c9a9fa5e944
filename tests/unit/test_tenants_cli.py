"""`python -m tenants` runs the service's own operations (same rules, same durable store) and the accepted
operation in-process, printing its outcome; Pulumi is the unit tier's recording stand-in."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tenants.cli import DATABASE_URL_ENV, build_parser, main, open_store
from tenants.service import RequestError
from tests.unit.test_tenant_api import RecordingEngine

pytestmark = pytest.mark.unit


def cli(tmp_path: Path, engine: RecordingEngine, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(
        [*argv, "--state-dir", str(tmp_path)],
        engine_factory=lambda _: engine,
        out=out,
        err=err,
        stdin=io.StringIO(stdin),
    )
    return code, out.getvalue(), err.getvalue()


def test_provisioning_from_the_cli_runs_the_operation_and_reports_it_done(tmp_path):
    engine = RecordingEngine()
    code, out, _ = cli(tmp_path, engine, "provision", "acme", "--ram", "2Gi")
    assert code == 0 and "provision acme: done" in out
    assert engine.calls == [("apply", {"id": "acme", "ram": "2Gi"}, None)]
    assert "acme" in cli(tmp_path, engine, "list")[1]


def test_a_key_read_from_stdin_reaches_pulumi_and_is_printed_only_with_show_key(tmp_path):
    engine = RecordingEngine()
    code, out, _ = cli(tmp_path, engine, "provision", "acme", "--ram", "1Gi", "--api-key-stdin", stdin="k-123\n")
    assert code == 0 and engine.calls[0][2] == "k-123" and "k-123" not in out


def test_bad_input_is_refused_with_exit_code_2_naming_the_field(tmp_path):
    code, _, err = cli(tmp_path, RecordingEngine(), "provision", "Acme!", "--ram", "1Gi")
    assert code == 2 and err.startswith("refused: userId:")


def test_deleting_data_needs_yes(tmp_path):
    engine = RecordingEngine()
    cli(tmp_path, engine, "provision", "acme", "--ram", "1Gi")
    cli(tmp_path, engine, "deprovision", "acme")
    code, _, err = cli(tmp_path, engine, "delete-data", "acme")
    assert code == 2 and "--yes" in err
    assert [c[0] for c in engine.calls] == ["apply", "apply"]


def test_a_failed_operation_exits_1_with_its_reason(tmp_path):
    class Failing(RecordingEngine):
        def apply(self, tenant, api_key, log):
            raise RuntimeError("the provider refused")

    code, out, _ = cli(tmp_path, Failing(), "provision", "acme", "--ram", "1Gi")
    assert code == 1 and "reason: RuntimeError: the provider refused" in out


def test_a_database_url_that_is_not_postgresql_is_refused_naming_the_variable(tmp_path):
    args = build_parser().parse_args(["list", "--state-dir", str(tmp_path)])
    with pytest.raises(RequestError) as refused:
        open_store(args, {DATABASE_URL_ENV: "mysql://u:p@h/db"})
    assert refused.value.field == DATABASE_URL_ENV
    assert open_store(args, {}) is not None and (tmp_path / "dev" / "operations.sqlite3").exists()
