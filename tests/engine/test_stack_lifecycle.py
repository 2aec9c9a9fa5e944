"""Each committed stack (dev, staging, prod) through the real engine: preview, `up` into a directory of
manifests, a second preview, the state export and the outputs.

Invariants protected: the program registers its components and their Helm charts' objects; the
Kubernetes provider itself renders the charts (helm.v4.Chart) and writes every object the stack would
apply, each valid against the Kubernetes API schema; nothing diffs perpetually; no generated password or
key reaches the state file outside Pulumi's secret envelope; the outputs keep the documented contract.

Each stack is created and brought up once per session (tests/engine/conftest.py) in a throwaway copy of
the program on its own file backend, with `kubernetes.renderYamlToDirectory` so no cluster is needed and
the Bitnami PostgreSQL chart's test double (tests/fixtures/bitnami-postgresql-standin). Render mode
writes Secrets to that directory in plaintext (the provider warns "rendered YAML will contain a secret
value in plaintext"): it exists only in pytest's temporary folder.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tooling.engine import SECRET_SIGNATURE
from tooling.helm import validate_manifests
from tooling.outputs_contract import secret_paths, validate_outputs
from tooling.paths import BITNAMI_STANDIN, CHARTS_DIR

pytestmark = pytest.mark.engine

STACKS = ("dev", "staging", "prod")
CHART = "kubernetes:helm.sh/v4:Chart"
EXPECTED_COMPONENTS = Counter(
    {
        "nexus:postgres:PostgresCluster": 1,
        "nexus:data:NexusDatabase": 1,
        "nexus:apps:CorePipeline": 1,
        "nexus:orders:OrderPlatform": 1,
        # Tenants are stacks of their own (tests/engine/test_tenant_stacks.py): a committed stack deploys none.
        "nexus:fluxion:FluxionTenant": 0,
    }
)
# Resources that are not Kubernetes objects of their own: the chart component and the provider.
NOT_OBJECTS = (CHART, "pulumi:providers:kubernetes")
# Secret keys that hold a name, not a credential.
NOT_CREDENTIALS = ("user",)


@pytest.fixture(scope="module", params=STACKS)
def stack(request: pytest.FixtureRequest, deployed):
    return deployed(request.param)


def leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield from leaves(child, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from leaves(child, f"{path}[{index}]")
    else:
        yield path, value


def preview_resources(preview: dict[str, Any]) -> list[dict[str, Any]]:
    return [step["newState"] for step in preview["steps"] if step.get("newState")]


def identity(kind: str, metadata: dict[str, Any]) -> tuple[str, str, str]:
    return kind, metadata.get("namespace") or "", metadata["name"]


def rendered_credentials(manifests: list[dict[str, Any]]) -> dict[str, str]:
    """`Secret/name.key` -> value of every credential in the rendered Secrets (stringData and data)."""
    found = {}
    for secret in (m for m in manifests if m["kind"] == "Secret"):
        decoded = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
        for key, value in {**(secret.get("stringData") or {}), **decoded}.items():
            if not any(word in key.lower() for word in NOT_CREDENTIALS):
                found[f"Secret/{secret['metadata']['name']}.{key}"] = value
    return found


def plaintext_of(export: dict[str, Any]) -> str:
    """The export with every secret envelope's ciphertext removed: what anyone reading the state sees."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            if SECRET_SIGNATURE in value:
                return "<secret>"
            return {k: strip(v) for k, v in value.items()}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return json.dumps(strip(export))


def test_preview_registers_every_component_of_the_platform(stack):
    types = Counter(resource["type"] for resource in preview_resources(stack.preview))
    assert {t: types[t] for t in EXPECTED_COMPONENTS} == EXPECTED_COMPONENTS


def test_preview_registers_each_components_helm_chart_and_the_objects_it_renders(stack):
    resources = preview_resources(stack.preview)
    components = {r["urn"] for r in resources if r["type"] in EXPECTED_COMPONENTS}
    charts = [r for r in resources if r["type"] == CHART]
    assert {chart["parent"] for chart in charts} == components
    chart_urns = {chart["urn"] for chart in charts}
    for chart in chart_urns:
        children = [r for r in resources if r.get("parent") == chart]
        assert children, f"{chart} registered no objects"
    assert all(r["type"].startswith("kubernetes:") for r in resources if r.get("parent") in chart_urns)


def test_up_writes_a_manifest_for_every_kubernetes_object_in_the_state(stack):
    objects = [
        r["outputs"]
        for r in stack.export()["deployment"]["resources"]
        if r["type"].startswith("kubernetes:") and r["type"] not in NOT_OBJECTS
    ]
    # Sets, not counts: where a claim is both created and grown by a PersistentVolumeClaimPatch (the data
    # tier's backup claims in staging/prod), both resources write the same file and the patch's wins.
    in_state = {identity(o["kind"], o["metadata"]) for o in objects}
    on_disk = {identity(m["kind"], m["metadata"]) for m in stack.manifests()}
    assert len(objects) > 50
    assert on_disk == in_state


def test_every_rendered_manifest_validates_against_the_kubernetes_schema(stack):
    validate_manifests(stack.manifests())


def application_charts() -> set[str]:
    """`name-version` of every chart a platform stack deploys: ours (library charts aside, and fluxiondb, which
    tenant stacks deploy: tests/engine/test_tenant_stacks.py) and the Bitnami test double."""
    labels = set()
    for chart_file in [*sorted(CHARTS_DIR.glob("*/Chart.yaml")), BITNAMI_STANDIN / "Chart.yaml"]:
        meta = yaml.safe_load(chart_file.read_text())
        if meta.get("type", "application") == "application" and meta["name"] != "fluxiondb":
            labels.add(f"{meta['name']}-{meta['version']}")
    return labels


def test_the_provider_rendered_every_chart_with_its_helm_chart_label(stack):
    labelled = {m["metadata"].get("labels", {}).get("helm.sh/chart") for m in stack.manifests()} - {None}
    assert "postgresql-16.7.26" in labelled  # the Bitnami contract, through its test double
    assert labelled == application_charts()


def test_every_chart_resource_owns_objects_rendered_from_a_chart(stack):
    resources = stack.export()["deployment"]["resources"]
    for chart in (r["urn"] for r in resources if r["type"] == CHART):
        children = [r["outputs"]["metadata"] for r in resources if r.get("parent") == chart]
        labels = {metadata.get("labels", {}).get("helm.sh/chart") for metadata in children}
        assert labels and labels <= application_charts(), f"{chart}: {labels}"


def test_a_second_preview_reports_no_changes(stack):
    stack.stack.preview("--expect-no-changes").check("pulumi preview --expect-no-changes")


def test_the_state_export_holds_no_generated_password_or_key_outside_the_secret_envelope(stack):
    plain_outputs = dict(leaves(stack.outputs()))
    secrets = {path: value for path, value in leaves(stack.secret_outputs()) if plain_outputs[path] == "[secret]"}
    secrets |= rendered_credentials(stack.manifests())
    assert len(secrets) >= 10 and all(isinstance(v, str) and len(v) >= 16 for v in secrets.values()), secrets.keys()
    plaintext = plaintext_of(stack.export())
    leaked = [
        where
        for where, value in secrets.items()
        if value in plaintext or base64.b64encode(value.encode()).decode() in plaintext
    ]
    assert not leaked, f"in the state export outside the secret envelope: {leaked}"


def test_the_outputs_match_the_documented_contract(stack):
    validate_outputs(stack.secret_outputs())


def test_exactly_the_outputs_the_contract_marks_secret_are_pulumi_secrets(stack):
    shown_as_secret = {path for path, value in leaves(stack.outputs()) if value == "[secret]"}
    assert shown_as_secret == secret_paths(stack.secret_outputs())


def test_the_stack_previews_with_no_network_at_all(deployed):
    """`unshare -n`: a network namespace with only loopback, so any download or API call would fail."""
    result = deployed("dev").stack.preview("--expect-no-changes", offline=True)
    result.check("offline pulumi preview")
