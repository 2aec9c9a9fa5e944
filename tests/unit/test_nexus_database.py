"""NexusDatabase under Pulumi mocks, per stack: every password is generated and lives only in the Secret
the specification names, the chart gets exactly `chart_values` and no password, each database is
exported with host, port, database, username, Secret and a URL that is a Pulumi secret whenever it holds a
password, storage only grows, and bad `dataTier` config is refused with a message naming key and value."""

from __future__ import annotations

import asyncio
import re
from types import SimpleNamespace

import pulumi
import pytest

from components.nexus_database import NexusDatabase, NexusDatabaseArgs, backup_claims, chart_values, data_claims
from components.storage import keep_claim_templates, storage_change_problems
from platform_config import PROJECT, ConfigError, load_platform_config
from platform_config.base import Environment
from platform_config.data_tier import MONGODB_DATABASES, POSTGRES_DATABASES, DataTierConfig
from platform_config.security import SecurityConfig
from tooling.stacks import STACKS, TEST_SECRETS, RecordingMocks, deep_merge, run_stack, stack_config

pytestmark = pytest.mark.unit

CHART = "data-tier-chart"
SECRET = "kubernetes:core/v1:Secret"
PASSWORD = "random:index/randomPassword:RandomPassword"
PVC_PATCH = "kubernetes:core/v1:PersistentVolumeClaimPatch"
# The specification's databases: name -> (database, user).
MONGODB, POSTGRES = MONGODB_DATABASES, POSTGRES_DATABASES
DOMAIN = "data.svc.cluster.local"


def data_tier(stack: str, overrides: dict | None = None) -> DataTierConfig:
    return DataTierConfig.model_validate(deep_merge(stack_config(stack)["dataTier"], overrides or {}))


async def resolve(value, path: str, secrets: set[str]):
    """Await every Output in a nested structure, noting which paths are secret."""
    if isinstance(value, pulumi.Output):
        if await value.is_secret():
            secrets.add(path)
        return await resolve(await value.future(), path, secrets)
    if isinstance(value, dict):
        return {key: await resolve(item, f"{path}.{key}" if path else key, secrets) for key, item in value.items()}
    return value


def run_component(config: DataTierConfig) -> SimpleNamespace:
    """NexusDatabase alone under mocks: for settings the full program's other sections rule out (the order
    platform needs Kafka without SASL, so a whole-stack run cannot turn SASL on or the data tier off)."""
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack="dev")
    secrets: set[str] = set()
    outputs: dict = {}

    @pulumi.runtime.test
    def program():
        component = NexusDatabase("data-tier", NexusDatabaseArgs(config, Environment.DEV))

        async def resolve_all():
            outputs.update(await resolve({"dataTier": component.outputs()}, "", secrets))

        return asyncio.ensure_future(resolve_all())

    program()
    resources = mocks.resources
    return SimpleNamespace(
        outputs=outputs, secret_paths=secrets, of_type=lambda t: [r for r in resources if r.type == t]
    )


def secrets_by_name(run) -> dict[str, object]:
    return {r.inputs["metadata"]["name"]: r for r in run.of_type(SECRET) if r.name.startswith("data-tier-")}


# --- the chart resource -------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_the_chart_receives_exactly_the_pure_chart_values_of_the_stack(stack, request):
    run = request.getfixturevalue(f"{stack}_stack")
    config = data_tier(stack)
    expected = chart_values(
        config,
        Environment(stack),
        delete_data_on_destroy=False,
        secret_checksums=secret_checksums(run),
        security=SecurityConfig.model_validate(stack_config(stack).get("security", {})),
    )
    chart = run.charts()[CHART]
    assert chart.inputs["values"] == expected
    assert chart.inputs["namespace"] == "data"
    assert chart.inputs["name"] == "nexus-database"
    assert chart.inputs["chart"].endswith("charts/nexus-database")


def secret_checksums(run) -> dict[str, str]:
    """What the component passed as secretChecksums (tests/unit/test_secrets.py pins how they are made)."""
    return run.charts()[CHART].inputs["values"]["secretChecksums"]


def test_pods_are_annotated_with_a_checksum_of_every_secret_they_read_so_they_roll_on_rotation(prod_stack):
    secrets = {
        s.inputs["metadata"]["name"] for s in prod_stack.of_type(SECRET) if s.inputs["metadata"]["namespace"] == "data"
    }
    checksums = secret_checksums(prod_stack)
    assert set(checksums) == secrets
    assert {"cart-mongodb-secret", "product-postgres-secret", "redis-secret"} <= secrets
    assert all(re.fullmatch("[0-9a-f]{64}", checksum) for checksum in checksums.values())


def test_the_secret_checksums_are_readable_in_previews_not_pulumi_secrets(prod_stack):
    chart = prod_stack.charts()[CHART]
    assert not chart.is_secret_input("values.secretChecksums.redis-secret")
    assert not chart.is_secret_input("values")


def test_no_password_reaches_the_chart_inputs(prod_stack):
    values = repr(prod_stack.charts()[CHART].inputs)
    assert "generated-" not in values


def test_statefulset_claim_templates_are_never_diffed_so_growth_never_replaces_a_statefulset(dev_stack):
    assert keep_claim_templates in dev_stack.transforms


def test_delete_data_on_destroy_reaches_the_chart():
    run = run_stack("dev", {"deleteDataOnDestroy": True})
    assert run.charts()[CHART].inputs["values"]["persistence"] == {"retainOnDelete": False}


# --- credentials --------------------------------------------------------------------------------------------


def test_every_database_has_its_secret_named_as_the_specification_documents(any_stack):
    names = set(secrets_by_name(any_stack))
    assert names == {
        "cart-mongodb-secret",
        "user-mongodb-secret",
        *(f"{db}-postgres-secret" for db in POSTGRES),
        "redis-secret",
    }


def test_mongodb_secrets_hold_the_user_root_password_and_replica_set_key(dev_stack):
    secret = secrets_by_name(dev_stack)["cart-mongodb-secret"]
    data = secret.inputs["stringData"]
    assert set(data) == {"username", "password", "root-password", "replica-set-key"}
    assert data["username"] == "cartservice"
    assert data["password"] == "generated-data-tier-cart-mongodb-password"


def test_postgres_secrets_hold_the_user_admin_and_replication_passwords(dev_stack):
    data = secrets_by_name(dev_stack)["loyalty-postgres-secret"].inputs["stringData"]
    assert set(data) == {"username", "password", "postgres-password", "replication-password"}
    assert data["username"] == "loyaltyservice"


def test_every_secrets_data_is_a_pulumi_secret(any_stack):
    for secret in secrets_by_name(any_stack).values():
        assert secret.is_secret_input("stringData"), secret.name


def test_every_password_is_a_random_password_of_its_own(prod_stack):
    names = [r.name for r in prod_stack.of_type(PASSWORD) if r.name.startswith("data-tier-")]
    # Mongo: user, root, keyfile; Postgres: user, admin, replication; Redis: one.
    assert len(names) == 2 * 3 + 5 * 3 + 1
    assert len(set(names)) == len(names)


def test_kafka_sasl_adds_a_generated_password_in_the_kafka_secret():
    run = run_component(data_tier("dev", {"kafka": {"sasl": True}}))
    secret = secrets_by_name(run)["kafka-secret"]
    assert secret.inputs["stringData"] == {"username": "kafka", "password": "generated-data-tier-kafka-password"}
    assert run.outputs["dataTier"]["kafka"]["secretName"] == "kafka-secret"


# --- outputs ------------------------------------------------------------------------------------------------


# Each database's exported host, and the scheme and query of its URL, by kind.
URL_SHAPES = {
    "mongodb": ("mongodb-headless", "mongodb", "27017", "?replicaSet={db}-rs"),
    "postgres": ("postgres-service", "postgresql", "5432", ""),
}


@pytest.mark.parametrize(
    ("kind", "db", "names"),
    [("mongodb", *item) for item in MONGODB.items()] + [("postgres", *item) for item in POSTGRES.items()],
)
def test_database_outputs_name_the_service_the_secret_and_a_url_with_the_generated_password(dev_stack, kind, db, names):
    database, username = names
    service, scheme, port, query = URL_SHAPES[kind]
    out = dev_stack.outputs["dataTier"][kind][db]
    host = f"{db}-{service}.{DOMAIN}"
    assert (out["host"], out["port"], out["database"], out["username"]) == (host, int(port), database, username)
    assert (out["secretName"], out["secretKey"]) == (f"{db}-{kind}-secret", "password")
    password = f"generated-data-tier-{db}-{kind}-password"
    assert out["url"] == f"{scheme}://{username}:{password}@{host}:{port}/{database}{query.format(db=db)}"


def test_redis_output_is_an_authenticated_url(dev_stack):
    out = dev_stack.outputs["dataTier"]["redis"]
    assert out["url"] == f"redis://:generated-data-tier-redis-password@redis-service.{DOMAIN}:6379"
    assert (out["secretName"], out["secretKey"]) == ("redis-secret", "password")


def test_kafka_output_is_the_bootstrap_address(dev_stack):
    kafka = dev_stack.outputs["dataTier"]["kafka"]
    assert kafka["bootstrapServers"] == f"kafka-service.{DOMAIN}:9092"
    assert kafka["secretName"] == ""


def test_every_url_holding_a_password_is_a_pulumi_secret(any_stack):
    out = any_stack.outputs["dataTier"]
    paths = [f"dataTier.mongodb.{db}.url" for db in out["mongodb"]]
    paths += [f"dataTier.postgres.{db}.url" for db in out["postgres"]]
    paths.append("dataTier.redis.url")
    assert all(any_stack.is_secret(path) for path in paths)


def test_hosts_and_the_kafka_bootstrap_address_stay_readable(any_stack):
    assert not any_stack.is_secret("dataTier.kafka.bootstrapServers")
    assert not any_stack.is_secret("dataTier.postgres.product.host")


def test_a_disabled_database_has_no_secret_no_output_and_is_off_in_the_chart():
    run = run_stack("dev", {"dataTier": {"postgres": {"databases": {"loyalty": {"enabled": False}}}}})
    assert "loyalty" not in run.outputs["dataTier"]["postgres"]
    assert "loyalty-postgres-secret" not in secrets_by_name(run)
    assert run.charts()[CHART].inputs["values"]["postgresql"]["databases"]["loyalty"]["enabled"] is False


def test_with_redis_off_there_is_no_redis_endpoint_secret_or_claim():
    run = run_component(data_tier("dev", {"redis": {"enabled": False}}))
    assert run.outputs["dataTier"]["redis"] is None
    assert "redis-secret" not in secrets_by_name(run)
    assert "data-redis-0" not in data_claims(data_tier("dev", {"redis": {"enabled": False}}))


# --- storage ------------------------------------------------------------------------------------------------


def test_prod_guards_and_grows_every_data_claim_of_every_member(prod_stack):
    claims = data_claims(data_tier("prod"))
    assert claims["data-cart-mongodb-2"] == "100Gi"
    assert claims["data-payment-postgres-1"] == "200Gi"
    assert "data-payment-postgres-2" not in claims
    patched = {r.inputs["metadata"]["name"]: r.inputs for r in prod_stack.of_type(PVC_PATCH)}
    for claim, size in claims.items():
        assert patched[claim]["spec"]["resources"]["requests"]["storage"] == size


def test_backup_volumes_are_created_by_the_component_one_per_backed_up_database(prod_stack):
    claims = {
        r.inputs["metadata"]["name"]: r.inputs["spec"]["resources"]["requests"]["storage"]
        for r in prod_stack.of_type("kubernetes:core/v1:PersistentVolumeClaim")
        if r.name.startswith("data-tier-")
    }
    assert claims == backup_claims(data_tier("prod"))
    assert set(claims) == {"cart-mongodb-backups", "user-mongodb-backups", "redis-backups"} | {
        f"{db}-postgres-backups" for db in POSTGRES
    }


def test_dev_has_no_backup_volumes():
    assert backup_claims(data_tier("dev")) == {}


def test_shrinking_a_database_volume_is_refused_naming_the_claim():
    before = data_claims(data_tier("prod"))
    after = data_claims(data_tier("prod", {"mongodb": {"databases": {"user": {"storageSize": "50Gi"}}}}))
    problems = storage_change_problems(before, after)
    assert len(problems) == 3
    assert "'data-user-mongodb-0' would shrink from 100Gi to 50Gi" in problems[0]


def test_growing_a_database_volume_is_allowed():
    before = data_claims(data_tier("staging"))
    after = data_claims(data_tier("staging", {"kafka": {"storageSize": "40Gi"}}))
    assert storage_change_problems(before, after) == []


# --- config the program refuses -----------------------------------------------------------------------------


def rejection(overrides: dict) -> str:
    config = deep_merge({**stack_config("dev"), **TEST_SECRETS}, {"dataTier": overrides})
    with pytest.raises(ConfigError) as raised:
        load_platform_config(config)
    return str(raised.value)


def test_a_negative_replica_count_is_refused():
    message = rejection({"mongodb": {"databases": {"cart": {"replicas": -1}}}})
    assert "nexus-platform:dataTier.mongodb.databases.cart.replicas = -1" in message
    assert "greater than or equal to 1" in message


def test_zero_replicas_is_refused_because_enabled_false_turns_a_database_off():
    assert "dataTier.redis.replicas = 0" in rejection({"redis": {"replicas": 0}})


def test_a_malformed_storage_size_is_refused_with_an_example():
    message = rejection({"postgres": {"storageSize": "10GB"}})
    assert "dataTier.postgres.storageSize = '10GB'" in message
    assert "such as 20Gi" in message


def test_an_unknown_database_name_is_refused_with_the_known_ones():
    message = rejection({"postgres": {"databases": {"inventory": {}}}})
    assert "unknown PostgreSQL database 'inventory'" in message
    assert "product, payment, order, loyalty, shipping" in message


def test_an_even_zookeeper_ensemble_is_refused():
    assert "dataTier.kafka.zookeeper.replicas = 2: a ZooKeeper ensemble needs an odd number" in rejection(
        {"kafka": {"zookeeper": {"replicas": 2}}}
    )


def test_basic_network_policies_without_the_apps_namespaces_are_refused():
    assert "needs allowedNamespaces" in rejection({"networkPolicy": {"mode": "basic"}})


def test_strict_network_policies_refuse_databases_without_an_allow_list():
    message = rejection({"networkPolicy": {"mode": "strict"}})
    assert "mongodb.databases.cart.allowFrom" in message and "kafka.allowFrom" in message


def test_an_unknown_network_policy_mode_is_refused_with_the_allowed_ones():
    message = rejection({"networkPolicy": {"mode": "paranoid"}})
    assert "dataTier.networkPolicy.mode = 'paranoid'" in message
    assert "'off', 'basic' or 'strict'" in message


def test_a_malformed_backup_schedule_is_refused():
    assert "dataTier.backup.schedule = 'nightly'" in rejection({"backup": {"schedule": "nightly"}})


def test_a_servicemonitor_without_metrics_is_refused():
    assert "nothing to scrape" in rejection({"monitoring": {"serviceMonitor": True}})


def test_an_unpinned_image_is_refused():
    message = rejection({"images": {"redis": {"repository": "docker.io/library/redis", "tag": "latest"}}})
    assert "dataTier.images.redis.tag = 'latest'" in message


def test_an_unknown_key_is_refused():
    assert "dataTier.mongodb.replica: unknown key" in rejection({"mongodb": {"replica": 3}})


def test_no_claim_is_both_created_and_patched(prod_stack):
    """A claim Pulumi creates is resized by updating it; patching it as well would render two objects for one
    claim, the patch lacking the access modes a new claim needs."""
    created = {r.inputs["metadata"]["name"] for r in prod_stack.of_type("kubernetes:core/v1:PersistentVolumeClaim")}
    patched = {
        r.inputs["metadata"]["name"] for r in prod_stack.of_type("kubernetes:core/v1:PersistentVolumeClaimPatch")
    }
    assert created, "prod runs backups, whose claims the component creates"
    assert not created & patched
