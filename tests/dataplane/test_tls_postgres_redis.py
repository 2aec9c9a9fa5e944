"""TLS and audit logging of the data tier's PostgreSQL and Redis (charts/nexus-database `tls.mode`, `audit.level`),
run for real: the pods as the chart renders them (the `hba` init container, the postgres container's settings, the
standby clone, `redis-start.sh`, the readiness probes, the backup Jobs) with a certificate of the shape cert-manager
issues (tooling/dataplane/certificates.py) in each Secret `<component>-tls`.

Values: the prod stack's (PostgreSQL primary + standby, Redis primary + replicas) with the security settings given
explicitly: required + comprehensive, and enabled + basic.

Resolution: the harness maps in-cluster names to pod addresses by rewriting them (tooling/dataplane/pods.py). A client
that checks the server's name must be given the name, so where libpq checks it the tests pass the name as `host` and
the pod's address as `hostaddr` (PGHOSTADDR): the address is what DNS would answer, the name is checked against the
certificate. redis-cli and Redis's replication check the certificate against the CA but not the name (hiredis and
Redis do not), so the name check of a Redis client is shown with Python's ssl module.

Versions: Debian's PostgreSQL 15 and Redis 7.0 against the images' 17.6 and 7.4: ssl/ssl_*_file, hba_file,
hostssl/hostnossl, sslmode=verify-full, log_connections/log_statement/log_line_prefix (%n), and Redis's tls-port,
port 0, tls-replication and tls-auth-clients are the same in both.
"""

from __future__ import annotations

import socket
import ssl
import subprocess

import pytest

from tests.dataplane.conftest import NO_POINT_IN_TIME, chart_namespace, new_cluster, rendered, servers_stopped_after
from tooling.dataplane import monitoring, postgres, redis
from tooling.dataplane.certificates import CertificateAuthority
from tooling.dataplane.paths import REDIS_CLI
from tooling.dataplane.processes import wait_for
from tooling.paths import REPO_ROOT

ROTATION_PROGRAMS = REPO_ROOT / "components" / "rotation_programs"

STACK = "prod"
CHART = "nexus-database"
REDIS_TLS_PORT = 6380  # tls.mode enabled: beside plaintext 6379 (required: 6379 is TLS)


def _cluster(session_root, supervisor, mode: str, audit: str, label: str):
    overrides = {"tls": {"mode": mode}, "audit": {"level": audit}, **NO_POINT_IN_TIME}
    cluster = new_cluster(
        session_root, supervisor, rendered(STACK, CHART, overrides), chart_namespace(STACK, CHART), label
    )
    return cluster, issue_certificates(cluster, ["product-postgres", "redis"])


def issue_certificates(cluster, components: list[str], loopback: tuple[str, ...] = ("127.0.0.1",)):
    """Each component's Secret `<component>-tls` as cert-manager fills it, from one new CA; returns the CA's file."""
    ca = CertificateAuthority()
    for component in components:
        for key, value in ca.issue(certificate_names(cluster, component), list(loopback)).items():
            cluster.secrets.set(f"{component}-tls", key, value.decode())
    ca_file = cluster.root / f"ca-{len(list(cluster.root.glob('ca-*.crt')))}.crt"
    ca_file.write_bytes(ca.pem)
    ca_file.chmod(0o644)
    return ca_file


def certificate_names(cluster, component: str) -> list[str]:
    """The DNS names components/certificates.py asks for: every Service of the component in each of its forms (those
    pinned to pod 0 included: `<component>-service`, `redis-service`), each pod's name, and loopback."""
    namespace, domain = cluster.namespace, cluster.cluster_domain
    labels = cluster.find("StatefulSet", component)["spec"]["template"]["metadata"]["labels"]
    names = []
    for service in (o for o in cluster.objects if o.get("kind") == "Service"):
        selector = dict(service["spec"].get("selector") or {})
        selector.pop("statefulset.kubernetes.io/pod-name", None)
        if selector and all(labels.get(k) == v for k, v in selector.items()):
            svc = service["metadata"]["name"]
            names += [svc, f"{svc}.{namespace}", f"{svc}.{namespace}.svc", f"{svc}.{namespace}.svc.{domain}"]
    return [*names, f"*.{component}-headless.{namespace}.svc.{domain}", "localhost"]


def renew(cluster, component: str, *containers) -> object:
    """cert-manager renews (here from a new CA, so only the new certificate verifies against the new CA's file): the
    Secret changes and the kubelet rewrites the files in each container's volume. Returns the new CA's file."""
    ca_file = issue_certificates(cluster, [component])
    for container in containers:
        for key in ("tls.crt", "tls.key", "ca.crt"):
            (container.path("/tls") / key).write_text(cluster.secrets.get(f"{component}-tls", key))
    return ca_file


def _program(cluster, name: str):
    """A rotation program (components/rotation_programs), copied where the pod user can read it (a Job's ConfigMap)."""
    path = cluster.root / name
    path.write_text((ROTATION_PROGRAMS / name).read_text())
    path.chmod(0o755)
    return path


def _run_ok(container, what: str, **kw) -> None:
    result = container.run(**kw)
    assert result.returncode == 0, f"{what} failed:\n{result.stdout}\n{result.stderr}"


def start_postgres(pod):
    """The pod as the kubelet starts it: its `hba` init container (TLS on), then the postgres container."""
    if "hba" in {c["name"] for c in pod.spec.get("initContainers", [])}:
        _run_ok(pod.container("hba"), "the hba init container", timeout=30)
    primary = pod.container("postgres")
    postgres.official_entrypoint(primary)
    return primary


def _service_name(cluster, service: str) -> str:
    return f"{service}.{cluster.service_domain()}"


def _psql(container, conninfo: str, sql: str, password: str) -> subprocess.CompletedProcess[str]:
    """psql from this container (its env, not its socket) with a full connection string."""
    argv = ["psql", "-X", "-At", "--no-password", conninfo, "-c", sql]
    return container.run(argv, env={"PGPASSWORD": password, "PGHOST": "", "PGSSLMODE": ""}, timeout=30)


def _verify_full(ca_file, name: str, address: str, user: str, database: str = "postgres") -> str:
    return (
        f"host={name} hostaddr={address} port=5432 user={user} dbname={database} "
        f"sslmode=verify-full sslrootcert={ca_file}"
    )


def _plaintext(address: str, user: str, database: str = "postgres") -> str:
    return f"host={address} port=5432 user={user} dbname={database} sslmode=disable"


SSL_IN_USE = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"


class TestPostgresRequired:
    """tls.mode required, audit.level comprehensive: product-postgres, primary and standby."""

    @pytest.fixture(scope="class")
    @classmethod
    def tier(cls, session_root, supervisor):
        with servers_stopped_after(supervisor):
            cluster, ca_file = _cluster(session_root, supervisor, "required", "comprehensive", f"{__name__}.pg-req")
            primary = start_postgres(cluster.pod("StatefulSet", "product-postgres", 0))
            yield cluster, primary, ca_file

    def test_a_client_verifying_the_certificate_and_its_name_connects_over_tls(self, tier):
        cluster, primary, ca_file = tier
        name = _service_name(cluster, "product-postgres-service")
        conninfo = _verify_full(ca_file, name, primary.pod.address, "postgres")
        result = _psql(primary, conninfo, SSL_IN_USE, primary.env["POSTGRES_PASSWORD"])
        assert result.returncode == 0 and result.stdout.strip() == "t", result.stderr

    def test_the_service_user_logs_in_to_its_database_over_tls(self, tier):
        cluster, primary, ca_file = tier
        name = _service_name(cluster, "product-postgres-service")
        user, database = primary.env["APP_USERNAME"], primary.env["POSTGRES_DB"]
        conninfo = _verify_full(ca_file, name, primary.pod.address, user, database)
        result = _psql(primary, conninfo, "SELECT current_user", primary.env["APP_PASSWORD"])
        assert result.stdout.strip() == user, result.stderr

    def test_a_plaintext_client_is_refused_with_the_right_password(self, tier):
        _, primary, _ = tier
        result = _psql(
            primary, _plaintext(primary.pod.address, "postgres"), "SELECT 1", primary.env["POSTGRES_PASSWORD"]
        )
        assert result.returncode != 0
        assert "pg_hba.conf rejects connection" in result.stderr and "no encryption" in result.stderr, result.stderr

    def test_a_client_checking_the_name_refuses_a_name_the_certificate_lacks(self, tier):
        cluster, primary, ca_file = tier
        other = _service_name(cluster, "payment-postgres-service")  # another database's name
        result = _psql(primary, _verify_full(ca_file, other, primary.pod.address, "postgres"), "SELECT 1", "irrelevant")
        assert result.returncode != 0 and "does not match host name" in result.stderr, result.stderr

    def test_the_pods_probes_pass_without_plaintext_logins(self, tier):
        _, primary, _ = tier
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert primary.probe(probe).returncode == 0, probe

    def test_a_standby_clones_and_streams_from_the_primary_over_verified_tls(self, tier, supervisor):
        cluster, primary, _ = tier
        pod = cluster.pod("StatefulSet", "product-postgres", 1)
        _run_ok(pod.container("hba"), "the hba init container", timeout=30)
        clone = pod.container("standby-bootstrap")
        # PRIMARY_HOST as rendered (the primary's pod name, which its certificate names); its address as DNS answers.
        primary_host = next(e["value"] for e in clone.spec["env"] if e["name"] == "PRIMARY_HOST")
        _run_ok(
            clone,
            "postgres-standby.sh",
            env={"PRIMARY_HOST": primary_host, "PGHOSTADDR": primary.pod.address},
            timeout=120,
        )
        standby = pod.container("postgres")
        conf = (standby.path("/var/lib/postgresql/data/pgdata") / "postgresql.auto.conf").read_text()
        assert "sslmode=''verify-full''" in conf and f"host=''{primary_host}''" in conf, conf
        postgres.official_entrypoint(standby)
        database = primary.env["POSTGRES_DB"]
        postgres.psql(
            primary, "CREATE TABLE shipments (id int PRIMARY KEY); INSERT INTO shipments VALUES (7)", database=database
        )
        wait_for(
            lambda: postgres.psql(standby, "SELECT id FROM shipments", database=database, check=False) == "7",
            what="the row on the standby",
            timeout=30,
        )
        streams = postgres.psql(
            primary, "SELECT r.usename, r.state, s.ssl FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid)"
        )
        assert streams == "replicator|streaming|t", streams

    def test_a_standby_cloned_before_tls_verifies_the_primary_from_its_next_start(self, tier):
        cluster, _, _ = tier
        pod = cluster.pod("StatefulSet", "product-postgres", 2)
        pgdata = pod.container("postgres").path("/var/lib/postgresql/data/pgdata")
        cluster.mkdir(pgdata)
        (pgdata / "PG_VERSION").write_text("15\n")
        conf = pgdata / "postgresql.auto.conf"
        # What pg_basebackup --write-recovery-conf wrote while tls.mode was disabled.
        conf.write_text(
            "primary_conninfo = 'user=replicator password=pw channel_binding=prefer "
            "host=''product-postgres-0.product-postgres-headless.data.svc.cluster.local'' port=5432 sslmode=prefer "
            "sslcompression=0 sslsni=1 gssencmode=prefer target_session_attrs=any'\n"
        )
        clone = pod.container("standby-bootstrap")
        _run_ok(clone, "postgres-standby.sh", timeout=30)
        ca = clone.path("/tls") / "ca.crt"
        assert f"port=5432 sslmode=''verify-full'' sslrootcert=''{ca}'' sslcompression=0" in conf.read_text()
        _run_ok(clone, "postgres-standby.sh again", timeout=30)  # idempotent
        assert conf.read_text().count("sslrootcert=") == 1

    def test_comprehensive_audit_logs_connections_and_every_statement_as_key_value_lines(self, tier):
        cluster, primary, ca_file = tier
        name = _service_name(cluster, "product-postgres-service")
        user, database = primary.env["APP_USERNAME"], primary.env["POSTGRES_DB"]
        conninfo = _verify_full(ca_file, name, primary.pod.address, user, database)
        sql = "CREATE TABLE audited (id int); INSERT INTO audited VALUES (1); SELECT count(*) FROM audited"
        assert _psql(primary, conninfo, sql, primary.env["APP_PASSWORD"]).returncode == 0
        lines = (primary.dir / "output.log").read_text(errors="replace").splitlines()
        prefix = f"user={user} db={database} client="

        def logged(text: str) -> bool:
            return any(line.startswith("time=") and prefix in line and text in line for line in lines)

        assert logged("connection authorized:") and logged("SSL enabled"), lines[-20:]
        assert logged(f"statement: {sql}"), lines[-20:]  # the whole query string, queries included

        def disconnected() -> bool:
            lines[:] = (primary.dir / "output.log").read_text(errors="replace").splitlines()
            return logged("disconnection: session time")

        wait_for(disconnected, what="the disconnection in the server's log", timeout=10)

    def test_no_password_reaches_the_audit_log(self, tier):
        _, primary, _ = tier
        log = (primary.dir / "output.log").read_text(errors="replace")
        # postgres-init.sh sets its roles' passwords (DDL) with log_statement off for its session.
        assert "ALTER ROLE" not in log, [line for line in log.splitlines() if "ALTER ROLE" in line]
        for key in ("POSTGRES_PASSWORD", "APP_PASSWORD", "REPLICATION_PASSWORD"):
            assert primary.env[key] not in log, f"{key} is in the server's log"

    def test_the_rotation_program_rotates_over_verified_tls_and_logs_no_password(self, tier):
        cluster, primary, ca_file = tier
        user, database, next_password = primary.env["APP_USERNAME"], primary.env["POSTGRES_DB"], "next-app-pass 1"
        env = {  # the rotation Job's contract with TLS on: the primary's Service name, the CA only
            "PGHOST": _service_name(cluster, "product-postgres-service"),
            "PGHOSTADDR": primary.pod.address,  # what DNS answers for it
            "PGPORT": "5432",
            "PGDATABASE": database,
            "ADMIN_USER": "postgres",
            "CURRENT_ADMIN_PASSWORD": primary.env["POSTGRES_PASSWORD"],
            "APP_BASE_USER": user,
            "APP_USER": f"{user}_alt",
            "NEXT_APP_PASSWORD": next_password,
            "TLS_CA_FILE": str(ca_file),
            "PGSSLMODE": "verify-full",
            "PGSSLROOTCERT": str(ca_file),
        }
        _run_ok(primary, "rotate-postgres.sh", argv=["bash", str(_program(cluster, "rotate-postgres.sh"))], env=env)
        conninfo = _verify_full(ca_file, env["PGHOST"], primary.pod.address, f"{user}_alt", database)
        assert _psql(primary, conninfo, "SELECT current_user", next_password).stdout.strip() == user
        log = (primary.dir / "output.log").read_text(errors="replace")
        assert next_password not in log and "ALTER ROLE" not in log
        assert f"user=postgres db={database}" in log and "statement: SET log_statement = 'none'" in log


class TestPostgresEnabled:
    """tls.mode enabled, audit.level basic: TLS offered, plaintext still accepted; DDL logged, queries not."""

    @pytest.fixture(scope="class")
    @classmethod
    def tier(cls, session_root, supervisor):
        with servers_stopped_after(supervisor):
            cluster, ca_file = _cluster(session_root, supervisor, "enabled", "basic", f"{__name__}.pg-enabled")
            primary = start_postgres(cluster.pod("StatefulSet", "product-postgres", 0))
            yield cluster, primary, ca_file

    def test_a_plaintext_client_still_connects(self, tier):
        _, primary, _ = tier
        result = _psql(
            primary, _plaintext(primary.pod.address, "postgres"), SSL_IN_USE, primary.env["POSTGRES_PASSWORD"]
        )
        assert result.returncode == 0 and result.stdout.strip() == "f", result.stderr

    def test_a_client_verifying_the_certificate_and_its_name_connects_over_tls(self, tier):
        cluster, primary, ca_file = tier
        conninfo = _verify_full(
            ca_file, _service_name(cluster, "product-postgres-read"), primary.pod.address, "postgres"
        )
        result = _psql(primary, conninfo, SSL_IN_USE, primary.env["POSTGRES_PASSWORD"])
        assert result.returncode == 0 and result.stdout.strip() == "t", result.stderr

    def test_basic_audit_logs_schema_changes_but_not_queries(self, tier):
        _, primary, _ = tier
        conninfo = _plaintext(primary.pod.address, "postgres")
        for sql in ("CREATE TABLE basic_audit (id int)", "SELECT count(*) FROM basic_audit"):  # one query each
            assert _psql(primary, conninfo, sql, primary.env["POSTGRES_PASSWORD"]).returncode == 0
        log = (primary.dir / "output.log").read_text(errors="replace")
        assert "statement: CREATE TABLE basic_audit" in log and "connection authorized: user=postgres" in log
        assert "SELECT count(*) FROM basic_audit" not in log

    def test_the_backup_job_dumps_over_verified_tls(self, tier):
        cluster, primary, _ = tier
        job = cluster.pod("CronJob", "product-postgres-backup").container("backup")
        assert sorted(p.name for p in job.path("/tls").iterdir()) == ["ca.crt"], "only the CA is mounted"
        host = next(e["value"] for e in job.spec["env"] if e["name"] == "HOST")
        _run_ok(job, "backup-postgres.sh", env={"HOST": host, "PGHOSTADDR": primary.pod.address}, timeout=120)
        assert len(list((job.path("/backups") / "product-postgres").glob("*.dump"))) == 1
        log = (primary.dir / "output.log").read_text(errors="replace").splitlines()
        dump = [line for line in log if "connection authorized: user=postgres database=productdb" in line]
        assert dump and all("application_name=pg_dump SSL enabled" in line for line in dump[-1:]), dump

    def test_a_renewed_certificate_is_served_after_the_sidecar_asks_for_a_reload(self, tier):
        cluster, primary, _ = tier
        sidecar = primary.pod.container("tls-reload")
        sidecar.start(env={"INTERVAL_SECONDS": "1"})
        new_ca = renew(cluster, "product-postgres", primary, sidecar)
        conninfo = _verify_full(
            new_ca, _service_name(cluster, "product-postgres-service"), primary.pod.address, "postgres"
        )

        def served() -> bool:
            return _psql(primary, conninfo, SSL_IN_USE, primary.env["POSTGRES_PASSWORD"]).stdout.strip() == "t"

        wait_for(served, what="the renewed certificate (verified against its new CA)", timeout=30)
        assert "the server reloaded it" in (sidecar.dir / "output.log").read_text()


# --- Redis ------------------------------------------------------------------------------------------------------


def _resp(*args: str) -> bytes:
    return b"".join([f"*{len(args)}\r\n".encode(), *(f"${len(a.encode())}\r\n{a}\r\n".encode() for a in args)])


def _tls_ping(address: str, port: int, name: str, ca_file, password: str) -> bytes:
    """AUTH + PING over TLS with Python's ssl: the certificate checked against the CA and `name`."""
    context = ssl.create_default_context(cafile=str(ca_file))
    with (
        socket.create_connection((address, port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=name) as tls,
    ):
        tls.sendall(_resp("AUTH", password) + _resp("PING"))
        data = b""
        while b"PONG" not in data and b"ERR" not in data:
            chunk = tls.recv(4096)
            if not chunk:
                break
            data += chunk
        return data


def _redis_cli(container, port: int, *args: str, tls_ca=None) -> subprocess.CompletedProcess[str]:
    tls = ["--tls", "--cacert", str(tls_ca)] if tls_ca else []
    argv = [str(REDIS_CLI), *tls, "-h", container.pod.address, "-p", str(port), *args]
    return container.run(argv, timeout=30)


def _start_redis(cluster, ordinal: int):
    container = cluster.pod("StatefulSet", "redis", ordinal).container("redis")
    redis.start(container)
    return container


class TestRedisRequired:
    """tls.mode required, audit.level comprehensive: no plaintext port; replicas over TLS."""

    @pytest.fixture(scope="class")
    @classmethod
    def tier(cls, session_root, supervisor):
        with servers_stopped_after(supervisor):
            cluster, ca_file = _cluster(session_root, supervisor, "required", "comprehensive", f"{__name__}.redis-req")
            primary = _start_redis(cluster, 0)  # ready: its readiness probe (redis-cli --tls) answered PONG
            yield cluster, primary, ca_file

    def test_a_client_verifying_the_certificate_and_its_name_gets_pong(self, tier):
        cluster, primary, ca_file = tier
        name = _service_name(cluster, "redis-service")
        assert b"+PONG" in _tls_ping(primary.pod.address, 6379, name, ca_file, primary.env["REDIS_PASSWORD"])

    def test_a_plaintext_client_gets_no_answer_and_no_plaintext_port_is_open(self, tier):
        _, primary, _ = tier
        result = _redis_cli(primary, 6379, "PING")
        assert "PONG" not in result.stdout + result.stderr, result.stdout
        # ...and there is no plaintext port at all (`port 0`).
        assert _redis_cli(primary, 6379, "CONFIG", "GET", "port", tls_ca=tier[2]).stdout.split() == ["port", "0"]

    def test_a_client_checking_the_name_refuses_a_name_the_certificate_lacks(self, tier):
        cluster, primary, ca_file = tier
        with pytest.raises(ssl.SSLCertVerificationError, match=r"Hostname mismatch|doesn't match"):
            _tls_ping(primary.pod.address, 6379, _service_name(cluster, "kafka-service"), ca_file, "x")

    def test_a_replica_follows_the_primary_over_tls(self, tier, supervisor):
        cluster, primary, ca_file = tier
        replica = _start_redis(cluster, 1)
        assert "OK" in _redis_cli(primary, 6379, "SET", "cart:1", "full", tls_ca=ca_file).stdout
        wait_for(
            lambda: _redis_cli(replica, 6379, "GET", "cart:1", tls_ca=ca_file).stdout.strip() == "full",
            what="the key on the replica",
            timeout=30,
        )
        info = _redis_cli(replica, 6379, "INFO", "replication", tls_ca=ca_file).stdout
        assert "master_link_status:up" in info and "master_port:6379" in info, info

    def test_the_backup_job_takes_a_snapshot_over_tls_with_only_the_ca(self, tier):
        cluster, _, _ = tier
        job = cluster.pod("CronJob", "redis-backup").container("backup")
        assert sorted(p.name for p in job.path("/tls").iterdir()) == ["ca.crt"], "only the CA is mounted"
        assert job.env["REDIS_PORT"] == "6379"
        _run_ok(job, "backup-redis.sh", timeout=120)
        backups = list((job.path("/backups") / "redis").glob("*.rdb"))
        assert len(backups) == 1 and backups[0].stat().st_size > 0

    def test_the_rotation_program_adds_the_next_password_over_tls(self, tier):
        cluster, primary, ca_file = tier
        current, next_password = primary.env["REDIS_PASSWORD"], "next-redis-pass"
        env = {
            "REDIS_HOSTS": primary.pod.address,
            "REDIS_PORT": "6379",  # required: the TLS port is 6379
            "TLS_CA_FILE": str(ca_file),
            "CURRENT_PASSWORD": current,
            "NEXT_PASSWORD": next_password,
        }
        _run_ok(primary, "rotate-redis.sh", argv=["sh", str(_program(cluster, "rotate-redis.sh"))], env=env)
        name = _service_name(cluster, "redis-service")
        for password in (next_password, current):
            assert b"+PONG" in _tls_ping(primary.pod.address, 6379, name, ca_file, password)

    def test_verbose_log_records_accepted_connections_and_their_end(self, tier):
        _, primary, ca_file = tier
        _redis_cli(primary, 6379, "PING", tls_ca=ca_file)
        log = (primary.dir / "output.log").read_text(errors="replace")
        # `Accepted <address>:<port>`; a TLS client leaving without close_notify (redis-cli) ends in a read error line.
        assert f"- Accepted {primary.pod.address}:" in log or "- Accepted 127.0.0.1:" in log, log[-2000:]
        assert "Client closed connection" in log or "- Reading from client:" in log, log[-2000:]


class TestRedisEnabled:
    """tls.mode enabled, audit.level basic: plaintext on 6379, TLS on 6380, replicas over TLS."""

    @pytest.fixture(scope="class")
    @classmethod
    def tier(cls, session_root, supervisor):
        with servers_stopped_after(supervisor):
            cluster, ca_file = _cluster(session_root, supervisor, "enabled", "basic", f"{__name__}.redis-enabled")
            primary = _start_redis(cluster, 0)
            yield cluster, primary, ca_file

    def test_a_plaintext_client_still_connects_on_6379(self, tier):
        _, primary, _ = tier
        assert _redis_cli(primary, 6379, "PING").stdout.strip() == "PONG"

    def test_basic_audit_logs_a_plaintext_clients_connection_and_its_close_with_its_address(self, tier):
        _, primary, _ = tier
        assert _redis_cli(primary, 6379, "PING").stdout.strip() == "PONG"

        def logged() -> bool:
            log = (primary.dir / "output.log").read_text(errors="replace")
            return "- Accepted " in log and "Client closed connection id=" in log and " addr=" in log

        wait_for(logged, what="the connection and its close in the server's log", timeout=10)

    def test_a_client_verifying_the_certificate_and_its_name_gets_pong_on_6380(self, tier):
        cluster, primary, ca_file = tier
        name = f"redis-0.redis-headless.{cluster.service_domain()}"
        assert b"+PONG" in _tls_ping(primary.pod.address, REDIS_TLS_PORT, name, ca_file, primary.env["REDIS_PASSWORD"])

    def test_a_replica_follows_the_primary_over_its_tls_port(self, tier):
        cluster, primary, _ = tier
        replica = _start_redis(cluster, 1)
        assert _redis_cli(primary, 6379, "SET", "cart:2", "open").stdout.strip() == "OK"
        wait_for(
            lambda: _redis_cli(replica, 6379, "GET", "cart:2").stdout.strip() == "open",
            what="the key on the replica",
            timeout=30,
        )
        info = _redis_cli(replica, 6379, "INFO", "replication").stdout
        assert "master_link_status:up" in info and f"master_port:{REDIS_TLS_PORT}" in info, info

    def test_a_renewed_certificate_is_served_without_a_restart(self, tier):
        cluster, _, _ = tier
        pod = cluster.pod("StatefulSet", "redis", 2).container("redis")
        server = pod.start(env={"TLS_RELOAD_SECONDS": "1"})
        wait_for(lambda: pod.probe().returncode == 0, what="redis-2 ready", timeout=30, server=server)
        new_ca = renew(cluster, "redis", pod)
        name, password = f"redis-2.redis-headless.{cluster.service_domain()}", pod.env["REDIS_PASSWORD"]

        def served() -> bool:
            try:
                return b"+PONG" in _tls_ping(pod.pod.address, REDIS_TLS_PORT, name, new_ca, password)
            except ssl.SSLError:
                return False

        wait_for(served, what="the renewed certificate (verified against its new CA)", timeout=30)
        assert server.running()


def test_with_tls_required_the_exporters_report_their_servers_up_over_verified_tls(make_cluster):
    """The exporters' rendered env (postgres-exporter sslmode=verify-full, redis_exporter rediss:// with the CA) against
    servers that refuse plaintext. Here a pod's 127.0.0.1 is its own loopback address (tooling/dataplane/pods.py), so
    the certificate names that address as it names 127.0.0.1 in a cluster."""
    overrides = {"tls": {"mode": "required"}, "metrics": {"enabled": True}, **NO_POINT_IN_TIME}
    cluster = make_cluster(rendered(STACK, CHART, overrides), chart_namespace(STACK, CHART))
    pg_pod, redis_pod = cluster.pod("StatefulSet", "product-postgres", 0), cluster.pod("StatefulSet", "redis", 0)
    issue_certificates(cluster, ["product-postgres", "redis"], ("127.0.0.1", pg_pod.address, redis_pod.address))
    start_postgres(pg_pod)
    redis.start(redis_pod.container("redis"))
    _, pg_metrics = monitoring.start_exporter(pg_pod.container("metrics"))
    _, redis_metrics = monitoring.start_exporter(redis_pod.container("metrics"))
    wait_for(lambda: "\npg_up 1\n" in "\n" + monitoring.metrics(pg_metrics), what="pg_up 1", timeout=30)
    wait_for(lambda: "\nredis_up 1\n" in "\n" + monitoring.metrics(redis_metrics), what="redis_up 1", timeout=30)
