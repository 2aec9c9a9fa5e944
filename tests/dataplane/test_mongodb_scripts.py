"""MongoDB's pod programs, checked without a server: MongoDB has no server package that installs here (not
in Debian; the npm/PyPI packages that provide one download binaries at run time, which cannot be fetched).

What is checked, on the scripts as the rendered ConfigMap holds them and with the containers' env from the
prod stack's render:
- every shell script parses (`bash -n`) and every mongosh script parses (`node --check`; mongosh is
  JavaScript on Node, and these scripts use no mongosh-only syntax);
- the replica-set reconciler's and the user bootstrap's decisions, run unchanged by Node with mongosh's
  globals stubbed (tests/dataplane/stubs/mongosh.js): what they would ask a server to do;
- backup-mongodb.sh with a stub `mongodump` that writes its archive: the file naming and the password's path.
Not checked: anything a real mongod decides (rs.initiate/rs.add results, authentication, initial sync,
mongodump's archive). Versions: Node 20 here; mongosh 2.x (in mongo:7.0.14) embeds Node 20 as well.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.dataplane.conftest import HERE, chart_namespace, rendered
from tooling.dataplane.certificates import CertificateAuthority

STACK = "prod"
CHART = "nexus-database"
SCRIPTS = "nexus-database-scripts"


# The scripts without TLS (whatever the stack's security profile), and with prod's profile given explicitly.
PLAINTEXT = {"tls": {"mode": "disabled"}, "audit": {"level": "disabled"}}
TLS_REQUIRED = {"tls": {"mode": "required"}, "audit": {"level": "comprehensive"}}


@pytest.fixture
def cluster(make_cluster):
    return make_cluster(rendered(STACK, CHART, PLAINTEXT), chart_namespace(STACK, CHART))


@pytest.fixture
def tls_cluster(make_cluster):
    cluster = make_cluster(rendered(STACK, CHART, TLS_REQUIRED), chart_namespace(STACK, CHART))
    certificate = CertificateAuthority().issue(["cart-mongodb-headless", "localhost"], ["127.0.0.1"])
    for key, value in certificate.items():
        cluster.secrets.set("cart-mongodb-tls", key, value.decode())
    return cluster


def _scripts(cluster) -> dict[str, str]:
    return dict(cluster.config_map(SCRIPTS))


def test_every_shell_script_in_the_scripts_config_map_parses(cluster, tmp_path):
    for name, text in _scripts(cluster).items():
        if name.endswith(".sh"):
            path = tmp_path / name
            path.write_text(text)
            shell = "sh" if text.startswith("#!/bin/sh") else "bash"
            result = subprocess.run([shell, "-n", str(path)], capture_output=True, text=True, check=False)
            assert result.returncode == 0, f"{name}: {result.stderr}"


def test_every_mongosh_script_in_the_scripts_config_map_parses(cluster, tmp_path):
    node = shutil.which("node")
    assert node, "node is installed by scripts/dataplane-servers.sh"
    scripts = {n: t for n, t in _scripts(cluster).items() if n.endswith(".js")}
    assert {"mongodb-replica-set.js", "mongodb-app-user.js"} <= set(scripts)
    for name, text in scripts.items():
        path = tmp_path / name
        path.write_text(text)
        result = subprocess.run([node, "--check", str(path)], capture_output=True, text=True, check=False)
        assert result.returncode == 0, f"{name}: {result.stderr}"


def _mongosh(container, script_in_pod: str, scenario: dict) -> list[dict]:
    scenario_file = container.dir / "scenario.json"
    scenario_file.write_text(json.dumps(scenario))
    result = container.run(
        ["node", str(HERE / "stubs" / "mongosh.js"), str(container.path(script_in_pod)), str(scenario_file)], timeout=30
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _host(cluster, i: int) -> str:
    return f"cart-mongodb-{i}.cart-mongodb-headless.{cluster.service_domain()}:27017"


def test_replica_set_script_initiates_a_new_set_with_pod_zero_by_its_stable_name(cluster):
    sidecar = cluster.pod("StatefulSet", "cart-mongodb", 0).container("replica-set")
    calls = _mongosh(sidecar, "/scripts/mongodb-replica-set.js", {"status": {"ok": 0, "code": 94}})
    initiate = [c for c in calls if c["call"] == "rs.initiate"]
    assert initiate == [
        {"call": "rs.initiate", "args": [{"_id": "cart-rs", "members": [{"_id": 0, "host": _host(cluster, 0)}]}]}
    ]
    connect = next(c for c in calls if c["call"] == "connect")["args"][0]
    # The script connects to its own pod's loopback (127.0.0.1 in the pod; the harness gives each pod its own).
    own_loopback = sidecar.pod.address
    assert connect.startswith("mongodb://root:")
    assert connect.endswith(f"@{own_loopback}:27017/admin?directConnection=true")


def test_replica_set_script_adds_one_missing_member_per_round_and_never_removes(cluster):
    sidecar = cluster.pod("StatefulSet", "cart-mongodb", 0).container("replica-set")
    assert sidecar.env["REPLICAS"] == "3"
    scenario = {"status": {"ok": 1}, "writablePrimary": True, "members": [_host(cluster, 0), "old-member:27017"]}
    calls = _mongosh(sidecar, "/scripts/mongodb-replica-set.js", scenario)
    assert [c for c in calls if c["call"].startswith("rs.")] == [{"call": "rs.add", "args": [_host(cluster, 1)]}]
    complete = {**scenario, "members": [_host(cluster, i) for i in range(3)]}
    assert not [
        c for c in _mongosh(sidecar, "/scripts/mongodb-replica-set.js", complete) if c["call"].startswith("rs.")
    ]
    secondary = {**scenario, "writablePrimary": False}
    assert not [
        c for c in _mongosh(sidecar, "/scripts/mongodb-replica-set.js", secondary) if c["call"].startswith("rs.")
    ]


def test_app_user_script_creates_the_service_user_with_read_write_on_its_database_only(cluster):
    mongod = cluster.pod("StatefulSet", "cart-mongodb", 0).container("mongodb")
    calls = _mongosh(mongod, "/docker-entrypoint-initdb.d/10-app-user.js", {"status": {"ok": 1}})
    users = [c for c in calls if c["call"] == "createUser"]
    env = mongod.env
    assert users == [
        {
            "call": "createUser",
            "db": env["MONGO_INITDB_DATABASE"],
            "args": [
                {
                    "user": env["MONGO_APP_USERNAME"],
                    "pwd": env["MONGO_APP_PASSWORD"],
                    "roles": [{"role": "readWrite", "db": env["MONGO_INITDB_DATABASE"]}],
                }
            ],
        }
    ]


def test_mongodb_backup_script_names_the_archive_only_once_mongodump_finished(cluster):
    job = cluster.pod("CronJob", "cart-mongodb-backup").container("backup")
    stub = job.bin_dir / "mongodump"
    stub.write_text(
        "#!/bin/sh\n# stand-in: records its arguments and config, writes an archive\n"
        f'printf "%s\\n" "$@" > {job.dir}/mongodump.args\ncat "$2" > {job.dir}/mongodump.config\n'
        'for a in "$@"; do case "$a" in --archive=*) echo archive > "${a#--archive=}";; esac; done\n'
    )
    stub.chmod(0o755)
    result = job.run(timeout=30)
    assert result.returncode == 0, result.stderr
    backups = sorted(p.name for p in (job.path("/backups") / "cart-mongodb").iterdir())
    assert len(backups) == 1 and backups[0].endswith(".archive.gz") and not backups[0].startswith("."), backups
    args = (job.dir / "mongodump.args").read_text()
    assert job.env["MONGO_ROOT_PASSWORD"] not in args
    assert yaml.safe_load((job.dir / "mongodump.config").read_text()) == {"password": job.env["MONGO_ROOT_PASSWORD"]}


def test_keyfile_init_container_copies_the_key_readable_by_its_owner_only(cluster):
    # Run for real: its `sh -c cp ... && chmod 0400` with the Secret volume and the memory emptyDir.
    init = cluster.pod("StatefulSet", "cart-mongodb", 0).container("keyfile")
    result = init.run(timeout=30)
    assert result.returncode == 0, result.stderr
    keyfile = init.path("/keyfile") / "keyfile"
    assert keyfile.read_text() == cluster.secrets.get("cart-mongodb-secret", "replica-set-key")
    assert keyfile.stat().st_mode & 0o777 == 0o400


def _entrypoint_stub(container) -> None:
    stub = container.bin_dir / "docker-entrypoint.sh"
    stub.write_text(
        "#!/bin/sh\n# stand-in for the mongo image's entrypoint: records what it was given\n"
        f'printf "%s\\n" "$@" > {container.dir}/entrypoint.args\n'
        f"env | grep ^MONGO_INITDB_ | cut -d= -f1 | sort > {container.dir}/entrypoint.env\n"
    )
    stub.chmod(0o755)


@pytest.mark.parametrize(("ordinal", "bootstraps_users"), [(0, True), (1, False)])
def test_mongodb_start_script_lets_only_pod_zero_bootstrap_the_users(cluster, ordinal, bootstraps_users):
    mongod = cluster.pod("StatefulSet", "cart-mongodb", ordinal).container("mongodb")
    _entrypoint_stub(mongod)
    result = mongod.run(timeout=30)
    assert result.returncode == 0, result.stderr
    args = (mongod.dir / "entrypoint.args").read_text().split()
    keyfile = str(mongod.path("/keyfile/keyfile"))  # the pod's /keyfile mount here
    assert args == ["mongod", "--replSet", "cart-rs", "--bind_ip_all", "--keyFile", keyfile], args
    root_vars = {"MONGO_INITDB_ROOT_USERNAME", "MONGO_INITDB_ROOT_PASSWORD"}
    seen = set((mongod.dir / "entrypoint.env").read_text().split())
    assert (root_vars <= seen) is bootstraps_users, seen


def test_replica_set_sidecar_on_other_pods_only_sleeps(cluster):
    sidecar = cluster.pod("StatefulSet", "cart-mongodb", 1).container("replica-set")
    server = sidecar.start()
    try:
        time.sleep(1)
        assert server.running(), server.log_tail()
        cmdline = Path(f"/proc/{server.pid}/cmdline").read_bytes().split(b"\0")
        assert cmdline[:2] == [b"sleep", b"infinity"], cmdline
    finally:
        cluster.supervisor.stop(server)


def test_with_tls_required_mongod_starts_with_require_tls_and_key_and_certificate_in_one_private_file(tls_cluster):
    mongod = tls_cluster.pod("StatefulSet", "cart-mongodb", 0).container("mongodb")
    _entrypoint_stub(mongod)
    result = mongod.run(timeout=30)
    assert result.returncode == 0, result.stderr
    args = (mongod.dir / "entrypoint.args").read_text().splitlines()
    pem, ca = mongod.path("/tls-store/server.pem"), mongod.path("/tls/ca.crt")
    assert args[6:] == [
        "--tlsMode",
        "requireTLS",
        "--tlsCertificateKeyFile",
        str(pem),
        "--tlsCAFile",
        str(ca),
        "--tlsAllowConnectionsWithoutCertificates",
        "--setParameter",
        'logComponentVerbosity={"command":{"verbosity":1}}',
    ], args
    secret = tls_cluster.secrets
    assert pem.read_text() == secret.get("cart-mongodb-tls", "tls.key") + secret.get("cart-mongodb-tls", "tls.crt")
    assert pem.stat().st_mode & 0o777 == 0o600


def test_with_tls_the_replica_set_script_connects_over_tls_with_the_ca(tls_cluster):
    sidecar = tls_cluster.pod("StatefulSet", "cart-mongodb", 0).container("replica-set")
    calls = _mongosh(sidecar, "/scripts/mongodb-replica-set.js", {"status": {"ok": 0, "code": 94}})
    connect = next(c for c in calls if c["call"] == "connect")["args"][0]
    assert connect.endswith(f"/admin?directConnection=true&tls=true&tlsCAFile={sidecar.path('/tls/ca.crt')}")
    assert sorted(p.name for p in sidecar.path("/tls").iterdir()) == ["ca.crt"]


def test_with_tls_the_mongodb_backup_runs_mongodump_over_tls_with_only_the_ca(tls_cluster):
    job = tls_cluster.pod("CronJob", "cart-mongodb-backup").container("backup")
    stub = job.bin_dir / "mongodump"
    stub.write_text(
        f'#!/bin/sh\nprintf "%s\\n" "$@" > {job.dir}/mongodump.args\n'
        'for a in "$@"; do case "$a" in --archive=*) echo archive > "${a#--archive=}";; esac; done\n'
    )
    stub.chmod(0o755)
    result = job.run(timeout=30)
    assert result.returncode == 0, result.stderr
    args = (job.dir / "mongodump.args").read_text().splitlines()
    assert args[2:4] == ["--ssl", f"--sslCAFile={job.path('/tls/ca.crt')}"], args
    assert sorted(p.name for p in job.path("/tls").iterdir()) == ["ca.crt"]
