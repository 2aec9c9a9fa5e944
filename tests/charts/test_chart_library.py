"""One library chart for every chart we write: the six charts depend on nexus-lib and define no names or labels of
their own, every object of a stack carries the platform's one part-of value, `secretChecksums` rolls exactly the
pods that read the named Secret (and bad entries are refused), and the committed schemas and README parameter
tables are what their generators produce, so neither can drift from its single source.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import yaml

from components.helm import chart_dependencies
from tests.policy.stack_objects import stack_objects
from tooling.helm import CHARTS_DIR, OUR_CHARTS, HelmError, render
from tooling.helm import LIBRARY_CHART as LIBRARY
from tooling.paths import REPO_ROOT
from tooling.stacks import STACKS

pytestmark = pytest.mark.render

PART_OF = "nexus-platform"
# Helpers the library defines for every chart; a chart defining its own would be a second dialect.
LIBRARY_HELPERS = ("name", "fullname", "chart", "labels", "selectorLabels", "componentLabels", "componentSelector")
# Hooks the library calls back by name (printf "%s.<hook>" .Chart.Name): defined by the chart, never included by it.
LIBRARY_HOOKS = ("configData", "secretKeys", "validateValues")
SECRET = "rotated-credentials"
# Values that make each chart's pods read the Secret named SECRET (and, for the data tier, others besides).
READS_SECRET: dict[str, dict[str, Any]] = {
    "nexus-database": {
        "mongodb": {"databases": {"cart": {"existingSecret": SECRET}}},
        "backup": {"enabled": True},
    },
    # Read only through operator-supplied pod-spec fragments: the chart's own credentials are another Secret.
    "core-pipeline": {
        "secret": {"existingSecret": "core-pipeline-credentials"},
        "extraVolumes": [{"name": "certs", "secret": {"secretName": SECRET}}],
        "extraVolumeMounts": [{"name": "certs", "mountPath": "/certs", "readOnly": True}],
    },
    "fluxiondb": {"secret": {"create": False, "name": SECRET}},
    "api-gateway": {
        "existingSecret": "api-gateway-credentials",
        "extraEnv": [{"name": "EXTRA_TOKEN", "valueFrom": {"secretKeyRef": {"name": SECRET, "key": "token"}}}],
    },
    "order-command-service": {"existingSecret": SECRET},
    "order-query-service": {"existingSecret": SECRET, "persistence": {"enabled": True}},
}


def templates(chart: str) -> dict[str, str]:
    return {path.name: path.read_text() for path in (CHARTS_DIR / chart / "templates").rglob("*") if path.is_file()}


def pod_templates(manifests: list[Mapping[str, Any]]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(kind/name, pod template) of every workload."""
    for manifest in manifests:
        spec = manifest.get("spec") or {}
        if manifest["kind"] == "CronJob":
            spec = spec["jobTemplate"]["spec"]
        if "template" in spec:
            yield f"{manifest['kind']}/{manifest['metadata']['name']}", spec["template"]


def secrets_read(pod_spec: Mapping[str, Any]) -> set[str]:
    """Names of the Secrets a pod reads: env secretKeyRefs, envFrom secretRefs and Secret volumes."""
    names = {volume["secret"]["secretName"] for volume in pod_spec.get("volumes", []) if "secret" in volume}
    for container in [*pod_spec.get("initContainers", []), *pod_spec["containers"]]:
        for env in container.get("env", []):
            if "secretKeyRef" in (env.get("valueFrom") or {}):
                names.add(env["valueFrom"]["secretKeyRef"]["name"])
        names |= {source["secretRef"]["name"] for source in container.get("envFrom", []) if "secretRef" in source}
    return names


def annotations(pod_template: Mapping[str, Any]) -> Mapping[str, str]:
    return (pod_template.get("metadata") or {}).get("annotations") or {}


@pytest.mark.parametrize("chart", OUR_CHARTS)
def test_each_chart_depends_on_the_library_chart(chart):
    assert [(d["name"], d["repository"]) for d in chart_dependencies(CHARTS_DIR / chart)] == [
        (LIBRARY, f"file://../{LIBRARY}")
    ]


@pytest.mark.parametrize("chart", OUR_CHARTS)
def test_no_chart_defines_names_or_labels_helpers_of_its_own(chart):
    own = [
        f"{name}: {helper}"
        for name, body in templates(chart).items()
        for helper in re.findall(r'define "([^"]+)"', body)
        if helper.split(".", 1)[-1] in LIBRARY_HELPERS
    ]
    assert own == [], f"{chart} defines helpers the library owns: {own}"


@pytest.mark.parametrize("chart", OUR_CHARTS)
def test_every_helper_a_chart_defines_is_called(chart):
    bodies = "\n".join(templates(chart).values())
    uncalled = [
        helper
        for helper in re.findall(r'define "([^"]+)"', bodies)
        if f'include "{helper}"' not in bodies and helper.split(".", 1)[-1] not in LIBRARY_HOOKS
    ]
    assert uncalled == [], f"{chart} defines helpers nobody calls: {uncalled}"


@pytest.mark.parametrize("chart", OUR_CHARTS)
def test_each_chart_ships_a_readme_notes_and_a_values_file_per_environment(chart):
    for path in ("README.md", "templates/NOTES.txt", "values-dev.yaml", "values-staging.yaml", "values-prod.yaml"):
        assert (CHARTS_DIR / chart / path).is_file(), f"{chart} has no {path}"


@pytest.mark.parametrize("stack", STACKS)
def test_every_object_our_charts_render_for_a_stack_carries_the_platforms_part_of(stack):
    wrong = {
        ident: (obj["metadata"].get("labels") or {}).get("app.kubernetes.io/part-of")
        for ident, obj in stack_objects(stack).items()
        # Chart objects are `<chart resource>:<kind>:<name>`; the Bitnami PostgreSQL chart is upstream's.
        if ":" in ident and not ident.split(":", 1)[0].endswith("-postgresql")
        if (obj["metadata"].get("labels") or {}).get("app.kubernetes.io/part-of") != PART_OF
    }
    assert wrong == {}, f"{stack}: objects without part-of {PART_OF}: {wrong}"


@pytest.mark.parametrize("stack", STACKS)
def test_no_object_of_a_stack_carries_another_part_of(stack):
    values = {
        ident: part_of
        for ident, obj in stack_objects(stack).items()
        if (part_of := ((obj.get("metadata") or {}).get("labels") or {}).get("app.kubernetes.io/part-of"))
    }
    assert values and set(values.values()) == {PART_OF}, {i: v for i, v in values.items() if v != PART_OF}


@pytest.mark.parametrize("chart", OUR_CHARTS)
def test_a_changed_secret_checksum_changes_the_annotation_of_exactly_the_pods_that_read_that_secret(chart):
    def rendered(checksum: str) -> dict[str, Mapping[str, Any]]:
        values = {**READS_SECRET[chart], "secretChecksums": {SECRET: checksum, "a-secret-nobody-reads": "x"}}
        return dict(pod_templates(render(chart, values=values, values_files=[CHARTS_DIR / chart / "values-prod.yaml"])))

    before, after = rendered("sha256-one"), rendered("sha256-two")
    readers = {name for name, pod in after.items() if SECRET in secrets_read(pod["spec"])}
    changed = {name for name in after if annotations(before[name]) != annotations(after[name])}
    assert readers, f"{chart}: no pod reads {SECRET}"
    assert changed == readers, f"{chart}: changed {sorted(changed)}, readers {sorted(readers)}"
    for name in readers:
        assert annotations(after[name])[f"checksum/secret-{SECRET}"] == "sha256-two", name
    assert not any("checksum/secret-a-secret-nobody-reads" in annotations(pod) for pod in after.values())


@pytest.mark.parametrize("chart", OUR_CHARTS)
@pytest.mark.parametrize(
    "checksums",
    [{SECRET: 42}, {SECRET: ""}, {"Not_A_Secret_Name": "x"}, {"x" * 57: "x"}],
    ids=["non-string", "empty", "invalid-name", "name-too-long-for-an-annotation"],
)
def test_bad_secret_checksums_are_refused_by_the_schema(chart, checksums):
    values = {**READS_SECRET[chart], "secretChecksums": checksums}
    with pytest.raises(HelmError, match=r"secretChecksums|invalid propertyName"):
        render(chart, values=values, values_files=[CHARTS_DIR / chart / "values-prod.yaml"])


@pytest.mark.parametrize("chart", OUR_CHARTS)
def test_secret_checksums_default_to_an_empty_map(chart):
    assert yaml.safe_load((CHARTS_DIR / chart / "values.yaml").read_text())["secretChecksums"] == {}


def test_each_committed_values_schema_is_what_the_schema_generator_composes():
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "chart_schemas.py"), "check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_each_committed_readme_parameter_table_is_what_the_readme_generator_produces():
    result = subprocess.run(
        [str(REPO_ROOT / "scripts" / "chart-docs.sh"), "check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("sasl", [True, False], ids=["sasl-on", "sasl-off"])
def test_a_kafka_secret_checksum_rolls_the_brokers_only_while_they_read_it_for_sasl(sasl):
    values = {"kafka": {"sasl": {"enabled": sasl}}, "secretChecksums": {"kafka-secret": "sha256-one"}}
    pods = dict(pod_templates(render("nexus-database", values=values)))
    annotated = {name for name, pod in pods.items() if "checksum/secret-kafka-secret" in annotations(pod)}
    readers = {name for name, pod in pods.items() if "kafka-secret" in secrets_read(pod["spec"])}
    assert annotated == readers
    assert bool(readers) is sasl
