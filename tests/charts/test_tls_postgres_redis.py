"""charts/nexus-database: what `tls.mode` and `audit.level` render for the five PostgreSQL databases and Redis (real
helm over values-prod.yaml, metrics and backups on, each mode given explicitly). Disabled renders none of it;
enabled offers TLS beside plaintext (PostgreSQL on 5432 itself, Redis on a port of its own, 6380); required refuses
plaintext from the network (PostgreSQL: an hba file the chart writes; Redis: `port 0`, TLS on 6379). Certificates
come from the Secret `<component>-tls`; backups and exporters mount its ca.crt only. Both servers run for real in
tests/dataplane/test_tls_postgres_redis.py."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import pytest

from tests.charts.test_nexus_database_chart import CHART, CHART_DIR, NAMESPACE, env_of, pod_spec
from tooling.helm import one, render

pytestmark = pytest.mark.render

DATABASES = ["product", "payment", "order", "loyalty", "shipping"]
MODES = ["disabled", "enabled", "required"]


@functools.cache
def _rendered(mode: str, audit: str) -> tuple[Mapping[str, Any], ...]:
    values = {
        "tls": {"mode": mode},
        "audit": {"level": audit},
        "metrics": {"enabled": True},
        "backup": {"enabled": True},
    }
    return tuple(render(CHART, values, values_files=[CHART_DIR / "values-prod.yaml"], namespace=NAMESPACE))


def rendered(mode: str = "disabled", audit: str = "disabled") -> list[Mapping[str, Any]]:
    return list(_rendered(mode, audit))


def containers(objects, kind: str, name: str) -> dict[str, Mapping[str, Any]]:
    pod = pod_spec(one(objects, kind, name))
    return {c["name"]: c for c in [*pod.get("initContainers", []), *pod["containers"]]}


def volumes(objects, kind: str, name: str) -> dict[str, Mapping[str, Any]]:
    return {v["name"]: v for v in pod_spec(one(objects, kind, name))["volumes"]}


def mounts(c: Mapping[str, Any]) -> dict[str, str]:
    return {m["name"]: m["mountPath"] for m in c.get("volumeMounts", [])}


def service_ports(objects, name: str) -> dict[str, int]:
    return {p["name"]: p["port"] for p in one(objects, "Service", name)["spec"]["ports"]}


def settings(postgres: Mapping[str, Any]) -> dict[str, str]:
    args = postgres.get("args") or []
    assert not args or args[0] == "postgres", "the image's entrypoint runs its setup only for `postgres ...`"
    return dict(arg.removeprefix("--").split("=", 1) for arg in args[1:])


# --- PostgreSQL ---------------------------------------------------------------------------------------------------


def test_with_tls_and_audit_disabled_postgres_runs_the_images_default_command_and_mounts_no_certificate():
    objects = rendered()
    for key in DATABASES:
        pod = containers(objects, "StatefulSet", f"{key}-postgres")
        assert "args" not in pod["postgres"] and "tls" not in mounts(pod["postgres"])
        assert not {"hba", "tls-reload"} & set(pod)
        assert "tls" not in volumes(objects, "StatefulSet", f"{key}-postgres")


@pytest.mark.parametrize("mode", ["enabled", "required"])
def test_with_tls_on_every_postgres_serves_the_certificate_of_its_own_secret(mode):
    objects = rendered(mode)
    for key in DATABASES:
        component = f"{key}-postgres"
        postgres = containers(objects, "StatefulSet", component)["postgres"]
        assert {
            "ssl": "on",
            "ssl_cert_file": "/tls/tls.crt",
            "ssl_key_file": "/tls/tls.key",
            "ssl_ca_file": "/tls/ca.crt",
            "hba_file": "/etc/postgresql/pg_hba.conf",
        }.items() <= settings(postgres).items()
        # Root-owned, group-readable (fsGroup) files: PostgreSQL accepts a key file owned by root with 0640 or less.
        assert volumes(objects, "StatefulSet", component)["tls"]["secret"] == {
            "secretName": f"{component}-tls",
            "defaultMode": 0o440,
        }
        assert mounts(postgres)["tls"] == "/tls" and mounts(postgres)["hba"] == "/etc/postgresql"


@pytest.mark.parametrize("mode", ["enabled", "required"])
def test_the_hba_init_container_writes_the_hba_file_for_the_mode_at_every_start(mode):
    objects = rendered(mode)
    pod = containers(objects, "StatefulSet", "order-postgres")
    hba = pod["hba"]
    assert hba["command"] == ["bash", "/scripts/postgres-hba.sh"]
    assert env_of(hba) == {"TLS_MODE": mode, "HBA_FILE": "/etc/postgresql/pg_hba.conf"}
    assert volumes(objects, "StatefulSet", "order-postgres")["hba"]["emptyDir"]["medium"] == "Memory"
    # It runs before the standby's clone (every pod, the primary included).
    assert next(iter(pod)) == "hba"


def test_with_tls_on_the_standby_clones_and_streams_with_verify_full_against_the_ca():
    for mode in ("enabled", "required"):
        clone = containers(rendered(mode), "StatefulSet", "product-postgres")["standby-bootstrap"]
        env = env_of(clone)
        assert env["PGSSLMODE"] == "verify-full" and env["PGSSLROOTCERT"] == "/tls/ca.crt"
        assert env["PRIMARY_HOST"] == f"product-postgres-0.product-postgres-headless.{NAMESPACE}.svc.cluster.local"
    assert "PGSSLMODE" not in env_of(containers(rendered(), "StatefulSet", "product-postgres")["standby-bootstrap"])


def test_with_tls_on_a_sidecar_reloads_postgres_when_the_certificate_is_renewed():
    objects = rendered("enabled")
    reload = containers(objects, "StatefulSet", "payment-postgres")["tls-reload"]
    assert reload["command"] == ["bash", "/scripts/postgres-tls-reload.sh"]
    assert {"run": "/var/run/postgresql", "tls": "/tls"}.items() <= mounts(reload).items()


def test_the_postgres_exporter_uses_tls_with_the_ca_only_when_plaintext_is_refused():
    def exporter(mode: str) -> Mapping[str, Any]:
        return containers(rendered(mode), "StatefulSet", "product-postgres")["metrics"]

    assert env_of(exporter("enabled"))["DATA_SOURCE_URI"].endswith("sslmode=disable")
    required = exporter("required")
    assert env_of(required)["DATA_SOURCE_URI"] == "127.0.0.1:5432/postgres?sslmode=verify-full&sslrootcert=/tls/ca.crt"
    assert mounts(required) == {"tls-ca": "/tls"}
    tls_ca = volumes(rendered("required"), "StatefulSet", "product-postgres")["tls-ca"]["secret"]
    assert tls_ca["items"] == [{"key": "ca.crt", "path": "ca.crt"}]


def test_postgres_keeps_one_port_5432_in_every_mode():
    for mode in MODES:
        objects = rendered(mode)
        assert service_ports(objects, "product-postgres-service") == {"postgres": 5432}
        assert service_ports(objects, "product-postgres-read") == {"postgres": 5432}


@pytest.mark.parametrize(("audit", "statements"), [("basic", "ddl"), ("comprehensive", "all")])
def test_postgres_audit_logs_connections_and_statements_as_key_value_lines(audit, statements):
    postgres = containers(rendered(audit=audit), "StatefulSet", "shipping-postgres")["postgres"]
    assert settings(postgres) == {
        "log_connections": "on",
        "log_disconnections": "on",
        "log_statement": statements,
        "log_line_prefix": "time=%n pid=%p user=%u db=%d client=%h ",
    }


# --- Redis --------------------------------------------------------------------------------------------------------


def test_with_tls_disabled_redis_has_one_plaintext_port_and_no_certificate():
    objects = rendered()
    redis = containers(objects, "StatefulSet", "redis")["redis"]
    assert "TLS_MODE" not in env_of(redis) and "tls" not in mounts(redis)
    assert service_ports(objects, "redis-service") == {"redis": 6379}


def test_with_tls_enabled_redis_adds_a_redis_tls_port_6380_beside_plaintext_6379():
    objects = rendered("enabled")
    redis = containers(objects, "StatefulSet", "redis")["redis"]
    assert env_of(redis)["TLS_MODE"] == "enabled"
    assert {p["name"]: p["containerPort"] for p in redis["ports"]} == {"redis": 6379, "redis-tls": 6380}
    assert service_ports(objects, "redis-service") == {"redis": 6379, "redis-tls": 6380}
    assert {"redis": 6379, "redis-tls": 6380}.items() <= service_ports(objects, "redis-headless").items()
    assert "--tls" not in redis["readinessProbe"]["exec"]["command"][-1]


def test_with_tls_required_redis_keeps_port_6379_which_is_tls_and_probes_it_with_tls():
    objects = rendered("required")
    redis = containers(objects, "StatefulSet", "redis")["redis"]
    assert env_of(redis)["TLS_MODE"] == "required"
    assert service_ports(objects, "redis-service") == {"redis": 6379}
    assert "redis-tls" not in {p["name"] for p in redis["ports"]}
    assert "redis-cli --tls --cacert /tls/ca.crt -h 127.0.0.1 ping" in redis["readinessProbe"]["exec"]["command"][-1]
    assert volumes(objects, "StatefulSet", "redis")["tls"]["secret"] == {
        "secretName": "redis-tls",
        "defaultMode": 0o440,
    }


def test_the_redis_exporter_uses_rediss_with_the_ca_only_when_plaintext_is_refused():
    assert (
        env_of(containers(rendered("enabled"), "StatefulSet", "redis")["metrics"])["REDIS_ADDR"]
        == "redis://127.0.0.1:6379"
    )
    exporter = containers(rendered("required"), "StatefulSet", "redis")["metrics"]
    env = env_of(exporter)
    assert env["REDIS_ADDR"] == "rediss://127.0.0.1:6379" and env["REDIS_EXPORTER_TLS_CA_CERT_FILE"] == "/tls/ca.crt"
    assert mounts(exporter) == {"tls-ca": "/tls"}


def test_the_redis_network_policy_admits_6380_only_while_plaintext_is_still_offered():
    def ports(mode: str) -> set[int]:
        policy = one(rendered(mode), "NetworkPolicy", "redis")
        return {p["port"] for rule in policy["spec"]["ingress"] for p in rule.get("ports", [])}

    assert 6380 in ports("enabled")
    assert 6380 not in ports("required") and 6380 not in ports("disabled")


def test_redis_audit_is_an_env_setting_of_the_start_script():
    for audit in ("basic", "comprehensive"):
        assert env_of(containers(rendered(audit=audit), "StatefulSet", "redis")["redis"])["AUDIT_LEVEL"] == audit
    assert "AUDIT_LEVEL" not in env_of(containers(rendered(), "StatefulSet", "redis")["redis"])


# --- Backups ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "redis_port"), [("enabled", "6380"), ("required", "6379")])
def test_postgres_and_redis_backups_mount_only_the_servers_ca_and_say_where_tls_is(mode, redis_port):
    objects = rendered(mode)
    for component in [*(f"{key}-postgres" for key in DATABASES), "redis"]:
        backup = containers(objects, "CronJob", f"{component}-backup")["backup"]
        assert env_of(backup)["TLS_CA_FILE"] == "/tls/ca.crt"
        assert mounts(backup)["tls-ca"] == "/tls" and "tls" not in mounts(backup)
        assert volumes(objects, "CronJob", f"{component}-backup")["tls-ca"]["secret"] == {
            "secretName": f"{component}-tls",
            "items": [{"key": "ca.crt", "path": "ca.crt"}],
            "defaultMode": 0o444,
        }
    assert env_of(containers(objects, "CronJob", "redis-backup")["backup"])["REDIS_PORT"] == redis_port


def test_with_tls_disabled_backups_get_no_tls_settings():
    objects = rendered()
    for component in ("product-postgres", "redis"):
        backup = containers(objects, "CronJob", f"{component}-backup")["backup"]
        assert not {"TLS_CA_FILE", "REDIS_PORT"} & set(env_of(backup)) and "tls-ca" not in mounts(backup)
