"""The stack outputs are an API: every stack's outputs match docs/stack-outputs.schema.json, and the
schema's `x-secret` marks are exactly the outputs the program makes Pulumi secrets (no password leaks as a
plain output, nothing documented as secret is plain)."""

from __future__ import annotations

import copy

import pytest

from tooling.outputs_contract import (
    OutputsContractError,
    load_schema,
    resolve_ref,
    secret_paths,
    secret_paths_in_schema,
    validate_outputs,
)
from tooling.stacks import StackRun, run_stack, with_example_tenants

pytestmark = pytest.mark.unit

DEPROVISIONED_TENANT = {"fluxion": {"tenants": [{"id": "retired", "ram": "512Mi", "deprovisioned": True}]}}


def test_every_committed_stacks_outputs_match_the_schema(any_stack: StackRun) -> None:
    validate_outputs(any_stack.outputs)


def test_the_schemas_secret_paths_are_exactly_the_secret_outputs_of_every_committed_stack(any_stack: StackRun) -> None:
    assert secret_paths(any_stack.outputs) == any_stack.secret_paths


def test_every_password_bearing_output_is_marked_secret_in_the_schema() -> None:
    assert secret_paths_in_schema() == {
        "postgres.*.writerUrl",
        "postgres.*.readerUrl",
        "dataTier.mongodb.*.url",
        "dataTier.postgres.*.url",
        "dataTier.redis.url",
        "fluxion.tenants.*.apiKey",
        "fluxionTenantBackupCredentials",
    }


def test_no_secret_output_appears_in_plain_text_anywhere_else(any_stack: StackRun) -> None:
    secrets = {_get(any_stack.outputs, path) for path in any_stack.secret_paths}
    plain = [(path, value) for path, value in _leaves(any_stack.outputs) if path not in any_stack.secret_paths]
    assert [(path, value) for path, value in plain if any(s and s in str(value) for s in secrets)] == []


def test_a_disabled_core_pipeline_is_a_null_output_the_schema_accepts() -> None:
    run = run_stack("dev", {"corePipeline": {"enabled": False}})
    assert run.outputs["corePipeline"] is None
    validate_outputs(run.outputs)


def test_a_deprovisioned_tenant_has_null_urls_the_schema_accepts_and_its_api_key_stays_secret() -> None:
    run = run_stack("dev", DEPROVISIONED_TENANT)
    tenant = run.outputs["fluxion"]["tenants"]["retired"]
    assert (tenant["state"], tenant["host"], tenant["url"], tenant["externalUrl"]) == (
        "deprovisioned",
        None,
        None,
        None,
    )
    validate_outputs(run.outputs)
    assert secret_paths(run.outputs) == run.secret_paths


def test_a_cluster_without_its_writer_url_is_rejected_naming_the_cluster(dev_stack: StackRun) -> None:
    outputs = copy.deepcopy(dev_stack.outputs)
    del outputs["postgres"]["orders"]["writerUrl"]
    with pytest.raises(OutputsContractError, match=r"postgres\.orders: 'writerUrl' is a required property"):
        validate_outputs(outputs)


def test_an_undocumented_output_is_rejected(dev_stack: StackRun) -> None:
    outputs = {**dev_stack.outputs, "kubeconfig": "apiVersion: v1"}
    with pytest.raises(OutputsContractError, match="'kubeconfig' was unexpected"):
        validate_outputs(outputs)


def test_a_port_of_the_wrong_type_is_rejected_naming_its_path(dev_stack: StackRun) -> None:
    outputs = copy.deepcopy(dev_stack.outputs)
    outputs["dataTier"]["kafka"]["port"] = "9092"
    with pytest.raises(OutputsContractError, match=r"dataTier\.kafka\.port: '9092' is not of type 'integer'"):
        validate_outputs(outputs)


def test_a_tenant_id_that_is_not_a_dns_label_is_rejected() -> None:
    outputs = copy.deepcopy(run_stack("dev", with_example_tenants("dev")).outputs)
    tenants = outputs["fluxion"]["tenants"]
    tenants["Not_A_Label"] = tenants.pop(next(iter(tenants)))
    with pytest.raises(
        OutputsContractError, match=r"fluxion\.tenants: 'Not_A_Label' does not match any of the regexes"
    ):
        validate_outputs(outputs)


def test_every_property_in_the_schema_has_a_description() -> None:
    missing = [
        path
        for path, node in _schema_properties(load_schema(), "")
        if "description" not in {**resolve_ref(node), **node}
    ]
    assert missing == []


def _get(outputs: dict, path: str) -> object:
    value: object = outputs
    for part in path.split("."):
        value = value[part]  # type: ignore[index]
    return value


def _leaves(value: object, prefix: str = ""):
    if isinstance(value, dict):
        for key, sub in value.items():
            yield from _leaves(sub, f"{prefix}.{key}" if prefix else key)
    else:
        yield prefix, value


def _schema_properties(node: dict, prefix: str):
    for key in ("properties", "patternProperties"):
        for name, sub in node.get(key, {}).items():
            yield f"{prefix}.{name}", sub
            yield from _schema_properties(sub, f"{prefix}.{name}")
    for name, sub in node.get("definitions", {}).items():
        yield from _schema_properties(sub, f"#/definitions/{name}")
