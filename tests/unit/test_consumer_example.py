"""examples/consumer, the app team's program: it builds its app's environment from the platform's real
outputs, carries every credential only as a Pulumi secret inside its own Kubernetes Secret, and has the
Deployment reference that Secret instead of holding the values."""

from __future__ import annotations

import asyncio
import copy
import importlib.util
import runpy
import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pulumi
import pytest
from pulumi.runtime import config as runtime_config

from tooling.paths import REPO_ROOT
from tooling.stacks import MockedResource, RecordingMocks, StackRun

pytestmark = pytest.mark.unit

CONSUMER = REPO_ROOT / "examples" / "consumer"
PLATFORM_STACK = "organization/nexus-platform/dev"


def _load_app_env() -> ModuleType:
    """The consumer's pure module, registered as `app_env` the way its program imports it."""
    spec = importlib.util.spec_from_file_location("app_env", CONSUMER / "app_env.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["app_env"] = module
    spec.loader.exec_module(module)
    return module


app_env = _load_app_env()


class StackReferenceMocks(RecordingMocks):
    """RecordingMocks whose StackReference resolves to a given platform stack's outputs."""

    def __init__(self, outputs: dict[str, Any], secret_names: list[str]) -> None:
        super().__init__()
        self.platform_outputs = outputs
        self.secret_names = secret_names

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        resource_id, outputs = super().new_resource(args)
        if args.typ == "pulumi:pulumi:StackReference":
            outputs = {**outputs, "outputs": self.platform_outputs, "secretOutputNames": self.secret_names}
        return resource_id, outputs


@dataclass
class ConsumerRun:
    resources: list[MockedResource]
    exports: dict[str, Any]

    def one(self, type_token: str) -> MockedResource:
        found = [r for r in self.resources if r.type == type_token]
        assert len(found) == 1, [r.type for r in self.resources]
        return found[0]


def run_consumer(platform: StackRun, secret_names: list[str] | None = None) -> ConsumerRun:
    """The consumer's __main__.py under mocks, its StackReference answering with `platform`'s outputs and
    (unless given) the top-level secret names the engine would report for them."""
    if secret_names is None:
        secret_names = sorted({path.split(".")[0] for path in platform.secret_paths})
    mocks = StackReferenceMocks(platform.outputs, secret_names)
    pulumi.runtime.set_mocks(mocks, project="nexus-consumer", stack="dev", preview=False)
    runtime_config.set_all_config({"nexus-consumer:platformStack": PLATFORM_STACK}, secret_keys=[])
    exports: dict[str, Any] = {}

    @pulumi.runtime.test
    def program():
        sys.modules["app_env"] = app_env
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(pulumi, "export", exports.__setitem__)
            runpy.run_path(str(CONSUMER / "__main__.py"), run_name="__main__")
        return asyncio.ensure_future(asyncio.sleep(0))

    program()
    return ConsumerRun(mocks.resources, exports)


@pytest.fixture
def consumer(dev_stack: StackRun) -> ConsumerRun:
    return run_consumer(dev_stack)


def test_the_app_env_takes_each_variable_from_its_documented_platform_output(dev_stack: StackRun) -> None:
    outputs = dev_stack.outputs
    env = app_env.app_env(outputs)
    assert env.plain == {
        "APP_ENV": "dev",
        "KAFKA_BROKERS": outputs["dataTier"]["kafka"]["bootstrapServers"],
        "ORDER_QUERY_URL": outputs["orderPlatform"]["internalUrls"]["orderQueryService"],
    }
    assert env.secret == {
        "DATABASE_URL": outputs["postgres"]["orders"]["writerUrl"],
        "READ_DATABASE_URL": outputs["postgres"]["orders"]["readerUrl"],
        "REDIS_URL": outputs["dataTier"]["redis"]["url"],
    }


def test_every_credential_bearing_variable_comes_from_an_output_the_contract_marks_secret(
    dev_stack: StackRun,
) -> None:
    env = app_env.app_env(dev_stack.outputs)
    secret_values = {_get(dev_stack.outputs, path) for path in dev_stack.secret_paths}
    assert set(env.secret.values()) <= secret_values
    assert not set(env.plain.values()) & secret_values


def test_the_container_env_references_the_secret_for_credentials_and_never_holds_their_values(
    dev_stack: StackRun,
) -> None:
    env = app_env.app_env(dev_stack.outputs)
    entries = app_env.container_env(env, "app-secret")
    assert {e["name"]: e["valueFrom"]["secretKeyRef"] for e in entries if "valueFrom" in e} == {
        name: {"name": "app-secret", "key": name} for name in env.secret
    }
    assert not {e.get("value") for e in entries} & set(env.secret.values())


def test_a_platform_without_redis_gives_an_app_without_a_cache(dev_stack: StackRun) -> None:
    outputs = copy.deepcopy(dev_stack.outputs)
    outputs["dataTier"]["redis"] = None
    assert "REDIS_URL" not in app_env.app_env(outputs).secret


def test_a_platform_without_tls_gives_the_app_no_ca_to_verify_against(dev_stack: StackRun) -> None:
    assert "TLS_CA_FILE" not in app_env.app_env(dev_stack.outputs).plain


def test_a_platform_serving_tls_gives_the_app_the_ca_its_urls_are_verified_against(prod_stack: StackRun) -> None:
    env = app_env.app_env(prod_stack.outputs)
    assert env.plain["PGSSLROOTCERT"] == env.plain["TLS_CA_FILE"] == "/tls/ca.crt"
    assert env.secret["DATABASE_URL"].endswith("?sslmode=verify-full")
    assert env.secret["REDIS_URL"].startswith("rediss://")


def test_a_missing_cluster_is_an_error_naming_the_output_and_the_clusters_present(dev_stack: StackRun) -> None:
    with pytest.raises(app_env.PlatformOutputsError, match=r"postgres\.billing is missing.*present: orders"):
        app_env.app_env(dev_stack.outputs, postgres_cluster="billing")


def test_a_platform_without_a_data_tier_is_an_error_naming_kafka(dev_stack: StackRun) -> None:
    outputs = {**dev_stack.outputs, "dataTier": None}
    with pytest.raises(app_env.PlatformOutputsError, match=r"dataTier is missing or null.*KAFKA_BROKERS"):
        app_env.app_env(outputs)


def test_the_program_reads_the_platform_stack_named_in_its_config(consumer: ConsumerRun) -> None:
    assert consumer.one("pulumi:pulumi:StackReference").inputs["name"] == PLATFORM_STACK


def test_the_secret_carries_the_writer_url_as_a_pulumi_secret(consumer: ConsumerRun, dev_stack: StackRun) -> None:
    secret = consumer.one("kubernetes:core/v1:Secret")
    assert secret.inputs["stringData"]["DATABASE_URL"] == dev_stack.outputs["postgres"]["orders"]["writerUrl"]
    assert secret.is_secret_input("stringData.DATABASE_URL")


def test_the_secret_stays_a_pulumi_secret_even_if_the_reference_reports_no_secret_outputs(
    dev_stack: StackRun,
) -> None:
    secret = run_consumer(dev_stack, secret_names=[]).one("kubernetes:core/v1:Secret")
    assert secret.is_secret_input("stringData")


def test_the_secret_lives_in_the_apps_own_namespace(consumer: ConsumerRun) -> None:
    secret = consumer.one("kubernetes:core/v1:Secret")
    deployment = consumer.one("kubernetes:apps/v1:Deployment")
    assert secret.inputs["metadata"]["namespace"] == deployment.inputs["metadata"]["namespace"] == "orders-reporting"


def test_the_deployment_takes_database_url_from_the_secret_by_reference(consumer: ConsumerRun) -> None:
    secret_name = consumer.one("kubernetes:core/v1:Secret").inputs["metadata"]["name"]
    env = {e["name"]: e for e in _container(consumer)["env"]}
    assert env["DATABASE_URL"] == {
        "name": "DATABASE_URL",
        "valueFrom": {"secretKeyRef": {"name": secret_name, "key": "DATABASE_URL"}},
    }


def test_the_deployment_gets_kafka_brokers_as_a_plain_value(consumer: ConsumerRun, dev_stack: StackRun) -> None:
    env = {e["name"]: e for e in _container(consumer)["env"]}
    assert env["KAFKA_BROKERS"]["value"] == dev_stack.outputs["dataTier"]["kafka"]["bootstrapServers"]


def test_no_platform_secret_appears_in_the_deployment(consumer: ConsumerRun, dev_stack: StackRun) -> None:
    deployment = consumer.one("kubernetes:apps/v1:Deployment")
    text = repr(deployment.inputs)
    assert [path for path in dev_stack.secret_paths if _get(dev_stack.outputs, path) in text] == []
    assert deployment.secret_inputs == set()


def test_the_app_container_meets_the_platforms_guardrails(consumer: ConsumerRun) -> None:
    container = _container(consumer)
    security = container["securityContext"]
    assert set(container["resources"]) == {"requests", "limits"}
    assert (security["runAsNonRoot"], security["allowPrivilegeEscalation"], security["privileged"]) == (
        True,
        False,
        False,
    )
    assert (security["readOnlyRootFilesystem"], security["capabilities"]) == (True, {"drop": ["ALL"]})
    assert consumer.one("kubernetes:apps/v1:Deployment").inputs["spec"]["replicas"] >= 2


def _container(consumer: ConsumerRun) -> dict[str, Any]:
    (container,) = consumer.one("kubernetes:apps/v1:Deployment").inputs["spec"]["template"]["spec"]["containers"]
    return container


def _get(outputs: dict[str, Any], path: str) -> Any:
    value: Any = outputs
    for part in path.split("."):
        value = value[part]
    return value
