"""PostgreSQL pods of charts/nexus-database, run for real: the initdb script (`postgres-init.sh`, mounted as
/docker-entrypoint-initdb.d/10-service-user.sh), the standby clone (`postgres-standby.sh`, the
`standby-bootstrap` init container) and the pg_hba entry the init script adds, with the prod stack's values.

Versions: Debian's PostgreSQL 15 against the image's 17.6. What is used here (CREATE ROLE / ALTER DATABASE
OWNER, psql variables, scram-sha-256, pg_basebackup --wal-method stream --write-recovery-conf with
standby.signal, pg_hba `replication` entries) behaves the same in 15 and 17; 17 changed none of it. The
image's entrypoint is reproduced by tooling/dataplane/postgres.py (its loopback-trust adjustment and socket
directory are explained there); initdb's locale here is C.UTF-8 (the image's en_US.utf8), irrelevant to roles.
"""

from __future__ import annotations

import pytest

from tests.dataplane.conftest import NO_POINT_IN_TIME, chart_namespace, rendered
from tests.dataplane.test_tls_postgres_redis import issue_certificates, start_postgres
from tooling.dataplane import postgres
from tooling.dataplane.postgres import official_entrypoint, psql
from tooling.dataplane.processes import wait_for
from tooling.stacks import STACKS

STACK = "prod"
CHART = "nexus-database"
DATABASES = ["product", "payment", "order", "loyalty", "shipping"]
# Plaintext, whatever the stack's security profile: TLS is tests/dataplane/test_tls_postgres_redis.py's (and, as it
# needs TLS, point-in-time recovery is test_point_in_time.py's).
PLAINTEXT = {"tls": {"mode": "disabled"}, **NO_POINT_IN_TIME}


@pytest.fixture
def data_tier(make_cluster):
    return make_cluster(rendered(STACK, CHART, PLAINTEXT), chart_namespace(STACK, CHART))


def _env(container, name: str) -> str:
    return container.env[name]


@pytest.mark.parametrize("key", DATABASES)
def test_init_script_creates_the_service_role_owning_its_database_and_the_replication_role(data_tier, key):
    primary = data_tier.pod("StatefulSet", f"{key}-postgres", 0).container("postgres")
    official_entrypoint(primary)
    database, user = _env(primary, "POSTGRES_DB"), _env(primary, "APP_USERNAME")

    owner = psql(primary, f"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{database}'")
    assert owner == user, f"{database} is owned by {owner!r}, not the service user {user!r}"
    roles = psql(
        primary,
        "SELECT rolname, rolcanlogin, rolreplication, rolsuper FROM pg_roles "
        f"WHERE rolname IN ('{user}', 'replicator') ORDER BY rolname",
    )
    assert roles.splitlines() == sorted([f"{user}|t|f|f", "replicator|t|t|f"]), roles
    # The pod's own probes (pg_isready on its address) pass against it.
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert primary.probe(probe).returncode == 0, probe
    # The service user logs in over TCP (as the services do) with the password from its Secret.
    assert _logged_in_as_service_user(primary, user, database) == user


def test_init_script_run_a_second_time_neither_fails_nor_duplicates(data_tier):
    primary = data_tier.pod("StatefulSet", "product-postgres", 0).container("postgres")
    official_entrypoint(primary)
    init_script = primary.path("/docker-entrypoint-initdb.d") / "10-service-user.sh"
    env = {**postgres.client_env(primary), "PGPASSWORD": _env(primary, "POSTGRES_PASSWORD")}

    second = primary.run([str(init_script)], env=env)
    pg_hba = (primary.path("/var/lib/postgresql/data/pgdata") / "pg_hba.conf").read_text()
    assert second.returncode == 0, f"second run failed: {second.stderr}"
    assert pg_hba.count("host replication replicator all scram-sha-256") == 1, pg_hba
    assert psql(primary, "SELECT count(*) FROM pg_roles WHERE rolname = 'replicator'") == "1"


def _logged_in_as_service_user(primary, user: str, database: str) -> str:
    """`current_user` of a TCP login (as the services connect) with the password from the pod's Secret."""
    return psql(
        primary,
        "SELECT current_user",
        database=database,
        user=user,
        host=primary.pod.address,
        password=_env(primary, "APP_PASSWORD"),
    )


def _primary_and_standby(data_tier, key: str = "product"):
    statefulset = data_tier.find("StatefulSet", f"{key}-postgres")
    assert statefulset["spec"]["replicas"] >= 2, "the prod stack runs a standby"
    primary = data_tier.pod("StatefulSet", f"{key}-postgres", 0).container("postgres")
    official_entrypoint(primary)
    standby_pod = data_tier.pod("StatefulSet", f"{key}-postgres", 1)
    return primary, standby_pod


def test_standby_cloned_by_the_standby_script_streams_rows_written_on_the_primary(data_tier):
    primary, standby_pod = _primary_and_standby(data_tier)
    clone = standby_pod.container("standby-bootstrap").run(timeout=120)
    assert clone.returncode == 0, f"postgres-standby.sh failed:\n{clone.stdout}\n{clone.stderr}"
    standby = standby_pod.container("postgres")
    official_entrypoint(standby)
    database = _env(primary, "POSTGRES_DB")

    assert psql(standby, "SELECT pg_is_in_recovery()") == "t"
    psql(
        primary,
        "CREATE TABLE orders (id int PRIMARY KEY, note text); INSERT INTO orders VALUES (1, 'streamed')",
        database=database,
    )

    def replicated() -> bool:
        return psql(standby, "SELECT note FROM orders WHERE id = 1", database=database, check=False) == "streamed"

    wait_for(replicated, what="the row on the standby", timeout=30)
    senders = psql(primary, "SELECT usename, state FROM pg_stat_replication")
    assert senders == "replicator|streaming", senders


def test_standby_script_on_pod_zero_or_an_initialised_volume_does_nothing(data_tier):
    # Pod 0 is the primary: the init container must leave its (empty) volume alone.
    pod0 = data_tier.pod("StatefulSet", "product-postgres", 0).container("standby-bootstrap")
    result = pod0.run(timeout=30)
    assert result.returncode == 0, result.stderr
    assert not any(pod0.path("/var/lib/postgresql/data").iterdir())


def test_replication_entry_admits_the_replicator_only_with_its_password(data_tier):
    primary, _ = _primary_and_standby(data_tier)
    address = primary.pod.address
    replication_password = _env(primary, "REPLICATION_PASSWORD")

    def replication_login(user: str, password: str) -> tuple[int, str]:
        # A physical-replication connection, as pg_basebackup and the standby's walreceiver open it.
        env = {"PGPASSWORD": password, "PGHOST": address, "PGPORT": "5432"}
        result = primary.run(
            [
                "psql",
                "-X",
                "-At",
                "--no-password",
                f"dbname=replication replication=true user={user}",
                "-c",
                "IDENTIFY_SYSTEM",
            ],
            env=env,
            timeout=30,
        )
        return result.returncode, result.stderr

    ok, err = replication_login("replicator", replication_password)
    assert ok == 0, f"the replicator was refused with its password: {err}"
    wrong, err = replication_login("replicator", "not-" + replication_password)
    assert wrong != 0 and "password authentication failed" in err, err
    # Another role, even with its own valid password, finds no replication entry for it.
    other, err = replication_login(_env(primary, "APP_USERNAME"), _env(primary, "APP_PASSWORD"))
    assert other != 0 and "no pg_hba.conf entry for replication connection" in err, err


@pytest.mark.parametrize("stack", STACKS)
def test_every_stacks_render_starts_a_primary_whose_service_user_logs_in(make_cluster, stack):
    """With the stack's own security profile: under TLS the service user logs in as the services do, verify-full.
    Without prod's point-in-time recovery: its archive_command would wait on prod's bucket, which cannot be reached
    from here, and hold up the image's initdb-time server (test_point_in_time.py runs it against a store of its own)."""
    cluster = make_cluster(rendered(stack, CHART, NO_POINT_IN_TIME), chart_namespace(stack, CHART))
    ca_file = issue_certificates(cluster, ["order-postgres"])
    pod = cluster.pod("StatefulSet", "order-postgres", 0)
    primary = start_postgres(pod)
    user, database = _env(primary, "APP_USERNAME"), _env(primary, "POSTGRES_DB")
    assert primary.probe("readinessProbe").returncode == 0
    if "hba" not in {c["name"] for c in pod.spec.get("initContainers", [])}:
        assert _logged_in_as_service_user(primary, user, database) == user
        return
    name = f"order-postgres-service.{cluster.service_domain()}"
    conninfo = (
        f"host={name} hostaddr={primary.pod.address} port=5432 user={user} dbname={database} "
        f"sslmode=verify-full sslrootcert={ca_file}"
    )
    result = primary.run(
        ["psql", "-X", "-At", "--no-password", conninfo, "-c", "SELECT current_user"],
        env={"PGPASSWORD": _env(primary, "APP_PASSWORD")},
    )
    assert result.stdout.strip() == user, result.stderr
