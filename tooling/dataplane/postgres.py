"""PostgreSQL servers for the data-plane tier.

`official_entrypoint(container)` is what the official postgres image's `docker-entrypoint.sh postgres`
does when our StatefulSet's postgres container starts (it has no command of its own), step by step as in
docker-library/postgres 17: on an empty PGDATA, initdb as POSTGRES_USER with POSTGRES_PASSWORD, append
`host all all all scram-sha-256` to pg_hba.conf, start a socket-only temporary server, CREATE DATABASE
POSTGRES_DB, run /docker-entrypoint-initdb.d/* (executable *.sh are executed), stop; then start the
server listening on the pod. A PGDATA that already holds PG_VERSION (a standby clone) just starts. The
container's args after `postgres` (`--ssl=on`, `--hba_file=...`, audit settings: `server_settings`) go to both
servers, as the entrypoint passes them. Init containers (the `hba` one writing that hba file) are the caller's to
run first, as the kubelet runs them.

Two differences, both of where things are, not what they do:
- libpq's default socket directory (/var/run/postgresql, a mounted emptyDir in the pod) is the mount's
  directory here, so programs in the container get `PGHOST=<that directory>` (the image sets no PGHOST).
- initdb writes loopback `host ... 127.0.0.1/32 trust` lines. In a pod only the pod itself connects
  from loopback; peers (a standby, a backup Job) come from their pod IPs. Here every peer connects from
  127.0.0.1 (Linux picks it as the source for all of 127/8), so those lines would trust the peers. They
  are removed, so peers meet the rules they meet in a cluster (`DROPPED_LOOPBACK_TRUST`).

`bitnami_shaped_primary(...)` is a server shaped like the Bitnami chart's primary that core-pipeline's
bootstrap Job targets: admin `postgres` with a password, a password needed for every connection, the
cluster's own user owning its database.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass
from pathlib import Path

from tooling.dataplane.paths import PG_BIN
from tooling.dataplane.pods import Container, rewrite
from tooling.dataplane.processes import Server, Supervisor, wait_for

PORT = 5432
SOCKET_DIR_IN_POD = "/var/run/postgresql"
DROPPED_LOOPBACK_TRUST = (
    "host    all             all             127.0.0.1/32            trust",
    "host    all             all             ::1/128                 trust",
    "host    replication     all             127.0.0.1/32            trust",
    "host    replication     all             ::1/128                 trust",
)


class EntrypointFailed(RuntimeError):
    pass


def _check(result, what: str) -> None:
    if result.returncode != 0:
        raise EntrypointFailed(f"{what} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")


def drop_loopback_trust(pg_hba: Path) -> None:
    lines = pg_hba.read_text().splitlines()
    kept = [
        line for line in lines if " ".join(line.split()) not in {" ".join(d.split()) for d in DROPPED_LOOPBACK_TRUST}
    ]
    pg_hba.write_text("\n".join(kept) + "\n")


def socket_dir(container: Container) -> Path:
    return container.path(SOCKET_DIR_IN_POD)


def client_env(container: Container) -> dict[str, str]:
    """What the harness adds to the container's env for its programs (see the module docstring)."""
    return {"PGHOST": str(socket_dir(container))}


def _server_argv(pgdata: Path, sockets: Path, listen: str, settings: list[str] | None = None) -> list[str]:
    return [
        str(PG_BIN / "postgres"),
        "-D",
        str(pgdata),
        "-p",
        str(PORT),
        "-c",
        f"listen_addresses={listen}",
        "-c",
        f"unix_socket_directories={sockets}",
        *(settings or []),
    ]


def server_settings(container: Container) -> list[str]:
    """The container's args after `postgres` (`--ssl=on`, `--hba_file=...`, audit settings), in-pod paths mapped: the
    image's entrypoint passes them to its initdb-time server and to the server it execs."""
    args = [rewrite(str(arg), container.paths) for arg in container.spec.get("args", [])]
    return args[1:] if args[:1] == ["postgres"] else args


def _wait_socket(supervisor: Supervisor, container: Container, server: Server, env: dict[str, str]) -> None:
    def ready() -> bool:
        result = supervisor.run(
            [str(PG_BIN / "pg_isready"), "--host", env["PGHOST"], "--port", str(PORT)],
            env=env,
            cwd=container.dir,
            timeout=10,
        )
        return result.returncode == 0

    wait_for(ready, what=f"{server.name} to accept connections", timeout=60, server=server)


def official_entrypoint(container: Container) -> Server:
    """Start the container as the official image would (see the module docstring); returns the server."""
    supervisor = container.pod.cluster.supervisor
    env = {**container.env, **client_env(container)}
    pgdata = Path(env["PGDATA"])
    sockets = socket_dir(container)
    settings = server_settings(container)
    if not (pgdata / "PG_VERSION").exists():
        container.pod.cluster.mkdir(pgdata)
        pgdata.chmod(0o700)
        pwfile = container.dir / "pwfile"
        pwfile.write_text(env["POSTGRES_PASSWORD"] + "\n")
        container.pod.cluster.mkdir(pwfile.parent)
        if supervisor.run_as:
            supervisor.run_as.own(pwfile)
        _check(
            container.run(
                [str(PG_BIN / "initdb"), f"--username={env['POSTGRES_USER']}", f"--pwfile={pwfile}", "-D", str(pgdata)],
                env=client_env(container),
            ),
            "initdb",
        )
        pwfile.unlink()
        pg_hba = pgdata / "pg_hba.conf"
        drop_loopback_trust(pg_hba)
        with pg_hba.open("a") as hba:  # pg_setup_hba_conf: password_encryption's method for every host
            hba.write("\nhost all all all scram-sha-256\n")
        temp = container.start(
            _server_argv(pgdata, sockets, "", settings), env=client_env(container), stop_signal=signal.SIGINT
        )
        init_env = {**client_env(container), "PGPASSWORD": env["POSTGRES_PASSWORD"]}
        try:
            _wait_socket(supervisor, container, temp, env)
            if env.get("POSTGRES_DB", "postgres") != "postgres":
                _check(
                    container.run(
                        [
                            "psql",
                            "-v",
                            "ON_ERROR_STOP=1",
                            "--username",
                            env["POSTGRES_USER"],
                            "--no-password",
                            "--no-psqlrc",
                            "--dbname",
                            "postgres",
                            "--set",
                            f"db={env['POSTGRES_DB']}",
                        ],
                        env=init_env,
                        input='CREATE DATABASE :"db" ;\n',
                    ),
                    "CREATE DATABASE",
                )
            initdb_dir = container.path("/docker-entrypoint-initdb.d")
            for script in sorted(initdb_dir.iterdir()) if initdb_dir.is_dir() else []:
                if script.suffix == ".sh":
                    _check(container.run([str(script)], env=init_env), f"initdb script {script.name}")
        finally:
            supervisor.stop(temp)
    server = container.start(
        _server_argv(pgdata, sockets, container.pod.address, settings),
        env=client_env(container),
        stop_signal=signal.SIGINT,
    )
    _wait_socket(supervisor, container, server, env)
    return server


def psql(
    container: Container,
    sql: str,
    *,
    database: str = "postgres",
    user: str = "postgres",
    password: str | None = None,
    host: str | None = None,
    check: bool = True,
) -> str:
    """Run SQL with psql as a client inside `container` (socket by default); returns unaligned output."""
    env = {**client_env(container)}
    if password is not None:
        env["PGPASSWORD"] = password
    argv = ["psql", "-X", "-v", "ON_ERROR_STOP=1", "-At", "--no-password", "-U", user, "-d", database, "-c", sql]
    if host:
        argv += ["-h", host, "-p", str(PORT)]
    result = container.run(argv, env=env, timeout=60)
    if check and result.returncode != 0:
        raise EntrypointFailed(f"psql {sql!r} failed ({result.returncode}): {result.stderr}")
    return result.stdout.strip() if result.returncode == 0 else result.stderr


@dataclass
class PlainServer:
    """A PostgreSQL server the harness runs itself (a Bitnami-shaped primary, a restore target)."""

    server: Server
    address: str
    sockets: Path
    superuser: str
    password: str


def bitnami_shaped_primary(
    supervisor: Supervisor,
    root: Path,
    address: str,
    *,
    admin_password: str,
    username: str,
    password: str,
    database: str,
    mkdir,
) -> PlainServer:
    """Like the Bitnami chart's primary: `postgres` (admin, password from `postgres-password`), the cluster's
    user owning its database, and a password needed for every connection (Bitnami's pg_hba after
    postgresql_restrict_pghba). The Bitnami image's own init logic is not ours and is not reproduced."""
    pgdata, sockets = mkdir(root / "data"), mkdir(root / "run")
    pgdata.chmod(0o700)
    pwfile = root / "pwfile"
    pwfile.write_text(admin_password + "\n")
    if supervisor.run_as:
        supervisor.run_as.own(pwfile)
    env = {"PATH": f"{PG_BIN}:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(root), "PGHOST": str(sockets)}
    _check(
        supervisor.run(
            [
                str(PG_BIN / "initdb"),
                "--username=postgres",
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "-D",
                str(pgdata),
            ],
            env=env,
            cwd=root,
        ),
        "initdb",
    )
    (pgdata / "pg_hba.conf").write_text(
        "local all all scram-sha-256\n"
        "host all all 0.0.0.0/0 scram-sha-256\n"
        "host replication all 0.0.0.0/0 scram-sha-256\n"
    )
    server = supervisor.start(
        f"bitnami-primary@{address}",
        _server_argv(pgdata, sockets, address),
        env=env,
        cwd=root,
        log=root / "postgres.log",
        stop_signal=signal.SIGINT,
    )
    admin_env = {**env, "PGPASSWORD": admin_password}

    def ready() -> bool:
        return (
            supervisor.run(
                [str(PG_BIN / "pg_isready"), "-h", address, "-p", str(PORT)], env=env, cwd=root, timeout=10
            ).returncode
            == 0
        )

    wait_for(ready, what="the Bitnami-shaped primary", timeout=60, server=server)
    sql = f'CREATE ROLE "{username}" LOGIN PASSWORD :\'pw\';\nCREATE DATABASE "{database}" OWNER "{username}";\n'
    result = supervisor.run(
        ["psql", "-X", "-v", "ON_ERROR_STOP=1", "-v", f"pw={password}", "-U", "postgres", "-d", "postgres"],
        env=admin_env,
        cwd=root,
        input=sql,
    )
    _check(result, "the Bitnami-shaped primary's own user and database")
    return PlainServer(server, address, sockets, "postgres", admin_password)
