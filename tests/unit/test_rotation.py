"""Credential rotation under Pulumi mocks: what a rotation asks the program to register (components/rotation.py,
platform_config/rotation.py). What the Jobs do to real servers is the data-plane tier's (test_rotation.py); the
order the engine runs them in, the cluster tier's."""

from __future__ import annotations

import functools
import json

import pytest

from components.rotation import ALTERNATE_SUFFIX, ROTATION_OF_LABEL, slot_generations
from platform_config.__main__ import main as platform_config_main
from platform_config.base import ConfigError
from platform_config.rotation import credential_ids
from platform_config.stack import load_platform_config
from tooling.stackfiles import stack_file
from tooling.stacks import StackRun, run_stack, stack_config

pytestmark = pytest.mark.unit

STACK = "dev"


@functools.cache
def _run(rotation: str = "{}") -> StackRun:
    return run_stack(STACK, {"credentialRotation": json.loads(rotation)})


def run(**generations: int) -> StackRun:
    return _run(json.dumps({key.replace("__", "."): value for key, value in generations.items()}, sort_keys=True))


def rotate(credential: str, generation: int) -> StackRun:
    return _run(json.dumps({credential: generation}))


def of_type(stack: StackRun, type_: str) -> list:
    return [r for r in stack.resources if r.type == type_]


def named(stack: StackRun, type_: str, name: str):
    return next(r for r in of_type(stack, type_) if r.inputs["metadata"]["name"] == name)


def jobs(stack: StackRun, stem: str) -> list:
    return [r for r in of_type(stack, "kubernetes:batch/v1:Job") if r.inputs["metadata"]["name"].startswith(stem)]


def passwords(stack: StackRun) -> dict[str, dict]:
    return {r.name: r.inputs for r in of_type(stack, "random:index/randomPassword:RandomPassword")}


SECRET = "kubernetes:core/v1:Secret"


@pytest.mark.parametrize(("generation", "slots"), [(0, (0, None)), (1, (0, 1)), (2, (2, 1)), (3, (2, 3)), (4, (4, 3))])
def test_a_rotation_replaces_only_the_slot_it_activates(generation, slots):
    assert slot_generations(generation) == slots


def test_a_stack_that_never_rotated_registers_no_rotation_job_and_no_keepers():
    stack = _run()
    assert not [r for r in of_type(stack, "kubernetes:batch/v1:Job") if "-rotate-" in r.inputs["metadata"]["name"]]
    assert not [r for r in of_type(stack, SECRET) if r.inputs["metadata"]["name"].endswith("-next-credentials")]
    assert all("keepers" not in inputs or not inputs["keepers"] for inputs in passwords(stack).values())


def test_rotating_a_service_user_hands_clients_its_alternate_login_with_a_new_password():
    stack = rotate("dataTier.product-postgres.user", 1)
    data = named(stack, SECRET, "product-postgres-secret").inputs["stringData"]
    assert data["username"] == "productservice" + ALTERNATE_SUFFIX
    assert data["password"] == "generated-data-tier-product-postgres-password-alternate"
    url = stack.outputs["dataTier"]["postgres"]["product"]["url"]
    assert url.startswith(
        f"postgresql://productservice{ALTERNATE_SUFFIX}:generated-data-tier-product-postgres-password-alternate@"
    )


def test_the_next_rotation_returns_to_the_service_user_with_slot_zero_replaced():
    stack = rotate("dataTier.product-postgres.user", 2)
    data = named(stack, SECRET, "product-postgres-secret").inputs["stringData"]
    assert data["username"] == "productservice"
    assert passwords(stack)["data-tier-product-postgres-password"]["keepers"] == {"generation": "2"}
    assert passwords(stack)["data-tier-product-postgres-password-alternate"]["keepers"] == {"generation": "1"}


def test_a_rotation_leaves_every_other_credential_as_it_is():
    before, after = passwords(_run()), passwords(rotate("dataTier.product-postgres.user", 1))
    changed = {name for name in after if after[name] != before.get(name)}
    assert changed == {"data-tier-product-postgres-password-alternate"}


def test_a_rotated_database_gets_a_rotate_job_and_a_converge_job_running_its_program():
    stack = rotate("dataTier.product-postgres.admin", 1)
    rotate_job, converge_job = sorted(jobs(stack, "product-postgres-"), key=lambda r: "-converge-" in r.name)
    assert "-rotate-" in rotate_job.inputs["metadata"]["name"]
    assert "-converge-" in converge_job.inputs["metadata"]["name"]
    pod = rotate_job.inputs["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert container["command"] == ["bash", "/rotation/rotate-postgres.sh"]
    assert container["image"] == "docker.io/library/postgres:17.6"
    assert pod["metadata"]["labels"][ROTATION_OF_LABEL] == "product-postgres"
    assert rotate_job.inputs["metadata"]["annotations"] == {"pulumi.com/replaceUnready": "true"}


def test_a_rotation_job_reads_every_password_from_a_secret_and_the_current_ones_optionally():
    container = jobs(rotate("dataTier.redis.password", 1), "redis-rotate-")[0].inputs["spec"]["template"]["spec"][
        "containers"
    ][0]
    by_name = {entry["name"]: entry for entry in container["env"]}
    assert by_name["CURRENT_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "redis-secret",
        "key": "password",
        "optional": True,
    }
    assert by_name["NEXT_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "redis-next-credentials",
        "key": "next-password",
    }
    assert not [entry for entry in container["env"] if "generated-" in str(entry.get("value", ""))]


def test_a_rotated_redis_secret_keeps_the_password_it_replaced_for_restarting_servers():
    data = named(rotate("dataTier.redis.password", 1), SECRET, "redis-secret").inputs["stringData"]
    assert data == {
        "password": "generated-data-tier-redis-password-alternate",
        "previous-password": "generated-data-tier-redis-password",
    }


def test_the_rotation_job_name_changes_with_the_generation_and_only_with_it():
    first = jobs(rotate("dataTier.redis.password", 1), "redis-rotate-")[0].inputs["metadata"]["name"]
    again = jobs(rotate("dataTier.redis.password", 1), "redis-rotate-")[0].inputs["metadata"]["name"]
    second = jobs(rotate("dataTier.redis.password", 2), "redis-rotate-")[0].inputs["metadata"]["name"]
    assert first == again != second


def test_rotating_the_orders_cluster_user_hands_the_order_service_its_alternate_login():
    username = stack_config(STACK)["postgresClusters"]["orders"]["username"]
    stack = rotate("postgresClusters.orders.user", 1)
    values = next(
        r.inputs["values"]
        for r in of_type(stack, "kubernetes:helm.sh/v4:Chart")
        if r.inputs.get("values", {}).get("config", {}).get("postgresUser")
    )
    assert values["config"]["postgresUser"] == username + ALTERNATE_SUFFIX
    assert stack.outputs["postgres"]["orders"]["username"] == username + ALTERNATE_SUFFIX


def test_a_rotated_bitnami_cluster_rolls_its_pods_through_a_secret_checksum():
    stack = rotate("postgresClusters.orders.admin", 1)
    values = next(
        r.inputs["values"] for r in of_type(stack, "kubernetes:helm.sh/v4:Chart") if "auth" in r.inputs["values"]
    )
    annotation = values["primary"]["podAnnotations"]
    assert list(annotation) == ["checksum/secret-orders-postgresql-credentials"]
    assert values["readReplicas"]["podAnnotations"] == annotation


def test_rotating_core_pipelines_login_reruns_its_bootstrap_with_the_alternate_login():
    stack = rotate("corePipeline.database", 1)
    job = jobs(stack, "core-pipeline-db-bootstrap-")[0]
    assert (
        job.inputs["spec"]["template"]["spec"]["containers"][0]["command"][-1]
        == f"app_login=core_pipeline{ALTERNATE_SUFFIX}"
    )
    data = named(stack, SECRET, "core-pipeline-credentials").inputs["stringData"]
    assert data["POSTGRES_USER"] == f"core_pipeline{ALTERNATE_SUFFIX}"


def test_every_committed_stack_lists_its_credentials_for_rotation():
    for stack in ("dev", "staging", "prod"):
        ids = credential_ids(load_platform_config(stack_config(stack)))
        assert "dataTier.product-postgres.user" in ids and "postgresClusters.orders.admin" in ids, stack


def test_rotating_a_credential_the_stack_does_not_have_is_an_error_naming_it_and_the_allowed_ids():
    config = {**stack_config(STACK), "credentialRotation": {"dataTier.kafka.sasl": 1}}
    with pytest.raises(ConfigError) as error:
        load_platform_config(config)
    message = str(error.value)
    assert "nexus-platform:credentialRotation.dataTier.kafka.sasl: not a credential this stack generates" in message
    assert "allowed: dataTier.product-postgres.user" in message


def test_a_negative_generation_is_an_error_naming_the_key():
    config = {**stack_config(STACK), "credentialRotation": {"dataTier.redis.password": -1}}
    with pytest.raises(ConfigError, match=r"credentialRotation\.dataTier\.redis\.password = -1"):
        load_platform_config(config)


@pytest.fixture
def scratch_stack():
    """A git-ignored copy of the staging stack file, comments and all (tests never edit the committed ones)."""
    path = stack_file("scratch-rotation-cli")
    path.write_text(stack_file("staging").read_text())
    yield "scratch-rotation-cli"
    path.unlink()


def test_the_rotate_command_prints_one_config_set_per_credential(capsys):
    assert platform_config_main(["rotate", "dev", "dataTier.redis.password"]) == 0
    assert capsys.readouterr().out.strip() == (
        "pulumi config set --path 'credentialRotation[\"dataTier.redis.password\"]' 1"
    )


def test_the_rotate_command_writes_the_next_generations_into_the_stack_file_and_nothing_else(scratch_stack):
    before = stack_file(scratch_stack).read_text()
    assert platform_config_main(["rotate", scratch_stack, "dataTier.redis.password", "--write"]) == 0
    assert platform_config_main(["rotate", scratch_stack, "all", "--write"]) == 0
    after = stack_file(scratch_stack).read_text()

    rotation = stack_config(scratch_stack)["credentialRotation"]
    assert rotation["dataTier.redis.password"] == 2
    assert set(rotation) == set(credential_ids(load_platform_config(stack_config("staging"))))
    assert {credential: n for credential, n in rotation.items() if n != 1} == {"dataTier.redis.password": 2}
    assert "# staging:" in after
    # Every line that was there is still there, in order; only the rotation block was added.
    kept = [line for line in after.splitlines() if not line.startswith(("  nexus-platform:credentialRotation", "    "))]
    assert kept == [line for line in before.splitlines() if not line.startswith("    ")]


def test_the_rotate_command_refuses_an_unknown_credential():
    with pytest.raises(SystemExit, match=r"not a credential of this stack: dataTier\.nothing"):
        platform_config_main(["rotate", "dev", "dataTier.nothing"])


def _data_tier_checksums(stack: StackRun) -> dict[str, str]:
    chart = next(r for r in of_type(stack, "kubernetes:helm.sh/v4:Chart") if r.name == "data-tier-chart")
    return chart.inputs["values"]["secretChecksums"]


def test_rotating_a_service_login_restarts_no_database_only_its_clients():
    before = _data_tier_checksums(_run())
    after = _data_tier_checksums(rotate("dataTier.product-postgres.user", 1))
    assert after == before


def test_rotating_an_admin_password_rolls_the_database_pods_that_hold_it():
    before = _data_tier_checksums(_run())
    after = _data_tier_checksums(rotate("dataTier.product-postgres.admin", 1))
    assert {name for name in after if after[name] != before[name]} == {"product-postgres-secret"}


def test_a_bitnami_cluster_keeps_its_users_own_password_where_the_chart_reads_it():
    stack = rotate("postgresClusters.orders.user", 1)
    data = named(stack, SECRET, "orders-postgresql-credentials").inputs["stringData"]
    assert data["password"] == "generated-orders-user-password"
    assert data["alternate-password"] == "generated-orders-user-password-alternate"
    assert stack.outputs["postgres"]["orders"]["passwordSecretKey"] == "alternate-password"


def test_rotating_a_replica_set_key_keeps_the_replaced_key_for_the_rolling_restart():
    stack = rotate("dataTier.cart-mongodb.replicaSetKey", 1)
    data = named(stack, SECRET, "cart-mongodb-secret").inputs["stringData"]
    assert data["replica-set-key"] == "generated-data-tier-cart-mongodb-keyfile-alternate"
    assert data["previous-replica-set-key"] == "generated-data-tier-cart-mongodb-keyfile"
    before, after = _data_tier_checksums(_run()), _data_tier_checksums(stack)
    assert {name for name in after if after[name] != before[name]} == {"cart-mongodb-secret"}
