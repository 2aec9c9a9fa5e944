"""Redis pods of charts/nexus-database, run for real with the prod stack's values (3 pods: redis-0 the
primary, the others replicas): `redis-start.sh` writes its config and execs redis-server; the replica
follows the primary with the password; the password is in no process's command line.

Versions: Debian's redis-server 7.0 against the image's 7.4. requirepass/masterauth/replicaof/appendonly
and redis-cli's REDISCLI_AUTH are the same in both; 7.4 added nothing these tests touch. Harness: each pod
listens on its own loopback address (the `redis-server` wrapper adds `--bind <pod address>` after the
config file, see tooling/dataplane/pods.py), since every pod here shares one network namespace.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.dataplane.conftest import chart_namespace, rendered
from tests.dataplane.test_tls_postgres_redis import issue_certificates
from tooling.dataplane import redis
from tooling.dataplane.processes import wait_for
from tooling.stacks import STACKS

STACK = "prod"
CHART = "nexus-database"
# Plaintext, whatever the stack's security profile: TLS is tests/dataplane/test_tls_postgres_redis.py's.
PLAINTEXT = {"tls": {"mode": "disabled"}}


@pytest.fixture
def redis_pods(make_cluster):
    cluster = make_cluster(rendered(STACK, CHART, PLAINTEXT), chart_namespace(STACK, CHART))
    assert cluster.find("StatefulSet", "redis")["spec"]["replicas"] >= 2
    primary = cluster.pod("StatefulSet", "redis", 0).container("redis")
    redis.start(primary)
    replica = cluster.pod("StatefulSet", "redis", 1).container("redis")
    redis.start(replica)
    return cluster, primary, replica


def test_start_script_runs_a_primary_and_an_authenticated_replica_that_follows_it(redis_pods):
    _, primary, replica = redis_pods
    assert redis.cli(primary, "SET", "order:1", "placed").stdout.strip() == "OK"

    def replicated() -> bool:
        return redis.cli(replica, "GET", "order:1").stdout.strip() == "placed"

    wait_for(replicated, what="the key on the replica", timeout=30)
    info = redis.cli(replica, "INFO", "replication").stdout
    assert "role:slave" in info and "master_link_status:up" in info, info
    assert "READONLY" in redis.cli(replica, "SET", "order:2", "x").stdout


def test_redis_refuses_clients_without_the_password(redis_pods):
    _, primary, _ = redis_pods
    assert "NOAUTH" in redis.cli(primary, "GET", "order:1", password="").stdout
    wrong = redis.cli(primary, "PING", password="not-the-password")
    assert "WRONGPASS" in wrong.stdout + wrong.stderr


def test_redis_password_never_appears_in_any_process_command_line(redis_pods):
    _, primary, _ = redis_pods
    password = primary.env["REDIS_PASSWORD"]
    assert primary.probe().returncode == 0  # the probes' redis-cli runs too
    seen = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().decode(errors="replace")
        except OSError:
            continue
        if password in args:
            seen.append(f"{cmdline.parent.name}: {args.replace(chr(0), ' ')}")
    assert not seen, f"password on a command line: {seen}"
    # The config file that holds it is private to the pod user (umask 077 in the script).
    config = primary.path("/tmp") / "redis.conf"
    assert config.stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("stack", STACKS)
def test_every_stacks_render_starts_a_primary_that_requires_the_password(make_cluster, stack):
    """With the stack's own security profile (under `required`, over TLS: there is no plaintext port)."""
    cluster = make_cluster(rendered(stack, CHART), chart_namespace(stack, CHART))
    ca_file = issue_certificates(cluster, ["redis"])
    primary = cluster.pod("StatefulSet", "redis", 0).container("redis")
    redis.start(primary)
    tls = ca_file if primary.env.get("TLS_MODE") == "required" else None
    assert redis.cli(primary, "SET", "k", "v", ca_file=tls).stdout.strip() == "OK"
    assert "NOAUTH" in redis.cli(primary, "GET", "k", password="", ca_file=tls).stdout
