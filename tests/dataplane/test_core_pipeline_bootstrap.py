"""core-pipeline's database bootstrap Job (components/core_pipeline.py), run for real against a PostgreSQL
shaped like the Bitnami chart's primary it targets in every stack: the Job's container (psql with its
command, args and env) and its SQL ConfigMap exactly as the component creates them under the prod stack.

Versions: psql and server are Debian's 15, the Job's image is Bitnami's 17.6. The script needs psql 15+
(`\\getenv`, `\\gexec`), which 15 is; format('%I'), CREATE/ALTER ROLE and DATABASE are unchanged in 17.
The Bitnami image's own initialisation is not ours: the harness creates what it would (admin `postgres`
with its password, the cluster's user and database, password authentication everywhere).
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from tests.dataplane.conftest import PLAINTEXT_CONFIG
from tooling.dataplane import postgres
from tooling.stacks import StackRun, run_stack, stack_config

STACK = "prod"
# Every character a shell, psql or SQL could take for syntax: quotes, $(), backslashes, psql's :var forms.
NASTY = "p'a\"s$s`w;o\\rd $(touch /tmp/pwned) %s :x :'y' :\"z\" -- ; DROP ROLE postgres; ü"


@functools.cache
def _plaintext_run(stack: str) -> StackRun:
    # This Bitnami-shaped primary serves no TLS: prod's shape without it (the bootstrap's TLS env: tests/unit).
    return run_stack(stack, PLAINTEXT_CONFIG)


def _job_objects(stack: str) -> list[dict]:
    run = _plaintext_run(stack)
    wanted = {"kubernetes:batch/v1:Job", "kubernetes:core/v1:ConfigMap"}
    return [
        {"kind": r.type.rsplit(":", 1)[-1], **r.inputs}
        for r in run.resources
        if r.type in wanted and r.name.startswith("core-pipeline-db-bootstrap")
    ]


@pytest.fixture
def bootstrap(make_cluster, session_root):
    objects = _job_objects(STACK)
    job = next(o for o in objects if o["kind"] == "Job")
    cluster = make_cluster(objects, job["metadata"]["namespace"])
    pod = cluster.pod("Job", job["metadata"]["name"])
    container = pod.container("psql")
    env = {e["name"]: e for e in container.spec["env"]}

    def secret_ref(name: str) -> tuple[str, str]:
        ref = env[name]["valueFrom"]["secretKeyRef"]
        return ref["name"], ref["key"]

    cluster.secrets.set(*secret_ref("PGPASSWORD"), "admin " + NASTY)
    cluster.secrets.set(*secret_ref("APP_PASSWORD"), NASTY)
    orders = stack_config(STACK)["postgresClusters"]["orders"]
    address = cluster.network.allocate()
    cluster.network.register(env["PGHOST"]["value"], address)
    server = postgres.bitnami_shaped_primary(
        cluster.supervisor,
        cluster.mkdir(cluster.root / "bitnami-primary"),
        address,
        admin_password=cluster.secrets.get(*secret_ref("PGPASSWORD")),
        username=orders["username"],
        password="orders-own-password",
        database=orders["database"],
        mkdir=cluster.mkdir,
    )
    return cluster, container, server, secret_ref


def _sql(container, server, sql: str) -> str:
    env = {"PGPASSWORD": server.password, "PGHOST": server.address, "PGPORT": "5432"}
    result = container.run(["psql", "-X", "-At", "-U", "postgres", "-d", "postgres", "-c", sql], env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _login(container, server, user: str, database: str, password: str):
    env = {"PGPASSWORD": password, "PGHOST": server.address, "PGPORT": "5432"}
    return container.run(["psql", "-X", "-At", "-U", user, "-d", database, "-c", "SELECT current_user"], env=env)


def test_bootstrap_job_creates_the_service_user_owning_its_database_with_a_metacharacter_password(bootstrap):
    _, container, server, _ = bootstrap
    result = container.run(timeout=60)
    assert result.returncode == 0, f"bootstrap Job failed:\n{result.stdout}\n{result.stderr}"
    user, database = container.argv[2].split("=", 1)[1], container.argv[4].split("=", 1)[1]

    login = _login(container, server, user, database, NASTY)
    assert login.returncode == 0 and login.stdout.strip() == user, login.stderr
    owner = _sql(container, server, f"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{database}'")
    assert owner == user
    attributes = _sql(
        container, server, f"SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = '{user}'"
    )
    assert attributes == "f|f|f", f"{user} must be an unprivileged role: {attributes}"
    # Nothing in the password was executed (the Secret's value is never rewritten: this is the real /tmp).
    assert not Path("/tmp/pwned").exists() and "pwned" not in result.stdout + result.stderr


def test_bootstrap_job_run_again_converges_and_takes_a_rotated_password(bootstrap):
    cluster, container, server, secret_ref = bootstrap
    assert container.run(timeout=60).returncode == 0
    again = container.run(timeout=60)
    assert again.returncode == 0, f"second run failed:\n{again.stderr}"
    cluster.secrets.set(*secret_ref("APP_PASSWORD"), "rotated " + NASTY)
    rotated = container.run(timeout=60)
    assert rotated.returncode == 0, rotated.stderr
    user, database = container.argv[2].split("=", 1)[1], container.argv[4].split("=", 1)[1]

    counts = _sql(
        container,
        server,
        f"SELECT (SELECT count(*) FROM pg_roles WHERE rolname = '{user}'), "
        f"(SELECT count(*) FROM pg_database WHERE datname = '{database}')",
    )
    assert counts == "1|1"
    assert _login(container, server, user, database, "rotated " + NASTY).returncode == 0
    old = _login(container, server, user, database, NASTY)
    assert old.returncode != 0 and "password authentication failed" in old.stderr


def test_bootstrap_job_never_puts_a_password_on_its_command_line(bootstrap):
    cluster, container, _, _ = bootstrap
    argv = " ".join(container.argv)
    assert all(value not in argv for value in cluster.secrets.values())


def test_a_rotated_bootstrap_adds_the_alternate_login_and_leaves_the_one_the_pods_hold(bootstrap, make_cluster):
    """corePipeline.database at generation 1 (platform_config.rotation): the Job sets the alternate login's
    password only, so the pods that have not rolled keep logging in as the role itself."""
    cluster, container, server, secret_ref = bootstrap
    assert container.run(timeout=60).returncode == 0  # generation 0: the role with its first password
    user, database = container.argv[2].split("=", 1)[1], container.argv[4].split("=", 1)[1]

    rotated = [
        {"kind": r.type.rsplit(":", 1)[-1], **r.inputs}
        for r in run_stack(STACK, {**PLAINTEXT_CONFIG, "credentialRotation": {"corePipeline.database": 1}}).resources
        if r.type in {"kubernetes:batch/v1:Job", "kubernetes:core/v1:ConfigMap"}
        and r.name.startswith("core-pipeline-db-bootstrap")
    ]
    job = next(o for o in rotated if o["kind"] == "Job")
    again = make_cluster(rotated, job["metadata"]["namespace"])
    rotated_container = again.pod("Job", job["metadata"]["name"]).container("psql")
    host = next(e["value"] for e in rotated_container.spec["env"] if e["name"] == "PGHOST")
    again.network.register(host, server.address)
    again.secrets.set(*secret_ref("PGPASSWORD"), cluster.secrets.get(*secret_ref("PGPASSWORD")))
    again.secrets.set(*secret_ref("APP_PASSWORD"), "generation 1 " + NASTY)
    result = rotated_container.run(timeout=60)
    assert result.returncode == 0, result.stderr

    alternate = rotated_container.argv[6].split("=", 1)[1]
    assert alternate == f"{user}_alt"
    assert _login(container, server, alternate, database, "generation 1 " + NASTY).returncode == 0
    assert _login(container, server, user, database, NASTY).returncode == 0, "the pods' login outlived the rotation"
    env = {"PGPASSWORD": "generation 1 " + NASTY, "PGHOST": server.address, "PGPORT": "5432"}
    created = container.run(
        ["psql", "-X", "-At", "-U", alternate, "-d", database, "-c", "CREATE TABLE t (id int); SELECT current_user"],
        env=env,
    )
    assert created.stdout.strip().splitlines()[-1] == user, "the alternate login acts as the service role"
