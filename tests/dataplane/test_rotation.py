"""Credential rotation (components/rotation.py), run for real: the rotation Jobs' containers exactly as the
component creates them under the prod stack with rotations asked for (program ConfigMap, command, env), against
the data tier's PostgreSQL and Redis pods of the same render, with clients connecting all the while.

What a `pulumi up` does in the cluster is replayed in its order: the rotation Job runs against the running server,
then the live Secret changes (here: the value clients read), then pods roll (here: clients switch over; a Redis
server restarted from the new Secret). Two clients run throughout: one that follows the Secret (a pod that has
rolled) and one that keeps the credentials it started with (a pod that has not). Neither sees an authentication
failure; the old credentials stop working only at the next rotation.

Versions: psql/server and redis-cli/server are Debian's (15, 7.0) against the images' 17.6 and 7.4. What the
programs use (ALTER ROLE ... PASSWORD, role membership with `ALTER ROLE ... SET role`, psql's \\getenv/\\gexec;
Redis ACL SETUSER with several passwords and `!<sha256>`, CONFIG SET masterauth, redis-cli -x) is the same in both.
"""

from __future__ import annotations

import functools
import json
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from components.rotation import ALTERNATE_SUFFIX, next_secret_name
from tests.dataplane.conftest import HERE, PLAINTEXT_CONFIG, PLAINTEXT_VALUES, chart_namespace, rendered
from tooling.dataplane import kafka as kafka_harness
from tooling.dataplane import postgres, redis
from tooling.dataplane.paths import PG_BIN, REDIS_CLI
from tooling.dataplane.postgres import official_entrypoint, psql
from tooling.stacks import StackRun, run_stack

STACK = "prod"
CHART = "nexus-database"
TARGET = "product-postgres"
LIVE = f"{TARGET}-secret"
USER = "productservice"
DATABASE = "productdb"


@functools.cache
def _rotated_stack(generation: int) -> StackRun:
    ids = ("dataTier.product-postgres.user", "dataTier.product-postgres.admin", "dataTier.product-postgres.replication")
    ids += ("dataTier.redis.password", "postgresClusters.orders.user", "postgresClusters.orders.admin")
    ids += ("postgresClusters.orders.replication", "dataTier.cart-mongodb.user", "dataTier.cart-mongodb.root")
    return run_stack(STACK, {**PLAINTEXT_CONFIG, "credentialRotation": {credential: generation for credential in ids}})


def _rotation_objects(generation: int, target: str) -> list[dict]:
    """The rotate Job, its converge twin and the program ConfigMap of `target`, as the component registered them."""
    wanted = {"kubernetes:batch/v1:Job", "kubernetes:core/v1:ConfigMap"}
    return [
        {"kind": r.type.rsplit(":", 1)[-1], **r.inputs}
        for r in _rotated_stack(generation).resources
        if r.type in wanted and r.inputs["metadata"]["name"].startswith((f"{target}-rotate-", f"{target}-converge-"))
    ]


def _job_container(cluster, objects: list[dict], phase: str = "rotate"):
    job = next(o for o in objects if o["kind"] == "Job" and f"-{phase}-" in o["metadata"]["name"])
    return cluster.pod("Job", job["metadata"]["name"]).container("rotate")


@dataclass
class ClientLoop:
    """Logs in over and over with whatever `credentials()` returns, counting refusals, until stopped."""

    login: Callable[[str, str], bool]
    credentials: Callable[[], tuple[str, str]]
    attempts: int = 0
    refusals: list[tuple[str, float]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            user, password = self.credentials()
            self.attempts += 1
            if not self.login(user, password):
                self.refusals.append((user, time.monotonic()))
            time.sleep(0.02)

    def stop(self) -> ClientLoop:
        self._stop.set()
        self._thread.join(timeout=30)
        return self


# --- PostgreSQL -----------------------------------------------------------------------------------------------


def _pg_login(address: str, database: str) -> Callable[[str, str], bool]:
    def login(user: str, password: str) -> bool:
        result = subprocess.run(
            [str(PG_BIN / "psql"), "-X", "-At", "-h", address, "-U", user, "-d", database, "-c", "SELECT 1"],
            env={"PGPASSWORD": password, "PGCONNECT_TIMEOUT": "5", "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=30,
        )
        return result.returncode == 0

    return login


@pytest.fixture
def postgres_rotation(make_cluster):
    """The product database's primary, started from the render, and a helper running generation N's Job."""
    objects = {n: _rotation_objects(n, TARGET) for n in (1, 2)}
    cluster = make_cluster(
        rendered(STACK, CHART, PLAINTEXT_VALUES) + objects[1] + objects[2], chart_namespace(STACK, CHART)
    )
    primary = cluster.pod("StatefulSet", TARGET, 0).container("postgres")
    official_entrypoint(primary)
    secrets = cluster.secrets
    # The passwords of each generation (what the RandomPasswords hold): slot 0 is the stack's own at generation 0.
    generations = {
        0: {"user": USER, "password": secrets.get(LIVE, "password"), "admin": secrets.get(LIVE, "postgres-password")},
        1: {"user": USER + ALTERNATE_SUFFIX, "password": "slot1-gen1 pass", "admin": "admin-gen1 pass"},
        2: {"user": USER, "password": "slot0-gen2 pass", "admin": "admin-gen2 pass"},
    }
    replication = {1: "repl-gen1", 2: "repl-gen2"}
    live = {"user": USER, "password": generations[0]["password"]}

    def job(generation: int, phase: str = "rotate"):
        """Generation N's Job: the next Secret holds N's values; the live Secret still holds N-1's."""
        nxt = next_secret_name(TARGET)
        secrets.set(nxt, "next-app-password", generations[generation]["password"])
        secrets.set(nxt, "next-admin-password", generations[generation]["admin"])
        secrets.set(nxt, "next-replication-password", replication[generation])
        secrets.set(LIVE, "postgres-password", generations[generation - 1]["admin"])
        return _job_container(cluster, objects[generation], phase)

    def publish(generation: int) -> None:
        """The live Secret changes (after the Job): what rolled pods read."""
        live.update(user=generations[generation]["user"], password=generations[generation]["password"])

    return primary, generations, live, job, publish, _pg_login(primary.pod.address, DATABASE)


def test_a_postgres_rotation_never_refuses_a_client_that_rolled_or_one_that_did_not(postgres_rotation):
    primary, generations, live, job, publish, login = postgres_rotation
    old = (generations[0]["user"], generations[0]["password"])
    rolled = ClientLoop(login, lambda: (live["user"], live["password"]))
    not_rolled = ClientLoop(login, lambda: old)
    time.sleep(0.5)

    result = job(1).run(timeout=120)
    assert result.returncode == 0, f"rotation Job failed:\n{result.stdout}\n{result.stderr}"
    publish(1)
    time.sleep(1)
    rolled.stop(), not_rolled.stop()

    assert rolled.attempts > 10 and not rolled.refusals, rolled.refusals
    assert not_rolled.attempts > 10 and not not_rolled.refusals, not_rolled.refusals
    assert live["user"] == USER + ALTERNATE_SUFFIX
    # The alternate login acts as the service user: what it creates belongs to the service user.
    psql(
        primary,
        "CREATE TABLE rotated (id int)",
        database=DATABASE,
        user=live["user"],
        password=live["password"],
        host=primary.pod.address,
    )
    owner = psql(primary, "SELECT tableowner FROM pg_tables WHERE tablename = 'rotated'", database=DATABASE)
    assert owner == USER


def test_the_credentials_a_rotation_replaced_stop_working_at_the_next_rotation(postgres_rotation):
    primary, generations, _live, job, publish, login = postgres_rotation
    assert job(1).run(timeout=120).returncode == 0
    publish(1)
    second = job(2).run(timeout=120)
    assert second.returncode == 0, second.stderr
    publish(2)

    assert login(USER, generations[2]["password"]), "generation 2's login"
    assert login(USER + ALTERNATE_SUFFIX, generations[1]["password"]), "generation 1's login, in its grace"
    assert not login(USER, generations[0]["password"]), "generation 0's password outlived its grace"
    address = primary.pod.address
    admin = psql(primary, "SELECT 1", user="postgres", password=generations[2]["admin"], host=address, check=False)
    assert admin == "1"
    stale = psql(primary, "SELECT 1", user="postgres", password=generations[1]["admin"], host=address, check=False)
    assert "password authentication failed" in stale


def test_a_postgres_rotation_killed_at_any_point_leaves_a_working_admin_and_completes_when_run_again(postgres_rotation):
    primary, generations, _, job, _, login = postgres_rotation
    container = job(1)
    address = primary.pod.address

    def admin_works(password: str) -> bool:
        return psql(primary, "SELECT 1", user="postgres", password=password, host=address, check=False) == "1"

    for delay in (0.05, 0.1, 0.2, 0.3, 0.5):
        process = subprocess.Popen(container.argv, env=container.env, cwd=container.dir, start_new_session=True)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert admin_works(generations[0]["admin"]) or admin_works(generations[1]["admin"]), f"no admin at {delay}s"
        assert login(USER, generations[0]["password"]), f"the clients' login broke at {delay}s"

    final = container.run(timeout=120)
    assert final.returncode == 0, final.stderr
    assert admin_works(generations[1]["admin"])
    assert login(USER + ALTERNATE_SUFFIX, generations[1]["password"])


def test_a_rotation_job_in_a_new_stack_leaves_the_database_to_its_initialisation(postgres_rotation, make_cluster):
    _, _, _, job, _, _ = postgres_rotation
    container = job(1)
    container.pod.cluster.secrets.absent.add(LIVE)
    result = container.run(timeout=60)
    assert result.returncode == 0, result.stderr
    assert "nothing to rotate" in result.stdout


def test_the_converge_job_of_a_new_stack_at_an_odd_generation_creates_the_alternate_login(postgres_rotation):
    _primary, generations, _live, job, _publish, login = postgres_rotation
    # A new stack at generation 1: the server was initialised from the live Secret, which already holds
    # generation 1's values (the base user with the active password); the rotate Job found no Secret.
    converge = job(1, phase="converge")
    secrets = converge.pod.cluster.secrets
    secrets.set(LIVE, "postgres-password", generations[0]["admin"])
    result = converge.run(timeout=120)
    assert result.returncode == 0, result.stderr
    assert login(USER + ALTERNATE_SUFFIX, generations[1]["password"])


def test_a_rotation_job_never_puts_a_password_on_its_command_line(postgres_rotation):
    _, generations, _, job, _, _ = postgres_rotation
    argv = " ".join(job(1).argv)
    assert all(generations[n][key] not in argv for n in generations for key in ("password", "admin"))


# --- a Bitnami cluster ------------------------------------------------------------------------------------------


@pytest.fixture
def orders_cluster(make_cluster):
    """A primary shaped like the Bitnami chart's (tooling/dataplane/postgres.py) for the orders cluster, and its
    generation-1 rotation Job as the component creates it."""
    objects = _rotation_objects(1, "orders-postgresql")
    job = next(o for o in objects if o["kind"] == "Job" and "-rotate-" in o["metadata"]["name"])
    cluster = make_cluster(objects, job["metadata"]["namespace"])
    container = cluster.pod("Job", job["metadata"]["name"]).container("rotate")
    env = container.spec["env"]
    settings = {e["name"]: e["value"] for e in env if "value" in e}
    address = cluster.network.allocate()
    cluster.network.register(settings["PGHOST"], address)
    live, nxt = "orders-postgresql-credentials", next_secret_name("orders-postgresql")
    old = {"admin": "bitnami admin gen0", "user": "orders user gen0"}
    new = {"admin": "bitnami admin gen1", "user": "orders alt gen1", "replication": "repl gen1"}
    cluster.secrets.set(live, "postgres-password", old["admin"])
    cluster.secrets.set(nxt, "next-admin-password", new["admin"])
    cluster.secrets.set(nxt, "next-app-password", new["user"])
    cluster.secrets.set(nxt, "next-replication-password", new["replication"])
    server = postgres.bitnami_shaped_primary(
        cluster.supervisor,
        cluster.mkdir(cluster.root / "bitnami-primary"),
        address,
        admin_password=old["admin"],
        username=settings["APP_BASE_USER"],
        password=old["user"],
        database=settings["PGDATABASE"],
        mkdir=cluster.mkdir,
    )
    # What chart 16.7.26's initialisation adds in replication architecture: its replication role.
    psql_as_admin = _pg_login(address, "postgres")
    assert psql_as_admin("postgres", old["admin"])
    subprocess.run(
        [str(PG_BIN / "psql"), "-X", "-h", address, "-U", "postgres", "-c", "CREATE ROLE repl_user REPLICATION LOGIN"],
        env={"PGPASSWORD": old["admin"]},
        check=True,
        capture_output=True,
    )
    return container, settings, server, old, new


def test_a_bitnami_cluster_rotation_adds_the_alternate_login_and_keeps_the_one_clients_hold(orders_cluster):
    container, settings, server, old, new = orders_cluster
    login = _pg_login(server.address, settings["PGDATABASE"])
    result = container.run(timeout=120)
    assert result.returncode == 0, f"rotation Job failed:\n{result.stdout}\n{result.stderr}"

    assert settings["APP_USER"] == settings["APP_BASE_USER"] + ALTERNATE_SUFFIX
    assert login(settings["APP_USER"], new["user"]), "the alternate login with the next password"
    assert login(settings["APP_BASE_USER"], old["user"]), "the login clients hold until they roll"
    assert _pg_login(server.address, "postgres")("postgres", new["admin"])
    assert not _pg_login(server.address, "postgres")("postgres", old["admin"])
    conninfo = f"host={server.address} dbname=replication replication=true user=repl_user"
    replication = subprocess.run(
        [str(PG_BIN / "psql"), "-X", conninfo, "-c", "IDENTIFY_SYSTEM"],
        env={"PGPASSWORD": new["replication"]},
        capture_output=True,
        text=True,
    )
    assert replication.returncode == 0, replication.stderr


# --- MongoDB (no server installs here: the program runs unchanged on a stand-in, see stubs/mongosh-users.js) ----


@pytest.fixture
def mongodb_rotation(make_cluster, tmp_path):
    objects = _rotation_objects(1, "cart-mongodb")
    cluster = make_cluster(objects, chart_namespace(STACK, CHART))
    container = _job_container(cluster, objects)
    settings = {e["name"]: e["value"] for e in container.spec["env"] if "value" in e}
    old = {"root": "mongo root gen0", "user": "cart user gen0"}
    new = {"root": "mongo root gen1", "user": "cart alt gen1"}
    cluster.secrets.set("cart-mongodb-secret", "root-password", old["root"])
    cluster.secrets.set(next_secret_name("cart-mongodb"), "next-root-password", new["root"])
    cluster.secrets.set(next_secret_name("cart-mongodb"), "next-app-password", new["user"])
    state = tmp_path / "mongodb.json"
    users = {
        "admin": {"root": {"pwd": old["root"], "roles": ["root"]}},
        settings["APP_DATABASE"]: {
            settings["APP_BASE_USER"]: {"pwd": old["user"], "roles": [{"role": "readWrite", "db": "cartdb"}]}
        },
    }
    state.write_text(json.dumps({"users": users}))

    def run(**state_changes):
        current = json.loads(state.read_text()) | state_changes
        state.write_text(json.dumps(current))
        program = container.path(f"/rotation/{container.spec['command'][-1].rsplit('/', 1)[-1]}")
        stub = HERE / "stubs" / "mongosh-users.js"
        result = subprocess.run(
            ["node", str(stub), str(program), str(state)], env=container.env, capture_output=True, text=True
        )
        return result, json.loads(state.read_text())["users"]

    return container, settings, old, new, run


def test_a_mongodb_rotation_adds_the_alternate_login_and_changes_root_last(mongodb_rotation):
    container, settings, old, new, run = mongodb_rotation
    assert container.spec["command"][:3] == ["mongosh", "--nodb", "--quiet"]
    result, users = run()
    assert result.returncode == 0, result.stdout + result.stderr
    app = users[settings["APP_DATABASE"]]
    assert app[settings["APP_USER"]]["pwd"] == new["user"]
    assert app[settings["APP_USER"]]["roles"] == app[settings["APP_BASE_USER"]]["roles"]
    assert app[settings["APP_BASE_USER"]]["pwd"] == old["user"], "the login clients hold until they roll"
    assert users["admin"]["root"]["pwd"] == new["root"]


def test_a_mongodb_rotation_run_again_after_root_changed_logs_in_with_the_next_root_password(mongodb_rotation):
    _, settings, _, new, run = mongodb_rotation
    assert run()[0].returncode == 0
    again, users = run()
    assert again.returncode == 0, again.stdout + again.stderr
    assert users[settings["APP_DATABASE"]][settings["APP_USER"]]["pwd"] == new["user"]


def test_a_mongodb_rotation_that_cannot_log_in_changes_nothing_and_fails(mongodb_rotation):
    _, settings, old, _, run = mongodb_rotation
    result, users = run(unreachable=True)
    assert result.returncode != 0
    assert "refusing to change anything" in result.stdout
    assert users["admin"]["root"]["pwd"] == old["root"]
    assert settings["APP_USER"] not in users[settings["APP_DATABASE"]]


# --- Redis ----------------------------------------------------------------------------------------------------


def _redis_login(address: str) -> Callable[[str, str], bool]:
    def login(_: str, password: str) -> bool:
        result = subprocess.run(
            [str(REDIS_CLI), "--no-auth-warning", "-h", address, "-p", str(redis.PORT), "PING"],
            env={"REDISCLI_AUTH": password},
            capture_output=True,
            text=True,
            timeout=30,
        )
        return result.stdout.strip() == "PONG"

    return login


@pytest.fixture
def redis_rotation(make_cluster):
    objects = {n: _rotation_objects(n, "redis") for n in (1, 2)}
    cluster = make_cluster(
        rendered(STACK, CHART, PLAINTEXT_VALUES) + objects[1] + objects[2], chart_namespace(STACK, CHART)
    )
    pods = [cluster.pod("StatefulSet", "redis", ordinal).container("redis") for ordinal in (0, 1, 2)]
    servers = [redis.start(pod) for pod in pods]
    passwords = {0: cluster.secrets.get("redis-secret", "password"), 1: "redis-gen1", 2: "redis-gen2"}

    def job(generation: int):
        cluster.secrets.set(next_secret_name("redis"), "next-password", passwords[generation])
        cluster.secrets.set("redis-secret", "password", passwords[generation - 1])
        return _job_container(cluster, objects[generation])

    return cluster, pods, servers, passwords, job


def test_a_redis_rotation_reaches_every_server_and_refuses_no_client(redis_rotation):
    _cluster, pods, _, passwords, job = redis_rotation
    live = {"password": passwords[0]}
    primary, replica = pods[0].pod.address, pods[1].pod.address
    rolled = ClientLoop(_redis_login(primary), lambda: ("", live["password"]))
    not_rolled = ClientLoop(_redis_login(replica), lambda: ("", passwords[0]))
    time.sleep(0.5)

    result = job(1).run(timeout=120)
    assert result.returncode == 0, f"rotation Job failed:\n{result.stdout}\n{result.stderr}"
    live["password"] = passwords[1]
    time.sleep(1)
    rolled.stop(), not_rolled.stop()

    assert rolled.attempts > 10 and not rolled.refusals, rolled.refusals
    assert not_rolled.attempts > 10 and not not_rolled.refusals, not_rolled.refusals
    for pod in pods:
        assert _redis_login(pod.pod.address)("", passwords[1]), f"{pod.pod.name} does not take the next password"
    # Replicas reconnect to the primary with the next password from now on.
    masterauth = redis.cli(pods[1], "CONFIG", "GET", "masterauth", password=passwords[1]).stdout.split()
    assert masterauth[-1] == passwords[1]


def test_a_redis_server_restarted_from_the_rotated_secret_still_takes_the_previous_password(redis_rotation):
    cluster, pods, servers, passwords, job = redis_rotation
    assert job(1).run(timeout=120).returncode == 0
    # The live Secret after the rotation: the active password and the one it replaced.
    cluster.secrets.set("redis-secret", "password", passwords[1])
    cluster.secrets.set("redis-secret", "previous-password", passwords[0])
    cluster.supervisor.stop(servers[2])
    redis.start(pods[2])

    login = _redis_login(pods[2].pod.address)
    assert login("", passwords[1]) and login("", passwords[0])


def test_the_redis_password_a_rotation_replaced_stops_working_at_the_next_rotation(redis_rotation):
    _cluster, pods, _, passwords, job = redis_rotation
    assert job(1).run(timeout=120).returncode == 0
    assert job(2).run(timeout=120).returncode == 0

    login = _redis_login(pods[0].pod.address)
    assert login("", passwords[2]) and login("", passwords[1])
    assert not login("", passwords[0])


# --- Kafka ----------------------------------------------------------------------------------------------------


@pytest.fixture
def rotated_broker(make_cluster):
    """A broker started from a rotated Secret (no committed stack enables SASL: the dev stack's values with it on,
    as test_kafka.py runs them): the active login is the alternate, the previous one the original."""
    cluster = make_cluster(
        rendered("dev", CHART, {"kafka": {"sasl": {"enabled": True}}}), chart_namespace("dev", CHART)
    )
    logins = {"kafka" + ALTERNATE_SUFFIX: "kafka-gen1 pass", "kafka": "kafka-gen0 pass"}
    cluster.secrets.set("kafka-secret", "username", "kafka" + ALTERNATE_SUFFIX)
    cluster.secrets.set("kafka-secret", "password", logins["kafka" + ALTERNATE_SUFFIX])
    cluster.secrets.set("kafka-secret", "previous-username", "kafka")
    cluster.secrets.set("kafka-secret", "previous-password", logins["kafka"])
    zookeeper = cluster.pod("StatefulSet", "zookeeper", 0).container("zookeeper")
    kafka_harness.start(zookeeper, kafka_harness.ZOOKEEPER_PORT)
    broker = cluster.pod("StatefulSet", "kafka", 0).container("kafka")
    kafka_harness.start(broker, kafka_harness.KAFKA_PORT)
    return cluster, broker, logins


def _produce(cluster, broker, username: str, password: str) -> bool:
    import kafka as client  # kafka-python, as in test_kafka.py
    import kafka.errors

    config = {
        "bootstrap_servers": f"{broker.pod.address}:{kafka_harness.KAFKA_PORT}",
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "PLAIN",
        "sasl_plain_username": username,
        "sasl_plain_password": password,
        "request_timeout_ms": 5000,
    }
    with kafka_harness.cluster_dns(cluster.network):
        try:
            producer = client.KafkaProducer(**config, acks="all", max_block_ms=10000)
        except kafka.errors.KafkaError:
            return False
        try:
            producer.send("rotation", username.encode()).get(timeout=30)
            return True
        except kafka.errors.KafkaError:
            return False
        finally:
            producer.close(timeout=2)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_broker_started_after_a_rotation_takes_the_new_login_and_the_one_it_replaced(rotated_broker):
    cluster, broker, logins = rotated_broker
    for username, password in logins.items():
        assert _produce(cluster, broker, username, password), f"{username} refused"
    assert not _produce(cluster, broker, "kafka", "not the password")


def test_after_a_key_rotation_each_mongodb_member_starts_with_the_new_key_and_the_one_it_replaced(make_cluster):
    """Members authenticate each other if their keyfiles share a key, so a rolling restart onto [new, previous]
    (the keyfile init container, as the chart renders it) never splits the replica set."""
    cluster = make_cluster(rendered(STACK, CHART, PLAINTEXT_VALUES), chart_namespace(STACK, CHART))
    cluster.secrets.set("cart-mongodb-secret", "replica-set-key", "newkey" * 10)
    cluster.secrets.set("cart-mongodb-secret", "previous-replica-set-key", "oldkey" * 10)
    init = cluster.pod("StatefulSet", "cart-mongodb", 0).container("keyfile")
    assert init.run(timeout=30).returncode == 0
    assert init.run(timeout=30).returncode == 0, "the init container runs again over its own keyfile"

    keyfile = init.path("/keyfile") / "keyfile"
    import yaml

    assert yaml.safe_load(keyfile.read_text()) == ["newkey" * 10, "oldkey" * 10]
    assert keyfile.stat().st_mode & 0o777 == 0o400
